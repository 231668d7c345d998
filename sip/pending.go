package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// newPendingLocked records a 2xx we are about to send; it replaces (and
// stops) a previous one.
func (c *call) newPendingLocked(res *sip.Response, tx *sip.ServerTx, cseq uint32, offer bool) *pending2xx {
	if c.pend != nil {
		c.pend.stop()
	}
	p := &pending2xx{res: res, tx: tx, cseq: cseq, offer: offer, interval: c.a.t1, acked: make(chan struct{})}
	c.pend = p
	return p
}

// startPending starts the retransmissions of a sent 2xx (T1, 2T1, ... T2)
// and its 64*T1 ACK wait (RFC 3261 §13.3.1.4). An ACK that matches the
// INVITE transaction itself (RFC 2543 peers) comes through tx.Acks().
func (c *call) startPending(p *pending2xx) {
	c.mu.Lock()
	if c.pend != p {
		c.mu.Unlock()
		return
	}
	p.retx = c.a.afterFunc(p.interval, func() { c.retransmit(p) })
	p.timeout = c.a.afterFunc(64*c.a.t1, func() { c.ackTimeout(p) })
	c.mu.Unlock()
	tx := p.tx
	c.a.goFunc(func() {
		select {
		case r := <-tx.Acks():
			c.onAck(r)
		case <-p.acked:
		case <-tx.Done():
		case <-c.a.done:
		}
	})
}

func (c *call) retransmit(p *pending2xx) {
	c.mu.Lock()
	if c.pend != p || p.stopped() {
		c.mu.Unlock()
		return
	}
	p.interval = min(2*p.interval, c.a.t2)
	p.retx = c.a.afterFunc(p.interval, func() { c.retransmit(p) })
	c.mu.Unlock()
	c.log.Debug("sip: retransmit 2xx", keyStatus, p.res.StatusCode)
	if !c.a.sendStart() {
		return
	}
	defer c.a.sendDone()
	if err := p.tx.Respond(p.res); err != nil {
		// The transaction is gone (Timer L): the TU still owns the 2xx.
		_ = c.a.tpl.WriteMsg(p.res)
	}
}

// ackTimeout: no ACK for our 2xx within 64*T1. The dialog is torn down with
// BYE (RFC 3261 §13.3.1.4), reported as EndAckTimeout unless we had
// already hung up.
func (c *call) ackTimeout(p *pending2xx) {
	c.mu.Lock()
	if c.pend != p || p.stopped() {
		c.mu.Unlock()
		return
	}
	c.pend = nil
	p.stop()
	c.mu.Unlock()
	c.log.Info("sip: no ACK for our 2xx")
	c.sendBye()
	if !c.end(EndReason{Cause: EndAckTimeout, Err: fmt.Errorf("sip: no ACK: %w", ErrTimeout)}, true) {
		c.a.removeDialog(c) // we had hung up before the ACK
	}
}

// onAck handles the ACK to one of our 2xx responses.
func (c *call) onAck(req *sip.Request) {
	c.mu.Lock()
	p := c.pend
	if p == nil || req.CSeq() == nil || req.CSeq().SeqNo != p.cseq {
		c.mu.Unlock()
		return // a retransmitted or stray ACK
	}
	c.pend = nil
	p.stop()
	initial := c.state == csAnswered
	bye := c.byeOnAck
	if initial && !bye {
		c.state = csConfirmed
		c.armSessionTimerLocked()
	}
	local, pol := c.local, c.srtp
	c.mu.Unlock()
	if bye {
		c.sendBye()
		c.a.removeDialog(c)
		return
	}
	if p.offer {
		m, err := answerFromMessage(req, local, pol)
		switch {
		case err == nil:
			c.mu.Lock()
			c.remote = m
			c.srtp.answered(m)
			c.mu.Unlock()
			c.emit(func(h DialogHandler) { h.OnMedia(m) })
		case initial:
			c.log.Info("sip: unusable SDP answer in ACK", keyErr, err)
			c.sendBye()
			c.end(EndReason{Cause: EndNegotiation, Err: err}, true)
			return
		default:
			c.log.Debug("sip: unusable SDP answer in ACK to re-INVITE; media unchanged", keyErr, err)
		}
	}
	if initial {
		c.emit(func(h DialogHandler) { h.OnAck() })
	}
}

// answerFromMessage parses the SDP answer a message carries, to an offer
// made under pol.
func answerFromMessage(m sip.Message, local LocalMedia, pol srtpPolicy) (Media, error) {
	body, ok := sdpBody(m)
	if !ok || len(body) == 0 {
		return Media{}, fmt.Errorf("sip: no sdp answer: %w", ErrBadSDP)
	}
	ans, err := parseSDP(body)
	if err != nil {
		return Media{}, err
	}
	return parseAnswer(ans, local, pol)
}

