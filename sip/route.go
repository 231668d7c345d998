package sip

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// route is where and how an outbound INVITE goes (decision 13).
type route struct {
	ruri      sip.Uri // Request-URI and To URI
	dest      string  // host:port the request is sent to
	transport string  // "UDP", "TCP" or "TLS"
	trunk     *Trunk  // nil for a direct call
}

// routeTarget routes an InviteRequest.Target:
//
//   - a sip: URI goes to its host (port 5060 by default, transport from its
//     transport parameter), or through the trunk whose Domain equals that
//     host: then it is sent to the trunk's Proxy with the trunk's transport
//     and credentials; a sips: URI likewise, over TLS (port 5061 by
//     default), and ;transport=tls too;
//   - "user@host" is read as a sip: URI;
//   - a tel: URI or a bare number goes through the first trunk as
//     sip:<number>@<Domain>;user=phone. The number keeps a leading '+' when
//     it has one and is otherwise sent as dialled, digits only: visual
//     separators (space - . ( )) are removed, and no country code is
//     guessed;
//   - any other bare user name (letters) goes through the first trunk as
//     sip:<user>@<Domain>.
//
// TLS targets need tlsOK (Config.TLS). Errors wrap ErrNoRoute.
func routeTarget(target string, trunks []Trunk, tlsOK bool) (route, error) {
	rt, err := routeAny(target, trunks)
	if err == nil && rt.transport == "TLS" && !tlsOK {
		return route{}, fmt.Errorf("%w: %q needs TLS, and Config.TLS is not set", ErrNoRoute, target)
	}
	return rt, err
}

func routeAny(target string, trunks []Trunk) (route, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return route{}, fmt.Errorf("%w: empty target", ErrNoRoute)
	}
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		return routeURI(t, trunks)
	case strings.HasPrefix(lower, "tel:"):
		num, _, _ := strings.Cut(t[4:], ";")
		return routeBare(num, trunks)
	case strings.Contains(t, "@"):
		return routeURI("sip:"+t, trunks)
	}
	return routeBare(t, trunks)
}

func routeURI(s string, trunks []Trunk) (route, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" || len(u.Headers) > 0 {
		return route{}, fmt.Errorf("%w: bad uri %q", ErrNoRoute, s)
	}
	secure := strings.EqualFold(u.Scheme, "sips")
	u.Scheme = "sip"
	if secure {
		u.Scheme = "sips"
	}
	for i := range trunks {
		if trunks[i].Domain != "" && strings.EqualFold(trunks[i].Domain, u.Host) {
			rt, err := viaTrunk(u, &trunks[i])
			if err == nil && secure && rt.transport != "TLS" {
				return route{}, fmt.Errorf("%w: sips target through trunk %q, which is not tls", ErrNoRoute, trunks[i].Name)
			}
			return rt, err
		}
	}
	tp := "UDP"
	if secure {
		tp = "TLS"
	}
	if v, ok := u.UriParams.Get("transport"); ok {
		switch strings.ToLower(v) {
		case "udp", "tcp":
			if secure {
				return route{}, fmt.Errorf("%w: sips target with transport %q", ErrNoRoute, v)
			}
			tp = strings.ToUpper(v)
		case "tls":
			tp = "TLS"
		default:
			return route{}, fmt.Errorf("%w: transport %q not supported", ErrNoRoute, v)
		}
	}
	port := u.Port
	if port == 0 {
		port = defaultPort(tp)
	}
	return route{ruri: u, dest: net.JoinHostPort(u.Host, strconv.Itoa(port)), transport: tp}, nil
}

// defaultPort is the SIP port of a transport (RFC 3261 §19.1.2).
func defaultPort(transport string) int {
	if transport == "TLS" {
		return 5061
	}
	return 5060
}

func routeBare(s string, trunks []Trunk) (route, error) {
	if len(trunks) == 0 {
		return route{}, fmt.Errorf("%w: no trunk for %q", ErrNoRoute, s)
	}
	tr := &trunks[0]
	user, phone := cleanNumber(s)
	if !phone && !validUser(user) {
		return route{}, fmt.Errorf("%w: bad user %q", ErrNoRoute, s)
	}
	host := tr.Domain
	if host == "" {
		host, _, _ = splitHostPort(tr.Proxy)
	}
	u := sip.Uri{Scheme: "sip", User: user, Host: host}
	if phone {
		u.UriParams = sip.HeaderParams{{K: "user", V: "phone"}}
	}
	return viaTrunk(u, tr)
}

func viaTrunk(u sip.Uri, tr *Trunk) (route, error) {
	tp := "UDP"
	switch strings.ToLower(tr.Transport) {
	case "tcp":
		tp = "TCP"
	case "tls":
		tp = "TLS"
	}
	dest := tr.Proxy
	if dest == "" {
		port := u.Port
		if port == 0 {
			port = defaultPort(tp)
		}
		dest = net.JoinHostPort(u.Host, strconv.Itoa(port))
	} else if _, _, err := net.SplitHostPort(dest); err != nil {
		dest = net.JoinHostPort(dest, strconv.Itoa(defaultPort(tp)))
	}
	return route{ruri: u, dest: dest, transport: tp, trunk: tr}, nil
}

// cleanNumber strips visual separators and reports whether what is left is
// a phone number: an optional '+' and 1 to 32 digits.
func cleanNumber(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '-', '.', '(', ')':
		default:
			b.WriteByte(c)
		}
	}
	n := b.String()
	digits := strings.TrimPrefix(n, "+")
	if len(digits) == 0 || len(digits) > 32 {
		return s, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return s, false
		}
	}
	return n, true
}

// validUser reports whether s may be a SIP URI user part without escaping
// (RFC 3261 §25.1 unreserved and user-unreserved characters).
func validUser(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// splitHostPort splits host[:port]; the port is 0 when absent.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(s, "[]"), 0, nil
		}
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}
