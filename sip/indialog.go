package sip

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// onRequest handles a request inside one of our dialogs (decision 7). The
// response always goes out before the handler hears of the request.
func (c *call) onRequest(req *sip.Request, tx *sip.ServerTx) {
	a := c.a
	c.mu.Lock()
	if c.state == csEnded {
		waitingAck := c.byeOnAck
		c.mu.Unlock()
		if req.Method == sip.BYE && waitingAck {
			// The peer hung up while our BYE waited for its ACK.
			c.mu.Lock()
			if c.pend != nil {
				c.pend.stop()
				c.pend = nil
			}
			c.mu.Unlock()
			_ = a.respond(tx, req, 200, "OK", nil, "")
			a.removeDialog(c)
			return
		}
		_ = a.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil, "")
		return
	}
	// RFC 3261 §12.2.2: a lower CSeq than the last one is out of order.
	if cseq := req.CSeq().SeqNo; c.remoteCSeq != 0 && cseq < c.remoteCSeq {
		c.mu.Unlock()
		_ = a.respond(tx, req, 500, "Server Internal Error (CSeq out of order)", nil, "")
		return
	} else if cseq > c.remoteCSeq {
		c.remoteCSeq = cseq
	}
	c.mu.Unlock()

	switch req.Method {
	case sip.BYE:
		c.onBye(req, tx)
	case sip.INVITE:
		c.onReinvite(req, tx)
	case sip.UPDATE:
		c.onUpdate(req, tx)
	case sip.INFO:
		_ = a.respond(tx, req, 200, "OK", nil, "")
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = h.Value()
		}
		if d, dur, err := parseINFODTMF(ct, req.Body()); err == nil {
			c.emit(func(h DialogHandler) { h.OnDTMF(d, dur) })
		}
	case sip.REFER:
		_ = a.respond(tx, req, 603, "Decline", nil, "")
	case sip.OPTIONS:
		a.onOptions(req, tx, false)
	case sip.PRACK:
		// We never send reliable provisional responses (RFC 3262).
		_ = a.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil, "")
	default:
		_ = a.respond(tx, req, 405, "Method Not Allowed", nil, "", sip.NewHeader("Allow", allowMethods))
	}
}

func (c *call) onBye(req *sip.Request, tx *sip.ServerTx) {
	c.mu.Lock()
	early := c.state == csEarly
	inv, invTx := c.inv, c.invTx
	c.mu.Unlock()
	_ = c.a.respond(tx, req, 200, "OK", nil, "")
	switch {
	case early && c.kind == kindInbound:
		// RFC 3261 §15.1.2: a BYE on an early dialog terminates the INVITE.
		_ = c.a.respond(invTx, inv, 487, "Request Terminated", nil, c.localTag)
	case early:
		// A callee may not send BYE before its 2xx; treat it as a failure
		// of the call attempt (OnEnd is for answered calls).
		c.fail(fmt.Errorf("sip: BYE before answer: %w", ErrCallEnded))
		c.cancelInvite()
		return
	}
	c.end(EndReason{Cause: EndBye}, true)
}

// busyLocked decides whether a new offer can be taken: 491 when an offer
// of ours is outstanding (glare, RFC 3261 §14.2, RFC 3311 §5.2), 500 with
// Retry-After while an earlier transaction is unfinished.
func (c *call) busyLocked() *rejection {
	switch {
	case c.uacPending:
		return reject(491, "Request Pending")
	case c.pend != nil && c.pend.offer:
		return reject(491, "Request Pending")
	case c.state != csConfirmed:
		return reject(500, "Server Internal Error (dialog not confirmed)", sip.NewHeader("Retry-After", "1"))
	}
	return nil
}

