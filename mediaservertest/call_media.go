package mediaservertest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Parameters of WaitHeard (INTEROP.md section 3).
const (
	heardWindow    = 500 * time.Millisecond // audio considered: what arrived this recently
	heardMinAudio  = 250 * time.Millisecond // of which at least this much
	activeMinLevel = -45.0                  // dBFS; quieter audio is not "heard"
)

// Heard returns a copy of all audio the call has received (at most the last
// 120 s), decoded from PCMU and PCMA to 8 kHz PCM.
func (c *Call) Heard() Audio { return c.media.rx.audioSince(time.Time{}) }

// HeardSince returns a copy of the audio of the packets received at or after t.
func (c *Call) HeardSince(t time.Time) Audio { return c.media.rx.audioSince(t) }

// WaitHeard blocks until the call hears a tone of freq Hz: until the audio of
// the packets received in the last 0.5 s (at least 0.25 s of it) is above
// -45 dBFS and has a ToneShare at freq of minShare or more. Use minShare 0.5
// for "mostly this tone", 0.05 for "audible in a mix". Only fresh audio
// counts, so a tone heard earlier does not satisfy it. It returns nil; an
// error wrapping ErrCallEnded as soon as the call ends without having heard
// it; or ctx's error wrapped with a description of what was heard instead.
func (c *Call) WaitHeard(ctx context.Context, freq, minShare float64) error {
	var last Audio
	ended := false
	err := waitFor(ctx, 10*time.Millisecond, func() bool {
		last = c.HeardSince(time.Now().Add(-heardWindow))
		if last.Duration() >= heardMinAudio && last.Level() > activeMinLevel && last.Share(freq) >= minShare {
			return true
		}
		select {
		case <-c.ended: // it will hear nothing more: do not wait for ctx
			ended = true
			return true
		default:
			return false
		}
	})
	if ended {
		err = fmt.Errorf("%w (%v)", ErrCallEnded, c.EndReason())
	}
	if err != nil {
		return fmt.Errorf("mediaservertest: %s did not hear %.0f Hz (share >= %.2f): heard %s: %w",
			c, freq, minShare, describe(last, freq), err)
	}
	return nil
}

// WaitSilence blocks until the call has heard only silence for d: after it
// was called, a span of d passed in which the packets received were all
// below SilenceDBFS, or none arrived. It returns nil, or ctx's error wrapped
// with a description of what was heard.
func (c *Call) WaitSilence(ctx context.Context, d time.Duration) error {
	start := time.Now()
	var last Audio
	err := waitFor(ctx, 10*time.Millisecond, func() bool {
		now := time.Now()
		if now.Sub(start) < d {
			return false
		}
		last = c.HeardSince(now.Add(-d))
		return last.Level() < SilenceDBFS
	})
	if err != nil {
		return fmt.Errorf("mediaservertest: %s did not hear %v of silence: last heard %s: %w", c, d, describe(last, 0), err)
	}
	return nil
}

// describe summarises audio for error messages.
func describe(a Audio, freq float64) string {
	if len(a.samples) == 0 {
		return "nothing"
	}
	s := fmt.Sprintf("%v at %s, dominant %.0f Hz", a.Duration().Round(time.Millisecond), levelString(a.Level()), a.DominantFrequency())
	if freq > 0 {
		s += fmt.Sprintf(", share at %.0f Hz %.2f", freq, a.Share(freq))
	}
	return s
}

// SendDigits sends DTMF digits (0-9, *, #, A-D) and blocks until all are sent
// or ctx is done. In DTMFRFC4733 mode each digit is an RFC 4733 event of
// 100 ms (marker on its first packet, one timestamp for all its packets,
// growing duration, the end packet sent three times), followed by 100 ms of
// audio. In DTMFInband mode each digit is 100 ms of dual tone mixed into the
// audio, then 100 ms without. Both need the call to be sending media
// (ErrNotSending otherwise), and RFC 4733 needs telephone-event
// (ErrNoTelephoneEvent). In DTMFInfo mode each digit is one SIP INFO request
// (application/dtmf-relay), sent once the previous one was answered; a
// failure response is returned as *StatusError. If ctx ends first, digits not
// yet started are dropped.
func (c *Call) SendDigits(ctx context.Context, digits string, mode DTMFMode) error {
	digits, err := normalizeDigits(digits)
	if err != nil {
		return err
	}
	switch mode {
	case DTMFInfo:
		for i := range len(digits) {
			if err := c.sendInfo(ctx, digits[i]); err != nil {
				return err
			}
		}
		return nil
	case DTMFRFC4733, DTMFInband:
	default:
		return fmt.Errorf("mediaservertest: unknown %v", mode)
	}
	if len(digits) == 0 {
		return nil
	}
	items, err := c.media.queueDigits(digits, mode)
	if err != nil {
		return err
	}
	last := items[len(items)-1]
	select {
	case <-last.done:
		return last.err
	case <-ctx.Done():
		c.media.unqueue(items)
		return ctx.Err()
	}
}

// sendInfo sends one digit by SIP INFO.
func (c *Call) sendInfo(ctx context.Context, d byte) error {
	c.sigMu.Lock()
	defer c.sigMu.Unlock()
	c.mu.Lock()
	up, uac, uas, target := c.up, c.uac, c.uas, c.remoteTargetLocked()
	c.mu.Unlock()
	if !up {
		if c.EndReason() != EndNone {
			return ErrCallEnded
		}
		return ErrNotAnswered
	}
	req := sip.NewRequest(sip.INFO, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", d, digitSamples*1000/SampleRate))
	var res *sip.Response
	var err error
	if uac != nil {
		res, err = uac.Do(ctx, req)
	} else {
		res, err = uas.Do(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("mediaservertest: INFO: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("mediaservertest: INFO: %w", &StatusError{Code: res.StatusCode, Reason: res.Reason})
	}
	return nil
}

// ReceivedDigits returns the RFC 4733 digits received so far, in order, each
// event once however many packets carried it.
func (c *Call) ReceivedDigits() string { return c.media.rx.receivedDigits() }

// ReceivedInfoDigits returns the digits received so far by SIP INFO
// (application/dtmf-relay or application/dtmf), in order.
func (c *Call) ReceivedInfoDigits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.infoDigits)
}

// WaitDigits blocks until the call has received at least n digits the way
// mode says, or ctx is done, and returns the digits received so far: RFC 4733
// events (ReceivedDigits), SIP INFO (ReceivedInfoDigits) or in-band tones
// found in all the audio heard (Heard().Digits()). On timeout the error
// wraps ctx's error and names the digits received.
func (c *Call) WaitDigits(ctx context.Context, n int, mode DTMFMode) (string, error) {
	var got string
	read := func() string {
		switch mode {
		case DTMFInfo:
			return c.ReceivedInfoDigits()
		case DTMFInband:
			return c.Heard().Digits()
		}
		return c.ReceivedDigits()
	}
	poll := 10 * time.Millisecond
	if mode == DTMFInband {
		poll = 100 * time.Millisecond // detection scans all audio heard
	}
	err := waitFor(ctx, poll, func() bool {
		got = read()
		return len(got) >= n
	})
	if err != nil {
		return got, fmt.Errorf("mediaservertest: %s: waiting for %d %v digits, got %q: %w", c, n, mode, got, err)
	}
	return got, nil
}

// levelString formats a level for messages.
func levelString(db float64) string {
	if math.IsInf(db, -1) {
		return "silence"
	}
	return strings.TrimSpace(fmt.Sprintf("%6.1f dBFS", db))
}
