package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/mediaserver-go/mediaserver/sip"
)

// securityConfig is what the security flags turn into.
type securityConfig struct {
	tls            *tls.Config
	tlsAddr        string
	srtp           sip.SRTPMode
	allowSources   []netip.Prefix
	trustedProxies []netip.Prefix
	rate           sip.RateLimit
	requestRate    sip.RateLimit
	auth           *sip.InboundAuth
}

// security parses and loads the security flags.
func (o options) security() (securityConfig, error) {
	var sc securityConfig
	var err error
	if sc.allowSources, err = prefixes("-allow-sources", o.allowSources); err != nil {
		return sc, err
	}
	if sc.trustedProxies, err = prefixes("-trusted-proxies", o.trustedProxies); err != nil {
		return sc, err
	}
	if o.inviteRate < 0 || o.inviteBurst < 0 {
		return sc, errors.New("-invite-rate and -invite-burst must not be negative")
	}
	if o.inviteRate > 0 {
		sc.rate = sip.RateLimit{Rate: o.inviteRate, Burst: o.inviteBurst}
	}
	if o.requestRate < 0 || o.requestBurst < 0 {
		return sc, errors.New("-request-rate and -request-burst must not be negative")
	}
	sc.requestRate = sip.RateLimit{Rate: -1} // off
	if o.requestRate > 0 {
		sc.requestRate = sip.RateLimit{Rate: o.requestRate, Burst: o.requestBurst}
	}
	switch o.srtp {
	case "", "off":
	case "optional":
		sc.srtp = sip.SRTPOptional
	case "required":
		sc.srtp = sip.SRTPRequired
	default:
		return sc, fmt.Errorf("-srtp %q: want off, optional or required", o.srtp)
	}
	if o.tlsAddr != "" || o.tlsCert != "" || o.tlsKey != "" {
		if o.tlsAddr == "" || o.tlsCert == "" || o.tlsKey == "" {
			return sc, errors.New("SIP over TLS needs -sip-tls-addr, -tls-cert and -tls-key together")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return sc, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		sc.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.tlsCA != "" {
			pem, err := os.ReadFile(o.tlsCA)
			if err != nil {
				return sc, fmt.Errorf("-tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return sc, fmt.Errorf("-tls-ca %s: no PEM certificates", o.tlsCA)
			}
			sc.tls.RootCAs = pool
		}
		sc.tlsAddr = o.tlsAddr
	}
	if sc.srtp != sip.SRTPOff && sc.tls == nil {
		return sc, errors.New("-srtp needs SIP over TLS (-sip-tls-addr, -tls-cert, -tls-key): SDES keys only travel over TLS")
	}
	if o.authUsers != "" {
		users, err := readUsers(o.authUsers)
		if err != nil {
			return sc, fmt.Errorf("-auth-users: %w", err)
		}
		var algs []string
		for a := range strings.SplitSeq(o.authAlgorithms, ",") {
			if strings.TrimSpace(a) == "" {
				continue
			}
			name, ok := sip.DigestAlgorithm(a)
			if !ok {
				return sc, fmt.Errorf("-auth-algorithms: %q is not SHA-256 or MD5", strings.TrimSpace(a))
			}
			algs = append(algs, name)
		}
		if len(algs) == 0 {
			return sc, errors.New("-auth-algorithms: none given")
		}
		if o.authMaxFailures == 0 || o.authMaxFailures < -1 {
			return sc, errors.New("-auth-max-failures: at least 1, or -1 for no lockout")
		}
		if o.authLockout <= 0 {
			return sc, errors.New("-auth-lockout: must be positive")
		}
		sc.auth = &sip.InboundAuth{Realm: o.authRealm, Users: users, Algorithms: algs,
			MaxFailures: o.authMaxFailures, Lockout: o.authLockout}
	}
	return sc, nil
}

// prefixes parses comma-separated CIDRs; a bare address is a /32 or /128.
func prefixes(flag, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%s %q: want CIDRs such as 10.0.0.0/8,192.0.2.7", flag, item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// readUsers reads "user:password" lines ('#' starts a comment).
func readUsers(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	users := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, ":")
		if !ok || u == "" || p == "" {
			return nil, fmt.Errorf("%s:%d: want user:password", file, n)
		}
		users[u] = p
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", file)
	}
	return users, sc.Err()
}
