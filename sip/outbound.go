package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// OutboundCall is a call we placed: a client INVITE dialog. Its methods
// are safe for concurrent use and do not block.
type OutboundCall struct {
	c *call
}

// outState is the INVITE side of an outbound call; guarded by call.mu.
type outState struct {
	h             OutboundHandler
	rt            route
	pai           string
	se            time.Duration // Session-Expires we ask for
	req           *sip.Request  // the INVITE in flight; never changed once sent
	tx            sip.ClientTransaction
	provisional   bool // a provisional response arrived: CANCEL is allowed
	cancelPending bool // CANCEL as soon as a provisional arrives
	canceled      bool // CANCEL sent
	final         bool // final response handled
	answerTag     string
	early2xx      []*sip.Response // 2xx copies seen before the answer was handled
	redirected    bool
	retried422    bool
	noAnswer      stopper
	giveUp        stopper
}

// stopTimers stops what must not outlive the call; the give-up timer of a
// CANCEL is armed after the call ended and keeps running.
func (o *outState) stopTimers() {
	if o.noAnswer != nil {
		o.noAnswer.Stop()
	}
}

// Invite places a call to req.Target with our SDP offer (PCMU 0, PCMA 8,
// telephone-event 101, ptime 20, or req.Local's codecs and direction) and a
// Session-Expires of Config.SessionExpires, and returns once the INVITE is
// sent.
//
// Routing (decision 13): a sip: URI goes to its host (port 5060 by default,
// transport from its transport parameter), or through the trunk whose Domain
// equals that host; a sips: URI or ;transport=tls goes over TLS (port 5061
// by default; Config.TLS needed); "user@host" is read as a sip: URI; a tel: URI or a bare
// number goes through the first trunk as sip:<number>@<Domain>;user=phone,
// keeping a leading '+' and otherwise sent as dialled with visual separators
// (space - . ( )) removed and no country code guessed; another bare user name
// goes through the first trunk as sip:<user>@<Domain>. A request larger than
// 1300 bytes goes over TCP.
//
// Over TLS with Config.SRTP set to SRTPRequired the offer is RTP/SAVP with
// our SDES key, and OnAnswer's Media.SRTP carries both keys; with
// SRTPRequired a target not reached over TLS is refused (ErrNoRoute).
//
// Its context bounds only the sending (DNS, TCP or TLS connect). Digest challenges
// are answered with the trunk's credentials; one 3xx is followed; a 2xx from
// another fork is ACKed and BYEd. The call's events go to h: OnProgress for
// each provisional response but 100 Trying (early media from a 180 or 183
// with SDP), then OnAnswer, or OnFail once for a failure before answer (a
// *StatusError, or an error wrapping ErrTimeout or ErrTransport); after
// answer DialogHandler's events, OnEnd last. No event follows our own
// Hangup. It is safe for concurrent use. Invite returns ErrNotReady before Serve is ready, ErrClosed once
// closing, an error wrapping ErrNoRoute for an unroutable target and one
// wrapping ErrTransport when the INVITE cannot be sent (then h is never
// called).
func (a *Agent) Invite(ctx context.Context, req InviteRequest, h OutboundHandler) (*OutboundCall, error) {
	if h == nil {
		return nil, fmt.Errorf("sip: Invite with a nil handler: %w", ErrInvalidState)
	}
	select {
	case <-a.ready:
	default:
		return nil, ErrNotReady
	}
	if !a.accepting() {
		return nil, ErrClosed
	}
	rt, err := routeTarget(req.Target, a.cfg.Trunks, a.cfg.TLS != nil)
	if err != nil {
		return nil, err
	}
	if a.cfg.SRTP == SRTPRequired && rt.transport != "TLS" {
		return nil, fmt.Errorf("%w: SRTP is required and %q is not reached over TLS", ErrNoRoute, req.Target)
	}
	local := req.Local
	if err := checkLocal(&local, a); err != nil {
		return nil, err
	}
	local.Codecs = slices.Clone(local.Codecs)

	c := a.newCall(kindOutbound, sip.GenerateTagN(24), sip.GenerateTagN(16))
	from, pai := a.fromIdentity(req, rt.trunk)
	id := rand.Uint64N(1 << 62)
	c.handler = h
	c.o = &outState{h: h, rt: rt, pai: pai, se: a.cfg.SessionExpires}
	c.transport = rt.transport
	c.sips = rt.ruri.Scheme == "sips"
	c.srtp = newSRTPPolicy(a.cfg.SRTP, rt.transport)
	if rt.trunk != nil {
		c.dest, c.trunk, c.auth = rt.dest, rt.trunk, newAuthCache(rt.trunk)
	}
	c.localHdr = from
	c.remoteHdr = sip.ToHeader{Address: *rt.ruri.Clone()}
	c.remoteTarget = *rt.ruri.Clone()
	c.localCSeq = rand.Uint32N(10000)
	c.local, c.haveLocal = local, true
	c.lsdp = localSDP{id: id, version: id, addr: local.Addr}

	c.mu.Lock()
	inv := c.inviteLocked()
	c.mu.Unlock()
	if !a.addDialog(c) {
		return nil, ErrClosed
	}
	tx, err := c.startInvite(ctx, inv)
	if err != nil {
		a.removeDialog(c)
		return nil, err
	}
	c.mu.Lock()
	c.o.noAnswer = a.afterFunc(a.cfg.NoAnswerTimeout, c.noAnswerTimeout)
	c.mu.Unlock()
	if !a.goFunc(func() { c.runInvite(tx) }) {
		tx.Terminate()
		c.end(EndReason{}, false)
		return nil, ErrClosed
	}
	c.log.Info("sip: outbound call", "to", rt.ruri.String(), keyRemoteAddr, inv.Destination(), "transport", inv.Transport())
	return &OutboundCall{c: c}, nil
}

