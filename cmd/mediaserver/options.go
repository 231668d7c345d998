package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// options are the command's settings, from flags and MEDIASERVER_*
// environment variables.
type options struct {
	sipAddr, apiAddr, apiBaseURL string
	callbackURL, fallbackURL     string
	rtpPorts, dataDir, publicIP  string
	apiToken, apiJWTKey          string
	signingKey, callbackSecret   string
	domain, instanceID           string
	peers                        string
	logLevel, logFormat          string
	maxSessions                  int
	drainTimeout                 time.Duration
	callbackTimeout              time.Duration

	// Security and admission.
	tlsAddr, tlsCert, tlsKey, tlsCA string
	srtp                            string
	allowSources, trustedProxies    string
	inviteRate                      float64
	inviteBurst                     int
	requestRate                     float64
	requestBurst                    int
	authRealm, authUsers            string
	authAlgorithms                  string
	authMaxFailures                 int
	authLockout                     time.Duration
	retryAfter                      time.Duration
	inbandDTMF                      bool
}

// envName is the environment variable of a flag: MEDIASERVER_SIP_ADDR for
// -sip-addr.
func envName(flagName string) string {
	return "MEDIASERVER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseOptions reads the environment, then the command line, which wins.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mediaserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.sipAddr, "sip-addr", "127.0.0.1:5060", "SIP listen address, UDP and TCP (port 0 picks one)")
	fs.StringVar(&o.apiAddr, "api-addr", "127.0.0.1:8080", "REST API listen address (port 0 picks one)")
	fs.StringVar(&o.apiBaseURL, "api-base-url", "", "this instance's REST base URL as applications reach it, sent with every callback (default http://<api-addr>)")
	fs.StringVar(&o.callbackURL, "callback-url", "", "the application's callback base URL (required)")
	fs.StringVar(&o.fallbackURL, "callback-fallback-url", "", "callback base URL used when -callback-url fails (no connection, 5xx, timeout)")
	fs.DurationVar(&o.callbackTimeout, "callback-timeout", 5*time.Second, "time an application has to answer newCall, callEvent and getIvrCommand")
	fs.StringVar(&o.rtpPorts, "rtp-ports", "20000-29999", "RTP port range MIN-MAX")
	fs.StringVar(&o.dataDir, "data-dir", "./data", "directory of prompt files and recordings")
	fs.StringVar(&o.publicIP, "public-ip", "", "IP address advertised in SDP and Contact (default: the SIP listen IP)")
	fs.StringVar(&o.apiToken, "api-token", "", "static bearer token required by the REST API")
	fs.StringVar(&o.apiJWTKey, "api-jwt-key", "", "PEM file of the RSA public key that verifies RS256 JWTs of REST calls")
	fs.StringVar(&o.signingKey, "callback-signing-key", "", "PEM file of the RSA private key that signs callbacks (RS256)")
	fs.StringVar(&o.callbackSecret, "callback-secret", "", "shared secret that signs callbacks (HS256) when no signing key is given")
	fs.StringVar(&o.domain, "domain", "", "tenant domain: the default domain of the REST API, sent with every callback")
	fs.StringVar(&o.instanceID, "instance-id", "", "instance ID prefixing every ID (1-16 lowercase letters and digits; default random)")
	fs.StringVar(&o.peers, "peers", "", "the other instances behind the same SIP load balancer, ID=API-BASE-URL,...: a REST call for their objects gets 421 with their URL (this instance's own entry is ignored)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&o.maxSessions, "max-sessions", 0, "maximum concurrent sessions; beyond it INVITEs get 503 (0: unlimited)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long active calls may go on before they are hung up")
	fs.StringVar(&o.tlsAddr, "sip-tls-addr", "", "SIP over TLS listen address (needs -tls-cert and -tls-key)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM file of the TLS certificate (chain) for SIP over TLS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM file of the TLS private key")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of CA certificates trusted for outbound SIP over TLS (default: the system's)")
	fs.StringVar(&o.srtp, "srtp", "off", "SDES-SRTP for calls over TLS: off, optional or required")
	fs.StringVar(&o.allowSources, "allow-sources", "", "comma-separated CIDRs allowed to send out-of-dialog SIP requests (default: everyone); others are dropped")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of SIP proxies in front (always allowed, exempt from the rate limit and auth)")
	fs.Float64Var(&o.inviteRate, "invite-rate", 0, "new INVITEs per second allowed per source address (0: no limit)")
	fs.IntVar(&o.inviteBurst, "invite-burst", 10, "burst of the per-source INVITE rate limit")
	fs.Float64Var(&o.requestRate, "request-rate", 500, "out-of-dialog requests other than INVITE (OPTIONS, REGISTER, ...) per second allowed per source address; beyond it they are dropped unanswered (0: no limit)")
	fs.IntVar(&o.requestBurst, "request-burst", 1000, "burst of the per-source request rate limit")
	fs.StringVar(&o.authRealm, "auth-realm", "", "digest realm of inbound INVITE authentication (with -auth-users)")
	fs.StringVar(&o.authUsers, "auth-users", "", "file of user:password lines; when set, inbound INVITEs need digest authentication")
	fs.IntVar(&o.authMaxFailures, "auth-max-failures", 10, "wrong passwords one source address may send before it is locked out of inbound INVITEs (-1: no lockout)")
	fs.DurationVar(&o.authLockout, "auth-lockout", 5*time.Minute, "how long a locked-out source stays locked after its last try, and how long failures are remembered")
	fs.StringVar(&o.authAlgorithms, "auth-algorithms", "MD5", "digest algorithms of the inbound challenge, one WWW-Authenticate each in this order (SHA-256, MD5); MD5 alone by default, since phones in the field fail on a SHA-256 challenge even next to an MD5 one; SHA-256,MD5 when every phone supports RFC 8760")
	fs.DurationVar(&o.retryAfter, "retry-after", 5*time.Second, "Retry-After of every 503 (draining, limits)")
	fs.BoolVar(&o.inbandDTMF, "inband-dtmf", false, "detect DTMF tones in the audio of callers without telephone-event")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mediaserver -callback-url URL [flags]\n\nEvery flag can be set as MEDIASERVER_<NAME>, e.g. MEDIASERVER_CALLBACK_URL.\n\n")
		fs.PrintDefaults()
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.check()
}

// check validates what can be checked before binding anything.
func (o options) check() error {
	if o.callbackURL == "" {
		return errors.New("-callback-url is required (or MEDIASERVER_CALLBACK_URL): the application's callback base URL")
	}
	if o.apiToken == "" && o.apiJWTKey == "" && !loopback(o.apiAddr) {
		return fmt.Errorf("refusing to serve the REST API on %s without authentication: set -api-token or -api-jwt-key, or bind -api-addr to a loopback address such as 127.0.0.1:8080", o.apiAddr)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	if o.drainTimeout < 0 {
		return fmt.Errorf("-drain-timeout %v: must not be negative", o.drainTimeout)
	}
	if _, err := o.peerMap(); err != nil {
		return err
	}
	if _, err := o.security(); err != nil {
		return err
	}
	_, _, err := o.ports()
	return err
}

// peerMap parses -peers "a=http://10.0.0.1:8080,b=http://10.0.0.2:8080"
// into instance ID → API base URL; the URLs are checked by the API.
func (o options) peerMap() (map[string]string, error) {
	if strings.TrimSpace(o.peers) == "" {
		return nil, nil
	}
	m := make(map[string]string)
	for item := range strings.SplitSeq(o.peers, ",") {
		id, u, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" || u == "" {
			return nil, fmt.Errorf("-peers %q: want ID=URL,ID=URL, e.g. a=http://10.0.0.1:8080,b=http://10.0.0.2:8080", o.peers)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("-peers: instance %q listed twice", id)
		}
		m[id] = u
	}
	return m, nil
}

// loopback reports whether the host of addr is a loopback address or
// "localhost". An empty host (all interfaces) is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// ports parses -rtp-ports "MIN-MAX".
func (o options) ports() (lo, hi int, err error) {
	if _, err := fmt.Sscanf(o.rtpPorts, "%d-%d", &lo, &hi); err != nil || lo <= 0 || hi < lo {
		return 0, 0, fmt.Errorf("-rtp-ports %q: want MIN-MAX, e.g. 20000-29999", o.rtpPorts)
	}
	return lo, hi, nil
}

// logger builds the slog logger of -log-level and -log-format.
func (o options) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return slog.New(slog.NewTextHandler(w, hopts)), nil
}

// readPEM returns the DER bytes of the first PEM block of file.
func readPEM(file string) (*pem.Block, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	return block, nil
}

// loadPrivateKey reads an RSA private key (PKCS #1 or PKCS #8 PEM).
func loadPrivateKey(file string) (*rsa.PrivateKey, error) {
	block, err := readPEM(file)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not an RSA private key: %w", file, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an RSA private key", file, k)
	}
	return rk, nil
}

// loadPublicKey reads an RSA public key (PKIX or PKCS #1 PEM, or the
// public key of a certificate).
func loadPublicKey(file string) (*rsa.PublicKey, error) {
	block, err := readPEM(file)
	if err != nil {
		return nil, err
	}
	var k any
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		k = c.PublicKey
	case "RSA PUBLIC KEY":
		if k, err = x509.ParsePKCS1PublicKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	default:
		if k, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an RSA public key", file, k)
	}
	return rk, nil
}
