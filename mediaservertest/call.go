package mediaservertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// EndReason says how a call ended.
type EndReason int

// End reasons.
const (
	EndNone         EndReason = iota // the call has not ended
	EndLocalBye                      // this phone sent BYE
	EndRemoteBye                     // the remote side sent BYE
	EndLocalCancel                   // this phone cancelled its INVITE before the answer
	EndRemoteCancel                  // the caller cancelled the INVITE before this phone answered
	EndRejected                      // the INVITE got a final failure response; StatusCode has it
	EndFailed                        // a transport error, timeout or unusable SDP; Err has it
	EndPhoneClosed                   // the phone was closed
)

// String returns the reason's name.
func (r EndReason) String() string {
	switch r {
	case EndNone:
		return "none"
	case EndLocalBye:
		return "local-bye"
	case EndRemoteBye:
		return "remote-bye"
	case EndLocalCancel:
		return "local-cancel"
	case EndRemoteCancel:
		return "remote-cancel"
	case EndRejected:
		return "rejected"
	case EndFailed:
		return "failed"
	case EndPhoneClosed:
		return "phone-closed"
	}
	return fmt.Sprintf("EndReason(%d)", int(r))
}

// Call is one call of a Phone, placed with Dial or received (Incoming). It is
// safe for concurrent use. Its media run from its creation until it ends:
// everything it receives is recorded (Heard), and it sends its tone while the
// call is answered and not on hold.
type Call struct {
	p         *Phone
	outbound  bool
	key       callKey
	transport string // "udp", "tcp" or "tls"
	sips      bool   // a sips: dialog (over TLS): our Contact is sips: too
	srtpKey   []byte // our SRTP master key and salt, for every offer and answer; nil unless PhoneConfig.SRTP
	invite    *sip.Request
	log       *slog.Logger
	media     *media

	ringing, answered, ended         chan struct{}
	ringOnce, answerOnce, finishOnce sync.Once

	sigMu sync.Mutex // serialises the requests this phone sends in the dialog

	mu         sync.Mutex // guards the fields below
	uac        *sipgo.DialogClientSession
	uas        *sipgo.DialogServerSession
	dialCancel context.CancelCauseFunc // outbound, until answered
	reason     EndReason
	code       int   // final status code of the INVITE, 0 before it
	err        error // why the call failed or ended
	local      localSDP
	localBody  []byte
	remote     *remoteMedia
	remoteBody []byte
	codec      Codec
	tePT       int       // telephone-event payload type negotiated, -1 for none
	want       Direction // the direction this phone asks for
	muted      bool      // on Hold: sends nothing
	silenced   bool      // SetMuted: sends nothing, no signalling
	early      bool      // sending early media (183)
	up         bool      // answered and not ended
	ackAnswer  bool      // an SDP offer went in a 2xx; its answer comes in the ACK
	noOffer    bool      // the last INVITE this phone sent had no SDP: the 2xx has the offer
	infoDigits []byte
	srtpOn     bool // the negotiated media are SRTP
}

// newCall creates a call with fresh media.
func (p *Phone) newCall(outbound bool, transport string) (*Call, error) {
	m, err := newMedia(&p.cfg, p.wav, p.log)
	if err != nil {
		return nil, err
	}
	c := &Call{
		p:         p,
		outbound:  outbound,
		transport: transport,
		media:     m,
		ringing:   make(chan struct{}),
		answered:  make(chan struct{}),
		ended:     make(chan struct{}),
		tePT:      -1,
		local: localSDP{
			sessionID: uint64(m.ssrc),
			version:   1,
			addr:      m.localAddr(),
			ptime:     p.cfg.Ptime,
		},
	}
	if p.cfg.SRTP {
		c.srtpKey = newSRTPKey()
	}
	c.log = p.log
	return c, nil
}

// CallID returns the SIP Call-ID.
func (c *Call) CallID() string { return c.key.callID }

// Outbound reports whether this phone placed the call.
func (c *Call) Outbound() bool { return c.outbound }

// Transport returns the transport of the call's signalling: "udp", "tcp"
// or "tls".
func (c *Call) Transport() string { return c.transport }

// SRTP reports whether the call's media are SRTP: RTP/SAVP with SDES keys
// was negotiated. A call of a PhoneConfig.SRTP phone reports true once its
// SDP offer or answer was applied; the phone never negotiates plain RTP.
func (c *Call) SRTP() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srtpOn
}

// Header returns the value of the first header called name in the initial
// INVITE (sent for an outbound call, received for an inbound one), or "".
func (c *Call) Header(name string) string {
	if h := c.invite.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Ringing returns a channel closed when the call rings: when the phone
// received (outbound) or sent (inbound) 180 or 183.
func (c *Call) Ringing() <-chan struct{} { return c.ringing }

// Answered returns a channel closed when the call is answered: after the 2xx
// was ACKed (outbound: once this phone sent the ACK).
func (c *Call) Answered() <-chan struct{} { return c.answered }

// Ended returns a channel closed when the call has ended; EndReason says why.
// Its media are stopped by then.
func (c *Call) Ended() <-chan struct{} { return c.ended }

// EndReason returns why the call ended, or EndNone while it lasts.
func (c *Call) EndReason() EndReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// StatusCode returns the final response code of the INVITE (200 when
// answered, e.g. 486 when rejected, 487 when cancelled), or 0 before it.
func (c *Call) StatusCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// Err returns why the call failed or ended, nil while it lasts. For a rejected
// outbound call it is a *StatusError; for EndRemoteBye or EndLocalBye it is nil.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// WaitEnded blocks until the call ends or ctx is done, and returns the reason.
func (c *Call) WaitEnded(ctx context.Context) (EndReason, error) {
	select {
	case <-c.ended:
		return c.EndReason(), nil
	case <-ctx.Done():
		return EndNone, ctx.Err()
	}
}

// Codec returns the negotiated codec, "" before an SDP answer.
func (c *Call) Codec() Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}

