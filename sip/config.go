package sip

import (
	"crypto/rand"
	"errors"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config fields.
const (
	defaultListenAddr      = "127.0.0.1:5060"
	defaultUserAgent       = "mediaserver"
	defaultNoAnswerTimeout = 60 * time.Second
	defaultSessionExpires  = 1800 * time.Second
	// minSessionExpires is our Min-SE (RFC 4028 §4: at least 90 s).
	minSessionExpires = 90 * time.Second
	defaultRetryAfter = 5 * time.Second
	defaultMaxSources = 10000
	defaultNonceLife  = 5 * time.Minute
	// Inbound digest lockout (InboundAuth.MaxFailures, Lockout).
	defaultMaxAuthFailures = 10
	defaultAuthLockout     = 5 * time.Minute
)

// withDefaults returns a copy of c with defaults filled in, or the
// ConfigErrors of its invalid fields joined.
func (c Config) withDefaults() (Config, error) {
	c.Trunks = slices.Clone(c.Trunks)
	var errs []error
	bad := func(field, reason string) { errs = append(errs, &ConfigError{Field: field, Reason: reason}) }
	if c.ListenAddr == "" {
		c.ListenAddr = defaultListenAddr
	}
	host, _, err := splitHostPort(c.ListenAddr)
	switch {
	case err != nil:
		bad("ListenAddr", err.Error())
	case host == "localhost":
		c.ListenAddr = strings.Replace(c.ListenAddr, "localhost", "127.0.0.1", 1)
	case host != "":
		if _, err := netip.ParseAddr(host); err != nil {
			bad("ListenAddr", "host must be an IP address")
		}
	}
	if c.UserAgent == "" {
		c.UserAgent = defaultUserAgent
	}
	if c.NoAnswerTimeout == 0 {
		c.NoAnswerTimeout = defaultNoAnswerTimeout
	} else if c.NoAnswerTimeout < 0 {
		bad("NoAnswerTimeout", "negative")
	}
	if c.SessionExpires == 0 {
		c.SessionExpires = defaultSessionExpires
	} else if c.SessionExpires < minSessionExpires {
		bad("SessionExpires", "below the RFC 4028 minimum of 90s")
	}
	for i, t := range c.Trunks {
		field := "Trunks[" + strconv.Itoa(i) + "]"
		switch strings.ToLower(t.Transport) {
		case "", "udp", "tcp":
		case "tls":
			if c.TLS == nil {
				bad(field+".Transport", "tls needs Config.TLS")
			}
		default:
			bad(field+".Transport", "must be udp, tcp or tls")
		}
		if t.Proxy == "" && t.Domain == "" {
			bad(field, "needs a Proxy or a Domain")
		}
		if t.Proxy != "" {
			if h, _, err := splitHostPort(t.Proxy); err != nil || h == "" {
				bad(field+".Proxy", "must be host[:port]")
			}
		}
	}
	errs = append(errs, c.securityDefaults()...)
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.PublicHost == "" {
		c.PublicHost = defaultPublicHost(host)
	}
	if c.InboundAuth != nil && c.InboundAuth.Realm == "" {
		c.InboundAuth.Realm = c.PublicHost
	}
	return c, nil
}

// securityDefaults copies and checks the admission, TLS and SRTP fields
// (decisions 20 and 21).
func (c *Config) securityDefaults() []error {
	var errs []error
	bad := func(field, reason string) { errs = append(errs, &ConfigError{Field: field, Reason: reason}) }
	c.AllowedSources = maskPrefixes(c.AllowedSources, "AllowedSources", bad)
	c.TrustedProxies = maskPrefixes(c.TrustedProxies, "TrustedProxies", bad)
	switch {
	case c.RetryAfter == 0:
		c.RetryAfter = defaultRetryAfter
	case c.RetryAfter < 0:
		bad("RetryAfter", "negative")
	}
	for _, l := range []struct {
		name string
		rl   *RateLimit
	}{{"InviteRateLimit", &c.InviteRateLimit}, {"RequestRateLimit", &c.RequestRateLimit}} {
		rl := l.rl
		switch {
		case rl.Rate < 0 || math.IsNaN(rl.Rate) || rl.Rate > 1e6:
			bad(l.name+".Rate", "must be between 0 and 1e6")
		case rl.Burst < 0 || rl.Burst > 1e6:
			bad(l.name+".Burst", "must be between 0 and 1e6")
		case rl.Rate == 0 && rl.Burst > 0:
			bad(l.name+".Burst", "set without a Rate")
		}
		switch {
		case rl.MaxSources == 0:
			rl.MaxSources = defaultMaxSources
		case rl.MaxSources < 0:
			bad(l.name+".MaxSources", "negative")
		}
	}
	if c.InboundAuth != nil {
		ia := *c.InboundAuth
		errs = append(errs, ia.withDefaults()...)
		c.InboundAuth = &ia
	}
	if c.TLS != nil {
		c.TLS = c.TLS.Clone()
	}
	if c.TLSAddr != "" {
		switch host, _, err := splitHostPort(c.TLSAddr); {
		case err != nil:
			bad("TLSAddr", err.Error())
		case host == "localhost":
			c.TLSAddr = strings.Replace(c.TLSAddr, "localhost", "127.0.0.1", 1)
		case host != "":
			if _, err := netip.ParseAddr(host); err != nil {
				bad("TLSAddr", "host must be an IP address")
			}
		}
		if c.TLS == nil {
			bad("TLSAddr", "needs Config.TLS")
		} else if len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
			bad("TLS", "a TLS listener needs Certificates or GetCertificate")
		}
	}
	switch c.SRTP {
	case SRTPOff:
	case SRTPOptional, SRTPRequired:
		if c.TLS == nil {
			bad("SRTP", "SDES keys travel only over TLS: set Config.TLS")
		}
	default:
		bad("SRTP", "unknown mode")
	}
	return errs
}

