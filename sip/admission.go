package sip

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Admission (decision 20): who may start anything, how fast, and with
// which credentials. The order for an out-of-dialog INVITE is: source
// allow-list (a silent drop, before sipgo parses the message), draining
// (503), rate limit (503), digest authentication (401/403), then the
// call. TrustedProxies skip the last two.

// agentStats are the counters behind Agent.Stats.
type agentStats struct {
	notAllowed, rateLimited, draining atomic.Uint64
	requestRateLimited                atomic.Uint64
	challenged, authFailed, invalid   atomic.Uint64
	authLocked                        atomic.Uint64
	tlsHandshakeFailed                atomic.Uint64

	floodLogged atomic.Int64 // when (Unix ns) a request-rate drop was last logged
}

// Stats returns the counts of refused requests by reason. It is safe for
// concurrent use and cheap (atomic loads and one lock).
func (a *Agent) Stats() Stats {
	s := Stats{
		NotAllowed:         a.stats.notAllowed.Load(),
		RateLimited:        a.stats.rateLimited.Load(),
		RequestRateLimited: a.stats.requestRateLimited.Load(),
		Draining:           a.stats.draining.Load(),
		Challenged:         a.stats.challenged.Load(),
		AuthFailed:         a.stats.authFailed.Load(),
		AuthLocked:         a.stats.authLocked.Load(),
		Invalid:            a.stats.invalid.Load(),
		TLSHandshakeFailed: a.stats.tlsHandshakeFailed.Load(),
	}
	if a.limiter != nil {
		s.RateLimitSources = a.limiter.size()
	}
	if a.digest != nil {
		s.AuthLockSources = a.digest.lock.size()
	}
	return s
}