// fromIdentity builds our From (CallerID, or the trunk's FromUser and
// FromDomain) and the P-Asserted-Identity value of the trunk.
func (a *Agent) fromIdentity(r InviteRequest, t *Trunk) (sip.FromHeader, string) {
	user, host, pai := r.CallerID, a.cfg.PublicHost, ""
	if t != nil {
		if t.FromUser != "" {
			user = t.FromUser
		}
		switch {
		case t.FromDomain != "":
			host = t.FromDomain
		case t.Domain != "":
			host = t.Domain
		}
		if v := strings.TrimSpace(t.PAssertedIdentity); v != "" {
			switch {
			case strings.HasPrefix(v, "<"):
				pai = v
			case strings.HasPrefix(v, "sip:"), strings.HasPrefix(v, "sips:"), strings.HasPrefix(v, "tel:"):
				pai = "<" + v + ">"
			default:
				pai = "<sip:" + v + "@" + host + ">"
			}
		}
	}
	if n, phone := cleanNumber(user); phone {
		user = n
	} else if !validUser(user) {
		user = "mediaserver"
	}
	name := strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return -1
		}
		return r
	}, r.DisplayName)
	return sip.FromHeader{DisplayName: name, Address: sip.Uri{Scheme: "sip", User: user, Host: host}}, pai
}

