package sip

import (
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// fail reports a failure before answer and ends the call.
func (c *call) fail(err error) {
	h := c.o.h
	c.emit(func(DialogHandler) { h.OnFail(err) })
	c.end(EndReason{}, false)
}

// inviteFailed handles the end of an INVITE transaction without a final
// response (Timer B, transport error, our give-up after CANCEL).
func (c *call) inviteFailed(err error) {
	c.mu.Lock()
	final := c.o.final
	c.o.final = true
	hung := c.state == csEnded
	c.mu.Unlock()
	if !final && !hung {
		c.fail(err)
	}
}

func (c *call) noAnswerTimeout() {
	c.mu.Lock()
	early := c.state == csEarly
	c.mu.Unlock()
	if !early {
		return
	}
	c.log.Info("sip: no answer", "timeout", c.a.cfg.NoAnswerTimeout)
	c.fail(fmt.Errorf("sip: within %s: %w", c.a.cfg.NoAnswerTimeout, ErrNoAnswer))
	c.cancelInvite()
}

// Hangup ends the call without further events: before answer it sends
// CANCEL once a provisional response has arrived (RFC 3261 §9.1; until
// then the CANCEL waits, and the INVITE is abandoned after 64*T1); a 2xx
// that crosses the CANCEL is ACKed and BYEd. After answer it sends BYE in
// the background. ErrCallEnded if the call already ended.
func (oc *OutboundCall) Hangup() error { return oc.c.hangupOutbound() }

func (c *call) hangupOutbound() error {
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	switch state {
	case csEnded:
		return ErrCallEnded
	case csEarly:
	default:
		return c.hangupConfirmed()
	}
	if !c.end(EndReason{}, false) {
		return ErrCallEnded
	}
	c.cancelInvite()
	return nil
}

// cancelInvite CANCELs the pending INVITE, or arranges to once a
// provisional response arrives.
func (c *call) cancelInvite() {
	c.mu.Lock()
	o := c.o
	if o.final || o.canceled || o.cancelPending {
		c.mu.Unlock()
		return
	}
	if !o.provisional {
		o.cancelPending = true
		o.giveUp = c.a.afterFunc(64*c.a.t1, c.giveUpInvite)
		c.mu.Unlock()
		return
	}
	o.canceled = true
	inv := o.req
	c.mu.Unlock()
	c.sendCancel(inv)
}

// sendCancel sends CANCEL for inv in the background (RFC 3261 §9.1) and
// abandons the INVITE if no final response follows within 64*T1.
func (c *call) sendCancel(inv *sip.Request) {
	c.mu.Lock()
	if c.o.giveUp == nil {
		c.o.giveUp = c.a.afterFunc(64*c.a.t1, c.giveUpInvite)
	}
	c.mu.Unlock()
	c.a.goBackground(func() {
		res, err := c.a.transact(c.a.ctx, newCancel(inv))
		if err != nil {
			c.log.Debug("sip: CANCEL failed", keyErr, err)
			return
		}
		c.log.Debug("sip: CANCEL answered", keyStatus, res.StatusCode)
	})
}

func (c *call) giveUpInvite() {
	c.mu.Lock()
	tx, final := c.o.tx, c.o.final
	c.mu.Unlock()
	if !final && tx != nil {
		tx.Terminate()
	}
}

// newCancel builds the CANCEL of an INVITE (RFC 3261 §9.1): same
// Request-URI, top Via, Route, From, To, Call-ID and CSeq number.
func newCancel(inv *sip.Request) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	r.AppendHeader(inv.Via().Clone())
	sip.CopyHeaders("Route", inv, r)
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(inv.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	r.SetBody(nil)
	r.SetTransport(inv.Transport())
	r.SetDestination(inv.Destination())
	r.Laddr = inv.Laddr
	return r
}