func inPrefixes(ps []netip.Prefix, addr netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// trusted reports whether src is one of Config.TrustedProxies.
func (a *Agent) trusted(src netip.Addr) bool { return inPrefixes(a.cfg.TrustedProxies, src) }

// allowedAddr reports whether src may send out-of-dialog requests.
func (a *Agent) allowedAddr(src netip.Addr) bool {
	return len(a.cfg.AllowedSources) == 0 || inPrefixes(a.cfg.AllowedSources, src) || a.trusted(src)
}

// sourceAllowed applies allowedAddr to a parsed request.
func (a *Agent) sourceAllowed(req *sip.Request) bool {
	return len(a.cfg.AllowedSources) == 0 || a.allowedAddr(sourceOf(req))
}

// sourceOf is the IP address a request came from; invalid if unknown.
func sourceOf(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// netAddrIP is the IP address of a UDP or TCP net.Addr; invalid otherwise.
func netAddrIP(addr net.Addr) netip.Addr {
	switch a := addr.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// admitRaw reports whether a raw message from src may go on to sipgo. From
// a source outside AllowedSources only responses, ACKs with a To tag (one
// may acknowledge a final response of ours that made no dialog) and
// requests of one of our dialogs (by Call-ID and To tag) pass; the rest is
// dropped and counted, before it costs a parse or a transaction. From an
// allowed source, out-of-dialog requests other than INVITE, ACK and CANCEL
// take a token of RequestRateLimit, and are dropped without one.
func (a *Agent) admitRaw(msg []byte, src netip.Addr) bool {
	if bytes.HasPrefix(msg, []byte("SIP/")) {
		return true
	}
	allowed := a.allowedAddr(src)
	if allowed && (a.reqLim == nil || a.trusted(src)) {
		return true
	}
	hdr := msg
	if i := bytes.Index(msg, crlfcrlf); i >= 0 {
		hdr = msg[:i]
	}
	var callID, to string
	headerLines(hdr, func(name, value string) {
		switch name {
		case "call-id", "i":
			callID = first(callID, value)
		case "to", "t":
			to = first(to, value)
		}
	})
	tag := rawTag(to)
	ack := bytes.HasPrefix(msg, []byte("ACK "))
	if tag != "" && (ack || callID != "" && a.findDialog(callID, tag) != nil) {
		return true
	}
	if !allowed {
		a.stats.notAllowed.Add(1)
		return false
	}
	if unmetered(msg) {
		return true // INVITEs have InviteRateLimit; ACK and CANCEL belong to one
	}
	return a.takeRequestToken(src)
}

// unmetered reports whether admitRaw lets msg through without a token of
// RequestRateLimit: an INVITE, ACK or CANCEL.
func unmetered(msg []byte) bool {
	return bytes.HasPrefix(msg, []byte("INVITE ")) || bytes.HasPrefix(msg, []byte("ACK ")) || bytes.HasPrefix(msg, []byte("CANCEL "))
}

// takeRequestToken takes a token of RequestRateLimit for src (always true
// when the limit is off or src is a trusted proxy); without one the
// request is counted, and logged at most every 10 s.
func (a *Agent) takeRequestToken(src netip.Addr) bool {
	if a.reqLim == nil || a.trusted(src) {
		return true
	}
	now := a.clk.Now()
	if ok, _ := a.reqLim.allow(src, now); ok {
		return true
	}
	n := a.stats.requestRateLimited.Add(1)
	if last := a.stats.floodLogged.Load(); now.UnixNano()-last >= int64(10*time.Second) && a.stats.floodLogged.CompareAndSwap(last, now.UnixNano()) {
		a.log.Info("sip: dropping requests over the request rate limit", keyRemoteAddr, src.String(), "dropped", n)
	}
	return false
}

// rawTag returns the tag parameter of a raw To value (name-addr or
// addr-spec form).
func rawTag(to string) string {
	if i := strings.LastIndexByte(to, '>'); i >= 0 {
		to = to[i+1:]
	} else if i := strings.IndexByte(to, ';'); i >= 0 {
		to = to[i:]
	} else {
		return ""
	}
	for _, p := range strings.Split(to, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "tag") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// admitInvite applies draining, the rate limit and digest authentication
// to an out-of-dialog INVITE, answering it when refused. It returns the
// authenticated user ("" when not challenged) and whether the call may go
// on.
func (a *Agent) admitInvite(req *sip.Request, tx *sip.ServerTx) (string, bool) {
	if a.draining() {
		a.stats.draining.Add(1)
		a.refuse(tx, req, 503, "Service Unavailable")
		return "", false
	}
	src := sourceOf(req)
	if a.trusted(src) {
		return "", true
	}
	now := a.clk.Now()
	if a.limiter != nil {
		if ok, wait := a.limiter.allow(src, now); !ok {
			a.stats.rateLimited.Add(1)
			a.log.Debug("sip: INVITE over the rate limit", keyCallID, callIDOf(req), keyRemoteAddr, req.Source())
			a.refuse(tx, req, 503, "Service Unavailable (rate limit)", a.retryAfter(wait))
			return "", false
		}
	}
	if a.digest == nil {
		return "", true
	}
	if a.digest.lock.isLocked(src, now) {
		a.stats.authLocked.Add(1)
		a.log.Debug("sip: INVITE from a locked-out source", keyCallID, callIDOf(req), keyRemoteAddr, req.Source())
		a.refuse(tx, req, 403, "Forbidden")
		return "", false
	}
	user, rej := a.digest.check(req, src, now)
	if rej == nil {
		return user, true
	}
	switch rej.code {
	case 401:
		a.stats.challenged.Add(1)
	case 403:
		a.stats.authFailed.Add(1)
		if n, locked := a.digest.lock.fail(src, branchOf(req), now); locked {
			a.log.Warn("sip: source locked out after failed authentications", keyRemoteAddr, req.Source(),
				"user", user, "failures", n, "lockout", a.cfg.InboundAuth.Lockout)
		} else {
			a.log.Debug("sip: INVITE with wrong credentials", keyCallID, callIDOf(req), keyRemoteAddr, req.Source(), "user", user, "failures", n)
		}
	default:
		a.stats.invalid.Add(1)
	}
	a.refuse(tx, req, rej.code, rej.reason, rej.hdrs...)
	return "", false
}

// refuse answers an out-of-dialog INVITE that admission refuses, as a
// stateless UAS (RFC 3261 §8.2.7): the answer is sent once and the
// transaction ends, so it is not retransmitted for 32 s waiting for an
// ACK. A UAC whose answer is lost retransmits its INVITE and is answered
// again. Otherwise every INVITE from a forged source address would make us
// send that address about ten copies of a challenge (a reflection
// amplifier), and a password guesser that never ACKs would hold a
// transaction each.
func (a *Agent) refuse(tx *sip.ServerTx, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	_ = a.respond(tx, req, code, reason, nil, sip.GenerateTagN(10), hdrs...)
	tx.Terminate()
}

// retryAfter is the Retry-After header of a 503: Config.RetryAfter, or
// atLeast when longer, in whole seconds (at least 1).
func (a *Agent) retryAfter(atLeast time.Duration) sip.Header {
	d := max(a.cfg.RetryAfter, atLeast)
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	return sip.NewHeader("Retry-After", strconv.FormatInt(secs, 10))
}

// hasHeader reports whether hdrs has a header called name.
func hasHeader(hdrs []sip.Header, name string) bool {
	for _, h := range hdrs {
		if strings.EqualFold(h.Name(), name) {
			return true
		}
	}
	return false
}
