package mediaservertest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// DialOptions are the optional settings of Dial and DialAsync. The zero value
// is valid.
type DialOptions struct {
	// Headers are added to the INVITE, name to value, e.g. {"X-Test": "1"}.
	Headers map[string]string
	// NoSDP sends the INVITE without an SDP offer (RFC 3261 section 13.2.1,
	// "delayed offer"): the callee offers in its 2xx and the phone answers
	// in the ACK.
	NoSDP bool
}

// viaSizeAtLeast is a lower bound of the Via header sipgo adds to an INVITE,
// used to pad INVITEs to PhoneConfig.PadInviteTo.
const viaSizeAtLeast = 50

// Dial calls target (a SIP URI such as another phone's URI, or a server's
// "sip:ivr@127.0.0.1:5060") and blocks until the call is answered. The
// transport is PhoneConfig.Transport unless target has a transport parameter;
// a sips: target or ";transport=tls" goes over TLS, which needs
// PhoneConfig.TLS.
//
// If the remote side rejects the call, Dial returns a *StatusError with its
// code (e.g. 486). If ctx is done first it returns ctx.Err() and the INVITE
// is cancelled in the background. ctx bounds only the wait for the answer:
// the answered call lasts until Hangup, a BYE, or Close of the phone.
func (p *Phone) Dial(ctx context.Context, target string, opts DialOptions) (*Call, error) {
	c, err := p.DialAsync(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.answered:
		return c, nil
	case <-c.ended:
	case <-ctx.Done():
	}
	select {
	case <-c.answered:
		return c, nil
	default:
	}
	select {
	case <-c.ended:
		return nil, c.Err()
	default:
		return nil, ctx.Err()
	}
}

// DialAsync sends an INVITE to target and returns the call at once, before
// any response: wait on its Ringing, Answered and Ended channels, and cancel
// it with Hangup. It returns an error only if the INVITE could not be sent.
// If ctx is done before the answer, the INVITE is cancelled (CANCEL is sent
// once a provisional response came, as RFC 3261 section 9.1 requires) and the
// call ends with EndLocalCancel; after the answer ctx no longer matters.
func (p *Phone) DialAsync(ctx context.Context, target string, opts DialOptions) (*Call, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("mediaservertest: dial %q: %w", target, err)
	}
	transport, err := p.dialTransport(uri)
	if err != nil {
		return nil, fmt.Errorf("mediaservertest: dial %q: %w", target, err)
	}
	c, err := p.newCall(true, transport)
	if err != nil {
		return nil, err
	}
	c.sips = transport == "tls" && strings.EqualFold(uri.Scheme, "sips")
	c.key = callKey{callID: newTag(32), localTag: newTag(16)}
	c.log = p.log.With("callId", c.key.callID)
	c.invite = p.buildInvite(c, uri, opts)
	if err := p.register(c); err != nil {
		c.media.close()
		return nil, err
	}
	dialCtx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(p.ctx, func() { cancel(sipgo.WaitAnswerForceCancelErr) })
	c.mu.Lock()
	c.dialCancel = cancel
	c.mu.Unlock()

	dua := &sipgo.DialogUA{Client: p.client(transport), ContactHDR: p.contact(transport, c.sips)}
	dlg, err := dua.WriteInvite(dialCtx, c.invite)
	if err != nil {
		stop()
		c.finish(EndFailed, 0, err)
		return nil, fmt.Errorf("mediaservertest: send INVITE to %s: %w", target, err)
	}
	c.mu.Lock()
	c.uac = dlg
	c.mu.Unlock()
	ok := p.goFunc(func() {
		defer stop()
		defer cancel(sipgo.WaitAnswerForceCancelErr)
		c.waitAnswer(dialCtx, dlg)
	})
	if !ok {
		stop()
		c.finish(EndPhoneClosed, 0, ErrPhoneClosed)
		return nil, ErrPhoneClosed
	}
	return c, nil
}

// dialTransport returns the transport to reach uri: its transport parameter,
// else TLS for a sips: URI, else PhoneConfig.Transport (RFC 3261 section
// 19.1.2; a sips: URI goes over TLS even with ;transport=tcp).
func (p *Phone) dialTransport(uri sip.Uri) (string, error) {
	transport := p.cfg.Transport
	t, hasParam := uri.UriParams.Get("transport")
	if hasParam && t != "" {
		transport = strings.ToLower(t)
	}
	if strings.EqualFold(uri.Scheme, "sips") {
		if hasParam && transport != "tcp" && transport != "tls" {
			return "", fmt.Errorf("a sips: target over %q", transport)
		}
		transport = "tls"
	}
	switch {
	case transport != "udp" && transport != "tcp" && transport != "tls":
		return "", fmt.Errorf("unsupported transport %q", transport)
	case transport == "tls" && p.tlsLn == nil:
		return "", errors.New("a TLS target needs PhoneConfig.TLS")
	}
	return transport, nil
}

