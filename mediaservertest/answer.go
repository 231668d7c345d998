package mediaservertest

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// onInvite handles INVITE: a new call, or a re-INVITE in a dialog.
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		p.onReinvite(req, tx)
		return
	}
	p.answerInvite(req, tx)
}

// answerInvite runs the UAS side of a new call as PhoneConfig says, on
// sipgo's request goroutine (it must not return before the final response,
// or sipgo terminates the transaction).
func (p *Phone) answerInvite(req *sip.Request, tx sip.ServerTransaction) {
	transport := transportOf(req.Transport())
	sips := transport == "tls" && strings.EqualFold(req.Recipient.Scheme, "sips")
	dua := &sipgo.DialogUA{Client: p.client(transport), ContactHDR: p.contact(transport, sips)}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	c, err := p.newCall(false, transport)
	if err != nil {
		p.log.Warn("inbound call without media", "err", err)
		_ = dlg.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		return
	}
	c.sips = sips
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	c.key = callKey{callID: req.CallID().Value(), localTag: tag}
	c.log = p.log.With("callId", c.key.callID)
	c.invite = dlg.InviteRequest
	c.uas = dlg
	if err := p.register(c); err != nil {
		c.media.close()
		_ = dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	defer p.deliver(c)

	var sdpBody []byte
	c.mu.Lock()
	if offer := req.Body(); len(offer) > 0 {
		sdpBody, err = c.answerOfferLocked(offer)
	} else {
		sdpBody, c.ackAnswer = c.offerLocked(0), true // delayed offer: ours goes in the 200
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Info("rejecting offer", "err", err)
		c.reject(dlg, sip.StatusNotAcceptableHere, err)
		return
	}
	if !c.ring(dlg, sdpBody) {
		return
	}
	if code := p.cfg.AnswerCode; code != 200 {
		c.reject(dlg, code, &StatusError{Code: code, Reason: statusText(code)})
		return
	}
	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, sdpBody)
	if err := dlg.WriteResponse(res); err != nil {
		c.finish(EndFailed, 200, err)
		return
	}
	c.markAnswered()
}

// ring sends 180 or 183 and waits PhoneConfig.RingFor. It returns false if the
// call ended meanwhile (CANCEL, or the phone closing).
func (c *Call) ring(dlg *sipgo.DialogServerSession, sdpBody []byte) bool {
	cfg := &c.p.cfg
	var err error
	switch {
	case cfg.EarlyMedia:
		ct := sip.NewHeader("Content-Type", "application/sdp")
		err = dlg.Respond(sip.StatusSessionInProgress, "Session Progress", sdpBody, ct)
		c.mu.Lock()
		c.early = true
		c.updateSendingLocked()
		c.mu.Unlock()
	case cfg.RingFor > 0:
		err = dlg.Respond(sip.StatusRinging, "Ringing", nil)
	}
	if err != nil {
		c.finish(EndFailed, 0, err)
		return false
	}
	if cfg.EarlyMedia || cfg.RingFor > 0 {
		c.markRinging()
	}
	if cfg.RingFor <= 0 {
		return true
	}
	t := time.NewTimer(cfg.RingFor)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-dlg.Context().Done():
		c.finish(EndRemoteCancel, sip.StatusRequestTerminated, context.Cause(dlg.Context()))
		return false
	case <-c.p.ctx.Done():
		c.reject(dlg, sip.StatusTemporarilyUnavailable, ErrPhoneClosed)
		return false
	}
}

// reject sends a final failure response and ends the call as rejected.
func (c *Call) reject(dlg *sipgo.DialogServerSession, code int, err error) {
	if rerr := dlg.Respond(code, statusText(code), nil); rerr != nil {
		c.log.Debug("sending failure response", "code", code, "err", rerr)
	}
	c.finish(EndRejected, code, err)
}