// sendBye sends BYE in the dialog, in the background.
func (c *call) sendBye() {
	c.a.goBackground(func() {
		res, err := c.request(c.a.ctx, sip.BYE, nil)
		switch {
		case err != nil:
			c.log.Debug("sip: BYE failed", keyErr, err)
		case !res.IsSuccess():
			c.log.Debug("sip: BYE answered", keyStatus, res.StatusCode)
		}
	})
}

// request sends an in-dialog request and returns its final response,
// answering 401/407 challenges with the trunk's credentials (also
// stale=true re-challenges, and both on one request). A 2xx to an INVITE
// is ACKed here.
func (c *call) request(ctx context.Context, method sip.RequestMethod, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	c.mu.Lock()
	if c.auth != nil {
		c.auth.begin()
	}
	c.mu.Unlock()
	for range 4 {
		c.mu.Lock()
		req := c.newRequestLocked(method)
		for _, h := range hdrs {
			req.AppendHeader(h)
		}
		if body != nil {
			req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		req.SetBody(body)
		if c.auth != nil {
			c.auth.apply(req)
		}
		c.mu.Unlock()
		res, err := c.a.transact(ctx, req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == 401 || res.StatusCode == 407 {
			c.mu.Lock()
			retry := c.auth != nil && c.auth.update(res)
			c.mu.Unlock()
			if retry {
				continue
			}
		}
		if method == sip.INVITE && res.IsSuccess() {
			c.ackInDialog(req, res)
		}
		return res, nil
	}
	return nil, errors.New("sip: too many authentication challenges")
}

// newRequestLocked builds an in-dialog request (RFC 3261 §12.2.1.1) with
// the next local CSeq.
func (c *call) newRequestLocked(method sip.RequestMethod) *sip.Request {
	c.localCSeq++
	return c.buildRequestLocked(method, c.localCSeq)
}

func (c *call) buildRequestLocked(method sip.RequestMethod, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, *c.remoteTarget.Clone())
	req.AppendHeader(c.a.newVia(c.transport))
	for _, r := range c.routeSet {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{DisplayName: c.localHdr.DisplayName, Address: *c.localHdr.Address.Clone(), Params: c.localHdr.Params.Clone()}
	from.Params.Add("tag", c.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{DisplayName: c.remoteHdr.DisplayName, Address: *c.remoteHdr.Address.Clone(), Params: c.remoteHdr.Params.Clone()}
	if c.remoteTag != "" {
		to.Params.Add("tag", c.remoteTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(c.a.contact(c.localHdr.Address.User, c.transport, c.sips))
		req.AppendHeader(sip.NewHeader("Allow", allowMethods))
		req.AppendHeader(sip.NewHeader("Supported", supportedTags))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", c.a.cfg.UserAgent))
	dest, tp := c.dest, c.transport
	if c.kind == kindInbound && dest != "" && !c.a.hasConn(tp, dest) {
		dest = "" // the caller's connection is gone: use the remote target
	}
	if c.trunk == nil {
		// The next hop is the first Route, else the remote target; its
		// transport parameter, if any, chooses the transport. A TLS
		// dialog stays on TLS: its SDP may carry SRTP keys.
		next := c.remoteTarget
		if len(c.routeSet) > 0 {
			dest, next = "", c.routeSet[0]
		}
		v, _ := next.UriParams.Get("transport")
		switch {
		case tp == "TLS":
		case strings.EqualFold(next.Scheme, "sips"), strings.EqualFold(v, "tls"):
			if c.a.cfg.TLS != nil {
				tp = "TLS"
			}
		case strings.EqualFold(v, "tcp"):
			tp = "TCP"
		case strings.EqualFold(v, "udp"):
			tp = "UDP"
		}
	}
	if via := req.Via(); via != nil {
		via.Transport = tp
	}
	c.a.route(req, tp, dest)
	return req
}

// ackInDialog ACKs a 2xx to an INVITE we sent in the dialog (same CSeq
// number, the INVITE's credentials) and remembers it for retransmissions.
func (c *call) ackInDialog(inv *sip.Request, res *sip.Response) {
	c.mu.Lock()
	ack := c.buildRequestLocked(sip.ACK, inv.CSeq().SeqNo)
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		sip.CopyHeaders(name, inv, ack)
	}
	ack.SetBody(nil)
	c.lastACK = ack
	c.mu.Unlock()
	if err := c.a.writeRequest(ack.Clone()); err != nil {
		c.log.Debug("sip: ACK not sent", keyErr, err)
	}
	_ = res
}
