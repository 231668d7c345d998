package sip

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// InboundCall is a call we received: a server INVITE dialog, unanswered
// until Answer. Its methods are safe for concurrent use, never block on the
// network (responses are written, BYEs run in the background) and may be
// called from inside the DialogHandler.
type InboundCall struct {
	c *call
}

// onInvite handles an out-of-dialog INVITE: admission (draining and
// rate-limit 503, digest 401/403, decision 20), 100 Trying, then the checks
// that need no application (Accept 406, session timer 422, SDP 400/488),
// then OnInvite.
func (a *Agent) onInvite(req *sip.Request, tx *sip.ServerTx) {
	authUser, ok := a.admitInvite(req, tx)
	if !ok {
		return
	}
	_ = a.respond(tx, req, 100, "Trying", nil, "")
	if a.cfg.OnInvite == nil {
		_ = a.respond(tx, req, 503, "Service Unavailable", nil, sip.GenerateTagN(10))
		return
	}
	if !acceptsSDP(req) {
		_ = a.respond(tx, req, 406, "Not Acceptable", nil, "",
			sip.NewHeader("Warning", `399 `+a.cfg.PublicHost+` "only application/sdp is supported"`))
		return
	}
	st, rej := negotiateSE(req, sessionTimer{}, a.cfg.SessionExpires)
	if rej != nil {
		_ = a.respond(tx, req, rej.code, rej.reason, nil, "", rej.hdrs...)
		return
	}
	pol := newSRTPPolicy(a.cfg.SRTP, req.Transport())
	var offer *sessionDesc
	if body, _ := sdpBody(req); len(body) > 0 {
		off, err := parseSDP(body)
		if err != nil {
			a.log.Debug("sip: bad sdp offer", keyCallID, callIDOf(req), keyErr, err)
			_ = a.respond(tx, req, 400, "Bad Request (malformed SDP)", nil, "")
			return
		}
		if err := checkOffer(off, LocalMedia{Addr: netip.IPv4Unspecified(), Port: 9}, pol); err != nil {
			warn := "no common audio codec"
			if errors.Is(err, ErrNoSRTP) {
				warn = "no acceptable srtp (keys only over tls)"
			}
			_ = a.respond(tx, req, 488, "Not Acceptable Here", nil, "",
				sip.NewHeader("Warning", `304 `+a.cfg.PublicHost+` "`+warn+`"`))
			return
		}
		offer = off
	} else if pol.require && !pol.allow {
		// SRTP is required and keys cannot go over this transport: our
		// offer in the 200 could only be refused.
		_ = a.respond(tx, req, 488, "Not Acceptable Here", nil, "",
			sip.NewHeader("Warning", `304 `+a.cfg.PublicHost+` "srtp required: call over tls"`))
		return
	}
	c := a.newInboundCall(req, tx, offer, st)
	c.srtp, c.authUser = pol, authUser
	if !a.addDialog(c) {
		_ = a.respond(tx, req, 503, "Service Unavailable", nil, c.localTag)
		return
	}
	if !tx.OnCancel(func(*sip.Request) { a.goFunc(c.canceled) }) {
		a.removeDialog(c) // CANCEL came first: sipgo answered 200 and 487
		return
	}
	c.log.Info("sip: incoming call", "from", req.From().Address.String(), "to", req.To().Address.String(),
		keyRemoteAddr, req.Source(), "transport", req.Transport())
	ic := &InboundCall{c: c}
	c.ev.push(func() {
		ok := false
		defer func() {
			if !ok { // OnInvite panicked (the serializer logs it): answer anyway
				_ = ic.Reject(500, "")
			}
		}()
		h := a.cfg.OnInvite(ic)
		ok = true
		c.mu.Lock()
		c.handler = h
		pending := h == nil && c.state == csEarly
		c.mu.Unlock()
		if pending {
			c.log.Warn("sip: OnInvite returned nil without rejecting; rejecting with 480")
			_ = ic.Reject(480, "")
		}
	})
	c.ev.run()
}

func (a *Agent) newInboundCall(req *sip.Request, tx *sip.ServerTx, offer *sessionDesc, st sessionTimer) *call {
	c := a.newCall(kindInbound, callIDOf(req), sip.GenerateTagN(16))
	c.inv, c.invTx, c.offer, c.st = req, tx, offer, st
	c.remoteTag = tagOf(req.From().Params)
	to, from := req.To(), req.From()
	c.localHdr = sip.FromHeader{DisplayName: to.DisplayName, Address: *to.Address.Clone(), Params: without(to.Params, "tag")}
	c.remoteHdr = sip.ToHeader{DisplayName: from.DisplayName, Address: *from.Address.Clone(), Params: without(from.Params, "tag")}
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	} else {
		c.remoteTarget = *from.Address.Clone() // RFC 2543 peers may omit Contact
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, *rr.Address.Clone())
		}
	}
	c.remoteCSeq = req.CSeq().SeqNo
	c.localCSeq = rand.Uint32N(10000) + 1
	c.transport = req.Transport()
	c.sips = c.transport == "TLS" && strings.EqualFold(req.Recipient.Scheme, "sips")
	if (c.transport == "TCP" || c.transport == "TLS") && len(c.routeSet) == 0 {
		// Reuse the caller's connection while it lasts (the Contact of a
		// phone behind NAT is unreachable over TCP).
		c.dest = req.Source()
	}
	return c
}