// onReinvite answers a re-INVITE: with an offer, 200 with our answer on the
// same local port (media is anchored), then OnMedia; without one, 200 with
// our full offer, the answer coming in the ACK. Either way it refreshes the
// session timer.
func (c *call) onReinvite(req *sip.Request, tx *sip.ServerTx) {
	a := c.a
	c.mu.Lock()
	if r := c.busyLocked(); r != nil {
		c.mu.Unlock()
		_ = a.respond(tx, req, r.code, r.reason, nil, "", r.hdrs...)
		return
	}
	st, rej := negotiateSE(req, c.st, a.cfg.SessionExpires)
	if rej != nil {
		c.mu.Unlock()
		_ = a.respond(tx, req, rej.code, rej.reason, nil, "", rej.hdrs...)
		return
	}
	rest, remote, offerIn2xx, rej := c.offerAnswerLocked(req)
	if rej != nil {
		c.mu.Unlock()
		_ = a.respond(tx, req, rej.code, rej.reason, nil, "", rej.hdrs...)
		return
	}
	body := c.lsdp.render(rest)
	if !offerIn2xx {
		c.remote = remote
	}
	c.st.stop()
	c.st = st
	hdrs := append(c.dialogHeadersLocked(c.localHdr.Address.User), st.responseHeaders()...)
	res := a.newResponse(req, 200, "OK", body, "", hdrs...)
	p := c.newPendingLocked(res, tx, req.CSeq().SeqNo, offerIn2xx)
	c.armSessionTimerLocked()
	c.mu.Unlock()
	if err := a.sendResponse(tx, res); err != nil {
		c.mu.Lock()
		if c.pend == p {
			c.pend = nil
			p.stop()
		}
		c.mu.Unlock()
		return
	}
	c.startPending(p)
	if !offerIn2xx {
		c.emit(func(h DialogHandler) { h.OnMedia(remote) })
	}
}

// offerAnswerLocked reads the offer of a re-INVITE or UPDATE: our answer
// and the new remote media, or (no SDP) our full offer. A bad offer gets
// 400 (unparsable) or 488 (nothing in common); the session is unchanged.
func (c *call) offerAnswerLocked(req *sip.Request) (rest string, remote Media, offerIn2xx bool, rej *rejection) {
	body, _ := sdpBody(req)
	if len(body) == 0 {
		return buildOffer(c.local, c.srtp), Media{}, true, nil
	}
	off, err := parseSDP(body)
	if err != nil {
		return "", Media{}, false, reject(400, "Bad Request (malformed SDP)")
	}
	rest, remote, err = answerOffer(off, c.local, &c.srtp)
	if err != nil {
		if errors.Is(err, ErrNoCommonCodec) {
			return "", Media{}, false, reject(488, "Not Acceptable Here")
		}
		return "", Media{}, false, reject(400, "Bad Request (unusable SDP)")
	}
	return rest, remote, false, nil
}

// onUpdate answers an UPDATE (RFC 3311): 200, with our answer when it
// carried an offer (then OnMedia). It refreshes the session timer.
func (c *call) onUpdate(req *sip.Request, tx *sip.ServerTx) {
	a := c.a
	body, _ := sdpBody(req)
	c.mu.Lock()
	if len(body) > 0 {
		if r := c.busyLocked(); r != nil {
			c.mu.Unlock()
			_ = a.respond(tx, req, r.code, r.reason, nil, "", r.hdrs...)
			return
		}
	}
	st, rej := negotiateSE(req, c.st, a.cfg.SessionExpires)
	if rej != nil {
		c.mu.Unlock()
		_ = a.respond(tx, req, rej.code, rej.reason, nil, "", rej.hdrs...)
		return
	}
	var sdp []byte
	var remote Media
	if len(body) > 0 {
		rest, m, _, rej := c.offerAnswerLocked(req)
		if rej != nil {
			c.mu.Unlock()
			_ = a.respond(tx, req, rej.code, rej.reason, nil, "", rej.hdrs...)
			return
		}
		sdp, remote = c.lsdp.render(rest), m
		c.remote = m
	}
	c.st.stop()
	c.st = st
	c.armSessionTimerLocked()
	hdrs := append(c.dialogHeadersLocked(c.localHdr.Address.User), st.responseHeaders()...)
	c.mu.Unlock()
	if err := a.respond(tx, req, 200, "OK", sdp, "", hdrs...); err != nil {
		return
	}
	if len(body) > 0 {
		c.emit(func(h DialogHandler) { h.OnMedia(remote) })
	}
}
