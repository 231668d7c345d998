package mediaservertest

import (
	"github.com/emiago/sipgo/sip"
)

// allowHeader lists the methods a phone answers.
const allowHeader = "INVITE, ACK, BYE, CANCEL, INFO, OPTIONS"

// onBye ends a call on the remote side's BYE.
func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.mu.Lock()
	uac, uas := c.uac, c.uas
	c.mu.Unlock()
	var err error
	if uac != nil {
		err = uac.ReadBye(req, tx)
	} else {
		err = uas.ReadBye(req, tx)
	}
	if err != nil {
		c.log.Warn("answering BYE", "err", err)
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
	}
	c.finish(EndRemoteBye, 0, nil)
}

// onInfo records a DTMF digit sent by SIP INFO and answers 200 to any INFO
// in a dialog.
func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if d := parseInfoDigit(ct, req.Body()); d != 0 {
		c.mu.Lock()
		c.infoDigits = append(c.infoDigits, d)
		c.mu.Unlock()
	}
	respond(tx, req, sip.StatusOK, "OK")
}

// onCancel answers a CANCEL that matches no INVITE transaction; sipgo answers
// the ones that match.
func (p *Phone) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onOptions answers OPTIONS with the methods and body types the phone takes.
func (p *Phone) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
	_ = tx.Respond(res)
}

// onNoRoute answers any other method 405 with Allow.
func (p *Phone) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	_ = tx.Respond(res)
}

// respond sends a bodiless response.
func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}