func without(p sip.HeaderParams, key string) sip.HeaderParams {
	out := p.Clone()
	out.Remove(key)
	return out
}

// canceled runs after sipgo answered a CANCEL (200) and the INVITE (487).
func (c *call) canceled() {
	c.a.absorbAck(c.invTx)
	c.end(EndReason{Cause: EndCancel}, true)
}

// CallID returns the Call-ID of the call.
func (ic *InboundCall) CallID() string { return ic.c.callID }

// From returns the caller (the INVITE's From).
func (ic *InboundCall) From() Address {
	f := ic.c.inv.From()
	return addressOf(f.DisplayName, f.Address)
}

// To returns the callee as the caller addressed it (the INVITE's To).
func (ic *InboundCall) To() Address {
	t := ic.c.inv.To()
	return addressOf(t.DisplayName, t.Address)
}

// RequestURI returns the INVITE's Request-URI.
func (ic *InboundCall) RequestURI() string { return ic.c.inv.Recipient.String() }

// Source returns the address the INVITE came from; the zero value if it
// cannot be parsed.
func (ic *InboundCall) Source() netip.AddrPort {
	ap, err := netip.ParseAddrPort(ic.c.inv.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// AuthUser returns the digest user name that authenticated the INVITE
// (Config.InboundAuth), or "" when it was not challenged (no InboundAuth,
// or a trusted proxy).
func (ic *InboundCall) AuthUser() string { return ic.c.authUser }

// Transport returns the transport the INVITE came over: "UDP", "TCP" or
// "TLS".
func (ic *InboundCall) Transport() string { return ic.c.transport }

// Header returns the value of the INVITE's first header called name (case
// insensitive), or "".
func (ic *InboundCall) Header(name string) string {
	if h := ic.c.inv.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Negotiate sets our media and, when the INVITE carried an offer, computes
// the answer (decision 6) and returns the remote media, with Media.SRTP
// when the accepted stream is SRTP (Config.SRTP, the call over TLS). It
// returns ErrNoCommonCodec when local.Codecs and the offer share no codec
// (Reject with 488 then). For an INVITE without SDP it returns the zero Media: our
// offer goes in the 200 and the answer arrives in the ACK, reported by
// OnMedia. It may be called again until Answer; ErrInvalidState after.
func (ic *InboundCall) Negotiate(local LocalMedia) (Media, error) {
	c := ic.c
	if err := checkLocal(&local, c.a); err != nil {
		return Media{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.earlyLocked(); err != nil {
		return Media{}, err
	}
	local.Codecs = slices.Clone(local.Codecs)
	if !c.haveLocal {
		id := rand.Uint64N(1 << 62)
		c.lsdp = localSDP{id: id, version: id}
	}
	c.lsdp.addr = local.Addr
	c.local, c.haveLocal = local, true
	if c.offer == nil {
		return Media{}, nil
	}
	rest, remote, err := answerOffer(c.offer, local, &c.srtp)
	if err != nil {
		c.answered = false
		return Media{}, fmt.Errorf("sip: negotiate: %w", err)
	}
	c.answerRest = rest
	c.remote, c.answered = remote, true
	return remote, nil
}

// checkLocal fills a missing advertised address from Config.PublicHost.
func checkLocal(l *LocalMedia, a *Agent) error {
	if l.Port <= 0 || l.Port > 65535 {
		return fmt.Errorf("sip: LocalMedia.Port %d: %w", l.Port, ErrInvalidState)
	}
	if !l.Addr.IsValid() {
		addr, err := netip.ParseAddr(a.cfg.PublicHost)
		if err != nil {
			return fmt.Errorf("sip: LocalMedia.Addr missing and PublicHost is not an IP: %w", ErrInvalidState)
		}
		l.Addr = addr
	}
	return nil
}

// earlyLocked returns ErrCallEnded or ErrInvalidState unless the call is
// unanswered.
func (c *call) earlyLocked() error {
	switch c.state {
	case csEnded:
		return ErrCallEnded
	case csEarly:
		return nil
	}
	return ErrInvalidState
}

// Progress sends a provisional response, 101 to 199: 180 Ringing, or 183
// Session Progress with our answer when withSDP (early media; it needs a
// successful Negotiate of an offer, else ErrInvalidState).
func (ic *InboundCall) Progress(code int, withSDP bool) error {
	c := ic.c
	if code < 101 || code > 199 {
		return fmt.Errorf("sip: progress %d: %w", code, ErrInvalidState)
	}
	c.mu.Lock()
	if err := c.earlyLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	var body []byte
	if withSDP {
		if !c.answered {
			c.mu.Unlock()
			return fmt.Errorf("sip: progress with sdp before a negotiated offer: %w", ErrInvalidState)
		}
		body = c.lsdp.render(c.answerRest)
	}
	hdrs := []sip.Header{c.a.contact(c.inv.Recipient.User, c.transport, c.sips)}
	inv, tx := c.inv, c.invTx
	c.mu.Unlock()
	return c.a.respond(tx, inv, code, reasonPhrase(code), body, c.localTag, hdrs...)
}

// Answer sends 200 OK with our answer (or, for an INVITE without SDP, our
// offer), Session-Expires when a session timer was negotiated, and starts
// retransmitting it until the ACK; without an ACK within 64*T1 it sends BYE
// and reports OnEnd(EndAckTimeout). It needs Negotiate first
// (ErrInvalidState), returns ErrCallEnded if the call was canceled, and an
// error wrapping ErrTransport if the 200 could not be sent.
func (ic *InboundCall) Answer() error {
	c := ic.c
	c.mu.Lock()
	if err := c.earlyLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	if !c.haveLocal || (c.offer != nil && !c.answered) {
		c.mu.Unlock()
		return fmt.Errorf("sip: answer before a successful Negotiate: %w", ErrInvalidState)
	}
	rest, offerIn2xx := c.answerRest, c.offer == nil
	if offerIn2xx {
		rest = buildOffer(c.local, c.srtp)
	}
	body := c.lsdp.render(rest)
	hdrs := c.dialogHeadersLocked(c.inv.Recipient.User)
	hdrs = append(hdrs, c.st.responseHeaders()...)
	res := c.a.newResponse(c.inv, 200, "OK", body, c.localTag, hdrs...)
	p := c.newPendingLocked(res, c.invTx, c.inv.CSeq().SeqNo, offerIn2xx)
	c.state = csAnswered
	tx := c.invTx
	c.mu.Unlock()
	if err := c.a.sendResponse(tx, res); err != nil {
		if c.ended() {
			return ErrCallEnded
		}
		c.end(EndReason{Cause: EndTransport, Err: err}, false)
		return err
	}
	c.startPending(p)
	c.log.Info("sip: call answered")
	return nil
}

// dialogHeadersLocked are the headers of a 2xx that establishes or
// refreshes a dialog.
func (c *call) dialogHeadersLocked(user string) []sip.Header {
	return []sip.Header{
		c.a.contact(user, c.transport, c.sips),
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Supported", supportedTags),
	}
}

// Reject sends a final non-2xx response (300 to 699; reason "" picks the
// standard phrase) and ends the call without OnEnd. A 503 carries
// Retry-After (Config.RetryAfter). ErrInvalidState after
// Answer, ErrCallEnded after the end of the call.
func (ic *InboundCall) Reject(code int, reason string) error {
	c := ic.c
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: reject %d: %w", code, ErrInvalidState)
	}
	if reason == "" {
		reason = reasonPhrase(code)
	}
	c.mu.Lock()
	if err := c.earlyLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	inv, tx := c.inv, c.invTx
	c.mu.Unlock()
	if !c.end(EndReason{}, false) {
		return ErrCallEnded
	}
	return c.a.respond(tx, inv, code, reason, nil, c.localTag)
}

// Hangup ends the call without OnEnd: before Answer it rejects with 480;
// after Answer it sends BYE in the background, once the ACK has arrived
// (RFC 3261 §15) or the ACK wait expired. ErrCallEnded if the call already
// ended.
func (ic *InboundCall) Hangup() error {
	c := ic.c
	c.mu.Lock()
	switch c.state {
	case csEnded:
		c.mu.Unlock()
		return ErrCallEnded
	case csEarly:
		c.mu.Unlock()
		return ic.Reject(480, "")
	case csAnswered:
		c.state, c.byUs, c.byeOnAck = csEnded, true, true
		c.st.stop()
		c.mu.Unlock()
		c.log.Info("sip: call ended by us before its ACK; BYE follows the ACK")
		return nil
	}
	c.mu.Unlock()
	return c.hangupConfirmed()
}

// hangupConfirmed ends a confirmed dialog with BYE.
func (c *call) hangupConfirmed() error {
	if !c.end(EndReason{}, false) {
		return ErrCallEnded
	}
	c.sendBye()
	return nil
}