// maskPrefixes copies prefixes with their host bits cleared; an invalid
// prefix is a ConfigError.
func maskPrefixes(ps []netip.Prefix, field string, bad func(field, reason string)) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			bad(field+"["+strconv.Itoa(i)+"]", "invalid prefix")
			continue
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out
}

// withDefaults copies the tables of an InboundAuth and checks it.
func (ia *InboundAuth) withDefaults() []error {
	var errs []error
	bad := func(field, reason string) {
		errs = append(errs, &ConfigError{Field: "InboundAuth." + field, Reason: reason})
	}
	switch {
	case ia.Lookup == nil && ia.Users == nil:
		bad("Lookup", "set Lookup or Users")
	case ia.Lookup != nil && ia.Users != nil:
		bad("Users", "set Lookup or Users, not both")
	}
	ia.Users = maps.Clone(ia.Users)
	if strings.ContainsAny(ia.Realm, "\"\\\r\n") {
		bad("Realm", "must not contain quotes, backslashes or line breaks")
	}
	if ia.MaxFailures == 0 {
		ia.MaxFailures = defaultMaxAuthFailures
	}
	switch {
	case ia.Lockout == 0:
		ia.Lockout = defaultAuthLockout
	case ia.Lockout < 0:
		bad("Lockout", "negative")
	}
	switch {
	case ia.NonceLifetime == 0:
		ia.NonceLifetime = defaultNonceLife
	case ia.NonceLifetime < time.Second:
		bad("NonceLifetime", "below one second")
	}
	if len(ia.Secret) == 0 {
		ia.Secret = make([]byte, 32)
		_, _ = rand.Read(ia.Secret)
	} else {
		ia.Secret = slices.Clone(ia.Secret)
	}
	if len(ia.Algorithms) == 0 {
		ia.Algorithms = []string{algMD5}
	} else {
		algs := make([]string, 0, len(ia.Algorithms))
		for _, a := range ia.Algorithms {
			switch u, ok := DigestAlgorithm(a); {
			case !ok:
				bad("Algorithms", "unsupported algorithm "+strconv.Quote(a)+" (SHA-256, MD5)")
			case !slices.Contains(algs, u):
				algs = append(algs, u)
			}
		}
		ia.Algorithms = algs
	}
	return errs
}

// defaultPublicHost is the listen IP, or for an unspecified listen address
// the source address of the default route (no packet is sent), or loopback
// when there is no route.
func defaultPublicHost(listenHost string) string {
	if a, err := netip.ParseAddr(listenHost); err == nil && !a.IsUnspecified() {
		return a.String()
	}
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && ua.IP != nil {
		return ua.IP.String()
	}
	return "127.0.0.1"
}
