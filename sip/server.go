package sip

import (
	"github.com/emiago/sipgo/sip"
)

// onRequest is the transaction layer's request handler. sipgo calls it on a
// goroutine of its own per request; it never blocks on the network beyond
// writing responses. Retransmissions, and a CANCEL that matches a pending
// INVITE (answered 200, then 487 to the INVITE, decision 8), are handled by
// sipgo's transactions and do not come here.
func (a *Agent) onRequest(req *sip.Request, tx *sip.ServerTx) {
	if a.dropAfterClose(req, tx) {
		return
	}
	if req.IsAck() {
		a.onAckRequest(req)
		tx.Terminate() // an ACK to a 2xx has a transaction of its own in sipgo
		return
	}
	a.log.Debug("sip: received request", keyCallID, callIDOf(req), keyMethod, string(req.Method), keyRemoteAddr, req.Source())
	if r := validateRequest(req); r != nil {
		a.stats.invalid.Add(1)
		_ = a.respond(tx, req, r.code, r.reason, nil, "", r.hdrs...)
		return
	}
	toTag := tagOf(req.To().Params)
	if !a.sourceAllowed(req) && (toTag == "" || a.findDialog(callIDOf(req), toTag) == nil) {
		// The raw filter (listen.go) drops these before sipgo parses
		// them; this catches what its cheaper parsing saw differently.
		a.stats.notAllowed.Add(1)
		tx.Terminate()
		return
	}
	switch {
	case req.IsCancel():
		_ = a.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil, "")
	case toTag != "":
		a.onInDialog(req, tx, toTag)
	case req.Method == sip.INVITE:
		a.onInvite(req, tx)
	case req.Method == sip.OPTIONS:
		a.onOptions(req, tx, true)
	case req.Method == sip.BYE, req.Method == sip.INFO, req.Method == sip.UPDATE,
		req.Method == sip.REFER, req.Method == sip.PRACK:
		_ = a.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil, "")
	default:
		_ = a.respond(tx, req, 405, "Method Not Allowed", nil, "", sip.NewHeader("Allow", allowMethods))
	}
}

// draining reports whether new calls and out-of-dialog OPTIONS get 503
// (decision 20).
func (a *Agent) draining() bool {
	if !a.accepting() {
		return true
	}
	return a.cfg.Draining != nil && a.cfg.Draining()
}

func (a *Agent) onOptions(req *sip.Request, tx *sip.ServerTx, outOfDialog bool) {
	if outOfDialog && a.draining() {
		a.stats.draining.Add(1)
		_ = a.respond(tx, req, 503, "Service Unavailable", nil, sip.GenerateTagN(10))
		return
	}
	_ = a.respond(tx, req, 200, "OK", nil, "",
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Accept", acceptOptions),
		sip.NewHeader("Supported", supportedTags))
}

func (a *Agent) onInDialog(req *sip.Request, tx *sip.ServerTx, toTag string) {
	c := a.findDialog(callIDOf(req), toTag)
	if c == nil || !c.matchesRemote(tagOf(req.From().Params)) {
		if req.Method == sip.OPTIONS {
			// RFC 3261 §11: OPTIONS may be sent in or out of a dialog; answer
			// it as a capability query either way.
			a.onOptions(req, tx, false)
			return
		}
		_ = a.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil, "")
		return
	}
	c.onRequest(req, tx)
}

// matchesRemote reports whether an in-dialog request's From tag is the
// peer's tag of this dialog.
func (c *call) matchesRemote(fromTag string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteTag == fromTag
}

// onAckRequest routes an ACK that has no transaction (the ACK to a 2xx).
func (a *Agent) onAckRequest(req *sip.Request) {
	if req.CallID() == nil || req.To() == nil || req.CSeq() == nil {
		return
	}
	if c := a.findDialog(callIDOf(req), tagOf(req.To().Params)); c != nil {
		c.onAck(req)
	}
}

// onStrayResponse gets responses that match no client transaction: a
// retransmitted 2xx whose INVITE transaction is gone gets our ACK again
// (RFC 3261 §13.2.2.4); anything else is ignored.
func (a *Agent) onStrayResponse(res *sip.Response) {
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE || res.From() == nil {
		return
	}
	c := a.findDialog(callIDOf(res), tagOf(res.From().Params))
	if c == nil {
		return
	}
	c.mu.Lock()
	ack := c.lastACK
	c.mu.Unlock()
	if ack != nil && ack.CSeq().SeqNo == res.CSeq().SeqNo {
		_ = a.writeRequest(ack.Clone())
	}
}

// reasonPhrase returns the RFC 3261 reason phrase of code.
func reasonPhrase(code int) string {
	switch code {
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	switch {
	case code < 200:
		return "Session Progress"
	case code < 300:
		return "OK"
	case code < 400:
		return "Redirection"
	case code < 500:
		return "Client Error"
	case code < 600:
		return "Server Error"
	}
	return "Global Failure"
}
