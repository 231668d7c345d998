package mediaservertest

import (
	"context"
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// ReinviteOptions say what a re-INVITE changes. The zero value re-offers the
// current media with direction sendrecv.
type ReinviteOptions struct {
	// Direction is the direction attribute to offer. The phone sends while
	// its offered direction and the answer allow it (RFC 3264 section 5.1).
	Direction Direction
	// RTPAddr, when set, moves the call's media to a new socket bound to this
	// address ("127.0.0.1:0" for a new port, "127.0.0.2:0" for a new address
	// too) and offers it in c= and m=. The old socket is closed once the
	// re-INVITE succeeded.
	RTPAddr string
	// NoSDP sends the re-INVITE without an SDP offer: the remote side offers
	// in its 2xx and the phone answers in the ACK (RFC 3261 section 14.1).
	NoSDP bool
}

// Hold puts the remote side on hold: a re-INVITE with a=sendonly, after which
// the phone sends nothing, like a phone that mutes its microphone on hold.
// It blocks until the re-INVITE is answered or ctx is done; a failure
// response is returned as *StatusError.
func (c *Call) Hold(ctx context.Context) error {
	return c.reinvite(ctx, ReinviteOptions{Direction: SendOnly}, true)
}

// Resume takes the call off hold: a re-INVITE with a=sendrecv, after which the
// phone sends again.
func (c *Call) Resume(ctx context.Context) error {
	return c.reinvite(ctx, ReinviteOptions{}, false)
}

// Reinvite sends a re-INVITE with a new SDP offer as opts say and applies the
// answer. It blocks until the answer or ctx is done; a failure response is
// returned as *StatusError and leaves the media as they were. It ends a Hold.
func (c *Call) Reinvite(ctx context.Context, opts ReinviteOptions) error {
	return c.reinvite(ctx, opts, false)
}

func (c *Call) reinvite(ctx context.Context, opts ReinviteOptions, mute bool) error {
	c.sigMu.Lock()
	defer c.sigMu.Unlock()
	c.mu.Lock()
	up, uac, uas, oldLocal, oldWant, oldMuted := c.up, c.uac, c.uas, c.local, c.want, c.muted
	c.mu.Unlock()
	if !up {
		if c.EndReason() != EndNone {
			return ErrCallEnded
		}
		return ErrNotAnswered
	}
	var commit, abort func()
	if opts.RTPAddr != "" {
		addr, cm, ab, err := c.media.moveTo(opts.RTPAddr)
		if err != nil {
			return err
		}
		commit, abort = cm, ab
		c.mu.Lock()
		c.local.addr = addr
		c.mu.Unlock()
	}
	req := c.reinviteRequest(opts, mute)

	var res *sip.Response
	var err error
	if uac != nil {
		res, err = uac.Do(ctx, req)
	} else {
		res, err = uas.Do(ctx, req)
	}
	if err == nil && !res.IsSuccess() {
		err = &StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	if err == nil {
		err = c.ackReinvite(res)
	}
	if err != nil {
		if abort != nil {
			abort()
		}
		c.mu.Lock()
		c.local, c.want, c.muted = oldLocal, oldWant, oldMuted
		c.updateSendingLocked()
		c.mu.Unlock()
		return fmt.Errorf("mediaservertest: re-INVITE: %w", err)
	}
	if commit != nil {
		commit()
	}
	return nil
}

// reinviteRequest records the wanted direction and builds a re-INVITE with
// a new offer; sipgo adds the dialog's headers.
func (c *Call) reinviteRequest(opts ReinviteOptions, mute bool) *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want, c.muted, c.noOffer = opts.Direction, mute, opts.NoSDP
	req := sip.NewRequest(sip.INVITE, c.remoteTargetLocked())
	if opts.NoSDP {
		req.SetBody(nil)
		return req
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.offerLocked(0))
	if pad := c.p.cfg.PadInviteTo - len(req.String()) - 200; pad > 0 {
		req.SetBody(c.offerLocked(pad)) // the dialog headers still to come are about 200 bytes
	}
	return req
}

// ackReinvite ACKs a 2xx to our re-INVITE and applies its SDP: the answer
// to our offer, or the remote's offer, answered in the ACK.
func (c *Call) ackReinvite(res *sip.Response) error {
	body := res.Body()
	c.mu.Lock()
	uac, uas, noOffer := c.uac, c.uas, c.noOffer
	var ackBody []byte
	var sdpErr error
	switch {
	case len(body) == 0:
		sdpErr = fmt.Errorf("%w: no SDP in the 2xx to a re-INVITE", ErrBadSDP)
	case noOffer:
		ackBody, sdpErr = c.answerOfferLocked(body)
	}
	c.mu.Unlock()
	ack := c.ackRequest(res, ackBody)
	var err error
	if uac != nil {
		err = uac.WriteRequest(ack)
	} else {
		err = uas.WriteRequest(ack)
	}
	if sdpErr == nil && !noOffer {
		sdpErr = c.applyAnswer(body, false)
	}
	return errors.Join(err, sdpErr)
}

// remoteTargetLocked returns the remote Contact URI of the dialog.
func (c *Call) remoteTargetLocked() sip.Uri {
	var contact *sip.ContactHeader
	switch {
	case c.uac != nil && c.uac.InviteResponse != nil:
		contact = c.uac.InviteResponse.Contact()
	case c.uas != nil:
		contact = c.uas.InviteRequest.Contact()
	}
	if contact == nil {
		return c.invite.Recipient
	}
	return *contact.Address.Clone()
}

// onReinvite answers a re-INVITE in one of this phone's dialogs.
func (p *Phone) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var readErr error
	switch {
	case c.uac != nil:
		readErr = c.uac.ReadRequest(req, tx)
	case c.uas != nil:
		readErr = c.uas.ReadRequest(req, tx)
	}
	if readErr != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil))
		return
	}
	var body []byte
	var err error
	if offer := req.Body(); len(offer) > 0 {
		body, err = c.answerOfferLocked(offer)
	} else {
		body, c.ackAnswer = c.offerLocked(0), true
	}
	if err != nil {
		c.log.Info("rejecting re-INVITE offer", "err", err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	contact := p.contact(c.transport, c.sips)
	res.AppendHeader(&contact)
	_ = tx.Respond(res)
}

// onAck confirms a dialog and applies an SDP answer carried in the ACK.
func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		return
	}
	c.mu.Lock()
	uas, wantAnswer := c.uas, c.ackAnswer
	c.ackAnswer = false
	c.mu.Unlock()
	if body := req.Body(); wantAnswer && len(body) > 0 {
		if err := c.applyAnswer(body, false); err != nil {
			c.log.Warn("unusable SDP answer in ACK", "err", err)
		}
	}
	if uas != nil {
		_ = uas.ReadAck(req, tx) // confirms the dialog: the INVITE handler goes on
	}
}
