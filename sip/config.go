package sip

import (
	"errors"
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
		default:
			bad(field+".Transport", "must be udp or tcp")
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
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.PublicHost == "" {
		c.PublicHost = defaultPublicHost(host)
	}
	return c, nil
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