// TelephoneEventPT returns the negotiated RFC 4733 payload type, or -1.
func (c *Call) TelephoneEventPT() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tePT
}

// LocalSDP returns the last SDP this phone sent in the call.
func (c *Call) LocalSDP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.localBody)
}

// RemoteSDP returns the last SDP this phone received in the call.
func (c *Call) RemoteSDP() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.remoteBody)
}

// Stats returns a snapshot of the call's RTP counters.
func (c *Call) Stats() Stats { return c.media.stats() }

// SetTone changes what the call sends to a sine at hz; 0 sends silence. It
// replaces PhoneConfig.WAV for this call.
func (c *Call) SetTone(hz float64) { c.media.setTone(hz) }

// markRinging closes Ringing.
func (c *Call) markRinging() { c.ringOnce.Do(func() { close(c.ringing) }) }

// markAnswered records the answer and starts sending.
func (c *Call) markAnswered() {
	c.mu.Lock()
	if c.reason != EndNone {
		c.mu.Unlock()
		return
	}
	c.up, c.early, c.code, c.dialCancel = true, false, 200, nil
	c.updateSendingLocked()
	c.mu.Unlock()
	c.markRinging()
	c.answerOnce.Do(func() { close(c.answered) })
	c.log.Info("call answered", "outbound", c.outbound, "codec", c.Codec())
}

// finish ends the call once: records why, stops its media and forgets it.
func (c *Call) finish(reason EndReason, code int, err error) {
	c.finishOnce.Do(func() {
		c.mu.Lock()
		c.reason, c.err, c.up, c.early = reason, err, false, false
		if code != 0 {
			c.code = code
		}
		if c.dialCancel != nil {
			c.dialCancel(sipgo.WaitAnswerForceCancelErr)
			c.dialCancel = nil
		}
		c.mu.Unlock()
		c.media.close()
		c.p.unregister(c)
		close(c.ended)
		c.log.Info("call ended", "outbound", c.outbound, "reason", reason, "code", code)
	})
}

// updateSendingLocked lets the media send when the call is up (or in early
// media), not muted, and both directions allow this phone to send.
func (c *Call) updateSendingLocked() {
	on := (c.up || c.early) && !c.muted && !c.silenced && c.remote != nil &&
		c.local.dir.sends() && c.remote.dir.recvs() && c.remote.hasAddr()
	c.media.setSending(on)
}

// Hangup ends the call: BYE when answered, CANCEL while an outbound call
// rings. It blocks until the remote side confirmed, or ctx is done; the call
// has ended either way when it returns, except for a CANCEL cut short by ctx,
// which completes in the background. It returns ErrCallEnded if the call had
// already ended, and ErrNotAnswered for an inbound call not yet answered.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	reason, up, cancel := c.reason, c.up, c.dialCancel
	c.mu.Unlock()
	switch {
	case reason != EndNone:
		return ErrCallEnded
	case up:
		return c.bye(ctx)
	case c.outbound && cancel != nil:
		cancel(context.Canceled) // sipgo sends CANCEL once a provisional response came
		select {
		case <-c.ended:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ErrNotAnswered
}

// bye sends BYE and ends the call.
func (c *Call) bye(ctx context.Context) error {
	c.sigMu.Lock()
	defer c.sigMu.Unlock()
	c.mu.Lock()
	uac, uas := c.uac, c.uas
	c.mu.Unlock()
	var err error
	if uac != nil {
		err = uac.Bye(ctx)
	} else {
		err = uas.Bye(ctx)
	}
	err = dialogErr(err)
	c.finish(EndLocalBye, 0, nil)
	if err != nil {
		return fmt.Errorf("mediaservertest: bye: %w", err)
	}
	return nil
}

// hangupOnClose is Close's polite hangup of a call still up or ringing.
func (c *Call) hangupOnClose(ctx context.Context) {
	c.mu.Lock()
	up, ringingOut := c.up, c.outbound && c.dialCancel != nil && c.reason == EndNone
	c.mu.Unlock()
	if up || ringingOut {
		_ = c.Hangup(ctx)
	}
}

// dialogErr turns sipgo's response errors into *StatusError.
func dialogErr(err error) error {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) && de.Res != nil {
		return &StatusError{Code: de.Res.StatusCode, Reason: de.Res.Reason}
	}
	var dv sipgo.ErrDialogResponse
	if errors.As(err, &dv) && dv.Res != nil {
		return &StatusError{Code: dv.Res.StatusCode, Reason: dv.Res.Reason}
	}
	return err
}

// String describes the call for logs and test failures.
func (c *Call) String() string {
	dir := "inbound"
	if c.outbound {
		dir = "outbound"
	}
	return fmt.Sprintf("%s call %s on %s", dir, c.key.callID, c.p.URI())
}

// waitFor polls cond every poll until it returns true or ctx is done.
func waitFor(ctx context.Context, poll time.Duration, cond func() bool) error {
	if cond() {
		return nil
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if cond() {
				return nil
			}
		}
	}
}

// SetMuted stops (true) or resumes (false) the phone's RTP without any
// signalling, like a phone whose media stream died while its dialog stays
// up. Use it to test media timeouts.
func (c *Call) SetMuted(muted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.silenced = muted
	c.updateSendingLocked()
}