// buildInvite builds the initial INVITE with this phone's SDP offer.
func (p *Phone) buildInvite(c *Call, uri sip.Uri, opts DialOptions) *sip.Request {
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTransport(strings.ToUpper(c.transport))
	from := &sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.addr.Addr().String(), Port: int(p.addr.Port())},
		Params:  sip.NewParams(),
	}
	from.Params.Add("tag", c.key.localTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}}
	callID := sip.CallIDHeader(c.key.callID)
	cseq := &sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE}
	maxFwd := sip.MaxForwardsHeader(70)
	contact := p.contact(c.transport, c.sips)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(cseq)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("User-Agent", "mediaservertest"))
	for name, value := range opts.Headers {
		req.AppendHeader(sip.NewHeader(name, value))
	}
	if opts.NoSDP {
		c.mu.Lock()
		c.noOffer = true
		c.mu.Unlock()
		req.SetBody(nil)
		return req
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	c.setInviteOffer(req)
	return req
}

// setInviteOffer puts a fresh SDP offer into req, padded so that req reaches
// PhoneConfig.PadInviteTo bytes.
func (c *Call) setInviteOffer(req *sip.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req.SetBody(c.offerLocked(0))
	if pad := c.p.cfg.PadInviteTo - len(req.String()) - viaSizeAtLeast; pad > 0 {
		req.SetBody(c.offerLocked(pad))
	}
}

// waitAnswer runs on the dial goroutine: it waits for the final response,
// ACKs a 2xx and records the outcome.
func (c *Call) waitAnswer(ctx context.Context, dlg *sipgo.DialogClientSession) {
	err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == sip.StatusRinging || res.StatusCode == sip.StatusSessionInProgress {
			if body := res.Body(); len(body) > 0 {
				if err := c.applyAnswer(body, true); err != nil {
					c.log.Warn("unusable early media SDP", "err", err)
				}
			}
			c.markRinging()
		}
		return nil
	}})
	res := dlg.InviteResponse
	switch {
	case err == nil:
		c.answeredOutbound(ctx, dlg, res)
	case res != nil && res.IsSuccess():
		// A 2xx crossed our CANCEL: ACK it and hang up (RFC 3261 section 9.1).
		_ = dlg.Ack(context.WithoutCancel(ctx))
		byeCtx, cancel := context.WithTimeout(c.p.ctx, closeHangupTimeout)
		_ = dlg.Bye(byeCtx)
		cancel()
		c.finish(EndLocalCancel, 0, context.Cause(ctx))
	case ctx.Err() != nil:
		code := 0
		if res != nil && res.StatusCode >= 300 {
			code = res.StatusCode
		}
		cause := context.Cause(ctx)
		if errors.Is(cause, sipgo.WaitAnswerForceCancelErr) {
			c.finish(EndPhoneClosed, code, ErrPhoneClosed)
			return
		}
		c.finish(EndLocalCancel, code, ctx.Err())
	default:
		err = dialogErr(err)
		var se *StatusError
		if errors.As(err, &se) {
			c.finish(EndRejected, se.Code, err)
			return
		}
		c.finish(EndFailed, 0, fmt.Errorf("mediaservertest: INVITE: %w", err))
	}
}

// answeredOutbound applies the SDP of a 2xx (an answer, or an offer when
// the INVITE had none), ACKs it and starts the call.
func (c *Call) answeredOutbound(ctx context.Context, dlg *sipgo.DialogClientSession, res *sip.Response) {
	var ackBody []byte
	var sdpErr error
	c.mu.Lock()
	noOffer := c.noOffer
	c.mu.Unlock()
	switch body := res.Body(); {
	case noOffer && len(body) == 0:
		sdpErr = fmt.Errorf("%w: no SDP offer in the 2xx to an INVITE without SDP", ErrBadSDP)
	case noOffer:
		c.mu.Lock()
		ackBody, sdpErr = c.answerOfferLocked(body)
		c.mu.Unlock()
	case len(body) > 0:
		sdpErr = c.applyAnswer(body, false)
	case c.RemoteSDP() == "":
		sdpErr = fmt.Errorf("%w: no SDP answer", ErrBadSDP)
	}
	var ackErr error
	if ackBody != nil {
		ackErr = dlg.WriteAck(context.WithoutCancel(ctx), c.ackRequest(res, ackBody))
	} else {
		ackErr = dlg.Ack(context.WithoutCancel(ctx))
	}
	if err := errors.Join(ackErr, sdpErr); err != nil {
		byeCtx, cancel := context.WithTimeout(c.p.ctx, closeHangupTimeout)
		_ = dlg.Bye(byeCtx)
		cancel()
		c.finish(EndFailed, 200, err)
		return
	}
	c.markAnswered()
}

// ackRequest builds an ACK for a 2xx, carrying an SDP answer if body is set;
// sipgo's dialog adds the dialog's headers.
func (c *Call) ackRequest(res *sip.Response, body []byte) *sip.Request {
	target := c.invite.Recipient
	if contact := res.Contact(); contact != nil {
		target = *contact.Address.Clone()
	}
	ack := sip.NewRequest(sip.ACK, target)
	ack.Laddr = c.invite.Laddr // UDP: send from the listening socket
	if body != nil {
		ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	ack.SetBody(body)
	return ack
}