// inviteLocked builds the next INVITE of the call (the first one, or a
// retry after a challenge, 422 or redirect): new CSeq and branch, our offer,
// session timer and credentials.
func (c *call) inviteLocked() *sip.Request {
	req := c.newRequestLocked(sip.INVITE)
	for _, h := range requestHeaders(c.o.se, false) {
		req.AppendHeader(h)
	}
	if c.o.pai != "" {
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", c.o.pai))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.lsdp.render(buildOffer(c.local, c.srtp)))
	if c.auth != nil {
		c.auth.apply(req)
	}
	return req
}

// startInvite sends an INVITE in a new client transaction.
func (c *call) startInvite(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	c.a.fitTransport(req)
	if !c.a.sendStart() {
		return nil, errGateClosed
	}
	tx, err := c.a.txl.Request(ctx, req)
	c.a.sendDone()
	if err != nil {
		return nil, fmt.Errorf("sip: send INVITE: %w: %w", ErrTransport, err)
	}
	tx.OnRetransmission(c.on2xxLate)
	c.mu.Lock()
	c.o.req, c.o.tx = req, tx
	c.mu.Unlock()
	return tx, nil
}

// runInvite reads the responses of the call's INVITE transactions until a
// final one is handled or the transaction ends.
func (c *call) runInvite(tx sip.ClientTransaction) {
	for {
		select {
		case res := <-tx.Responses():
			next, done := c.onInviteResponse(res)
			if done {
				return
			}
			if next != nil {
				tx = next
			}
		case <-tx.Done():
			c.inviteFailed(c.a.txError(sip.INVITE, tx.Err()))
			return
		}
	}
}

func (c *call) onInviteResponse(res *sip.Response) (sip.ClientTransaction, bool) {
	c.log.Debug("sip: INVITE response", keyStatus, res.StatusCode, keyRemoteAddr, res.Source())
	switch {
	case res.IsProvisional():
		c.onProvisional(res)
		return nil, false
	case res.IsSuccess():
		c.onAnswer(res)
		return nil, true
	}
	c.mu.Lock()
	o := c.o
	retry := c.state != csEnded && c.prepareRetryLocked(res)
	var next *sip.Request
	if retry {
		next = c.inviteLocked()
	} else {
		o.final = true
		if o.giveUp != nil {
			o.giveUp.Stop()
		}
	}
	hung := c.state == csEnded
	c.mu.Unlock()
	if retry {
		c.log.Debug("sip: retrying INVITE", keyStatus, res.StatusCode)
		tx, err := c.startInvite(c.a.ctx, next)
		if err != nil {
			c.inviteFailed(err)
			return nil, true
		}
		return tx, false
	}
	if !hung {
		c.fail(&StatusError{Code: res.StatusCode, Reason: res.Reason})
	}
	return nil, true
}

// prepareRetryLocked decides whether a final non-2xx is retried: a digest
// challenge we can answer, a 422 (once, with its Min-SE), or the first 3xx
// (to its first Contact).
func (c *call) prepareRetryLocked(res *sip.Response) bool {
	o := c.o
	switch code := res.StatusCode; {
	case code == 401 || code == 407:
		return c.auth != nil && c.auth.update(res)
	case code == 422 && !o.retried422:
		h := res.GetHeader("Min-SE")
		if h == nil {
			return false
		}
		head, _, _ := headerParam(h.Value(), "")
		d, ok := parseDelta(head)
		if !ok || d > time.Hour {
			return false
		}
		o.retried422, o.se = true, max(d, o.se)
		return true
	case code >= 300 && code < 400 && !o.redirected:
		ct := res.Contact()
		if ct == nil {
			return false
		}
		rt, err := routeTarget(ct.Address.String(), c.a.cfg.Trunks, c.a.cfg.TLS != nil)
		if err != nil || (c.a.cfg.SRTP == SRTPRequired && rt.transport != "TLS") {
			return false
		}
		o.redirected, o.rt = true, rt
		c.auth = nil
		if rt.transport != c.transport {
			// Keys go only over TLS: the offer follows the new transport.
			c.srtp = newSRTPPolicy(c.a.cfg.SRTP, rt.transport)
		}
		c.remoteTarget, c.transport = *rt.ruri.Clone(), rt.transport
		c.sips = rt.ruri.Scheme == "sips"
		c.dest, c.trunk = "", rt.trunk
		if rt.trunk != nil {
			c.dest, c.auth = rt.dest, newAuthCache(rt.trunk)
		}
		return true
	}
	return false
}

func (c *call) onProvisional(res *sip.Response) {
	c.mu.Lock()
	o := c.o
	o.provisional = true
	cancel := o.cancelPending && !o.canceled && !o.final
	if cancel {
		o.canceled = true
	}
	hung := c.state == csEnded
	if tag := tagOf(res.To().Params); tag != "" && !hung && res.StatusCode > 100 {
		c.remoteTag = tag // early dialog (RFC 3261 §12.1.2)
	}
	inv, local, pol := o.req, c.local, c.srtp
	c.mu.Unlock()
	if cancel {
		c.sendCancel(inv)
	}
	if hung || res.StatusCode == 100 {
		return // 100 Trying is hop-by-hop: not progress of the call
	}
	var early *Media
	if body, _ := sdpBody(res); len(body) > 0 {
		if m, err := answerFromMessage(res, local, pol); err == nil {
			early = &m
		} else {
			c.log.Debug("sip: unusable early media SDP", keyErr, err)
		}
	}
	code, h := res.StatusCode, o.h
	c.emit(func(DialogHandler) { h.OnProgress(code, early) })
}

// onAnswer handles the 2xx that answers the call: ACK it (to its Contact,
// with its route set, RFC 3261 §13.2.2.4), then OnAnswer; or, when we hung
// up meanwhile (a 200 crossing our CANCEL), ACK and BYE it.
func (c *call) onAnswer(res *sip.Response) {
	c.mu.Lock()
	o := c.o
	o.final = true
	if o.giveUp != nil {
		o.giveUp.Stop()
	}
	o.answerTag = tagOf(res.To().Params)
	c.remoteTag = o.answerTag
	c.setRemoteTargetLocked(res)
	ack := c.buildRequestLocked(sip.ACK, o.req.CSeq().SeqNo)
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		sip.CopyHeaders(name, o.req, ack)
	}
	ack.SetBody(nil)
	c.lastACK = ack
	hung := c.state == csEnded
	late := o.early2xx
	o.early2xx = nil
	local, pol := c.local, c.srtp
	c.mu.Unlock()
	if err := c.a.writeRequest(ack.Clone()); err != nil {
		c.log.Debug("sip: ACK not sent", keyErr, err)
	}
	for _, r := range late {
		c.on2xxLate(r)
	}
	if hung {
		c.log.Info("sip: 2xx after our hangup; ACK and BYE")
		c.sendBye()
		return
	}
	m, err := answerFromMessage(res, local, pol)
	if err != nil {
		c.log.Info("sip: unusable SDP answer in 2xx; BYE", keyErr, err)
		c.sendBye()
		c.fail(fmt.Errorf("sip: answer: %w", err))
		return
	}
	c.mu.Lock()
	c.remote = m
	c.srtp.answered(m)
	c.state = csConfirmed
	c.o.stopTimers()
	c.st = applySEResponse(res, c.st, true)
	c.armSessionTimerLocked()
	h := o.h
	c.mu.Unlock()
	c.log.Info("sip: call answered")
	c.emit(func(DialogHandler) { h.OnAnswer(m) })
}

// setRemoteTargetLocked takes the remote target (Contact) and the route set
// (Record-Route, reversed) from a response that establishes the dialog.
func (c *call) setRemoteTargetLocked(res *sip.Response) {
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	c.routeSet = c.routeSet[:0]
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			c.routeSet = append(c.routeSet, *rr.Address.Clone())
		}
	}
}

// on2xxLate gets 2xx responses the INVITE transaction sees after the first
// one: a retransmission is ACKed again; a 2xx from another fork (another To
// tag) is ACKed and BYEd (decision 13).
func (c *call) on2xxLate(res *sip.Response) {
	c.mu.Lock()
	o := c.o
	if o.answerTag == "" {
		if len(o.early2xx) < 16 {
			o.early2xx = append(o.early2xx, res)
		}
		c.mu.Unlock()
		return
	}
	same := tagOf(res.To().Params) == o.answerTag
	ack := c.lastACK
	c.mu.Unlock()
	if same {
		if ack != nil {
			_ = c.a.writeRequest(ack.Clone())
		}
		return
	}
	c.a.goBackground(func() { c.ackAndByeFork(res) })
}

// ackAndByeFork ends the dialog a forked 2xx created.
func (c *call) ackAndByeFork(res *sip.Response) {
	c.mu.Lock()
	f := &call{a: c.a, log: c.log, callID: c.callID, localTag: c.localTag, transport: c.transport,
		dest: c.dest, trunk: c.trunk, localHdr: c.localHdr, remoteHdr: c.remoteHdr,
		remoteTag: tagOf(res.To().Params), remoteTarget: c.o.req.Recipient}
	inv := c.o.req
	c.mu.Unlock()
	f.mu.Lock()
	f.localCSeq = inv.CSeq().SeqNo
	f.setRemoteTargetLocked(res)
	ack := f.buildRequestLocked(sip.ACK, inv.CSeq().SeqNo)
	ack.SetBody(nil)
	f.mu.Unlock()
	c.log.Info("sip: 2xx from another fork; ACK and BYE", "toTag", f.remoteTag)
	_ = c.a.writeRequest(ack)
	if _, err := f.request(c.a.ctx, sip.BYE, nil); err != nil {
		c.log.Debug("sip: BYE to fork failed", keyErr, err)
	}
}

// CallID returns the Call-ID of the call.
func (oc *OutboundCall) CallID() string { return oc.c.callID }
