package sip

import (
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// waitFor polls cond (state changed by another goroutine) for a bounded
// time; it does not assert anything about timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSessionTimerPeerRefreshes(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"), "Session-Expires: 120;refresher=uac", "Supported: timer")
	p.expect(100)
	res := p.expect(200)
	if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "120;refresher=uac" {
		t.Fatalf("Session-Expires %v", h)
	}
	if h := res.GetHeader("Require"); h == nil || h.Value() != "timer" {
		t.Fatalf("Require %v", h)
	}
	d.established(res)
	app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	c := a.findDialog(d.callID, d.toTag)

	// The peer refreshes at half the interval; the call stays up past the
	// first expiry deadline (120 - 32 = 88 s).
	clk.Advance(60 * time.Second)
	d.req("UPDATE", "", "Session-Expires: 120;refresher=uac", "Supported: timer")
	if h := p.expect(200).GetHeader("Session-Expires"); h == nil || h.Value() != "120;refresher=uac" {
		t.Fatalf("refresh answer Session-Expires %v", h)
	}
	clk.Advance(60 * time.Second)
	if c.ended() || app.rec.pending() != 0 {
		t.Fatal("call ended although refreshed")
	}
	// A re-INVITE refreshes too.
	d.req("INVITE", sdpOffer(30000, "0"), "Session-Expires: 120;refresher=uac", "Supported: timer")
	p.expect(200)
	d.ack(d.cseq, "")
	app.rec.expect("media")
	waitFor(t, "the ACK", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pend == nil
	})
	clk.Advance(87 * time.Second)
	if c.ended() {
		t.Fatal("call ended before the deadline")
	}
	// No refresh: at 88 s after the last one we send BYE.
	clk.Advance(2 * time.Second)
	req := p.request()
	if req.Method != sip.BYE {
		t.Fatalf("want BYE, got %s", req.StartLine())
	}
	p.reply(req, 200, "", nil, "")
	if e := app.rec.expect("end"); e.reason.Cause != EndSessionExpired || !errors.Is(e.reason.Err, ErrTimeout) {
		t.Fatalf("end %+v", e.reason)
	}
}

func TestSessionTimerWeRefresh(t *testing.T) {
	for _, viaUpdate := range []bool{true, false} {
		name := "reinvite"
		if viaUpdate {
			name = "update"
		}
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			app := newInboundApp(t)
			answerAll(app)
			a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{clk: clk})
			p := newUDPPeer(t, a)
			d := p.newDialog()
			allow := "Allow: INVITE, ACK, BYE, CANCEL"
			if viaUpdate {
				allow += ", UPDATE"
			}
			d.invite(sdpOffer(30000, "0"), "Session-Expires: 180;refresher=uas", "Supported: timer", allow)
			p.expect(100)
			res := p.expect(200)
			if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "180;refresher=uas" {
				t.Fatalf("Session-Expires %v", h)
			}
			d.established(res)
			app.call(t)
			d.ack(1, "")
			app.rec.expect("ack")
			c := a.findDialog(d.callID, d.toTag)
			for round := range 3 {
				clk.Advance(90 * time.Second)
				req := p.request()
				if viaUpdate && req.Method != sip.UPDATE || !viaUpdate && req.Method != sip.INVITE {
					t.Fatalf("round %d: refresh %s", round, req.StartLine())
				}
				if h := req.GetHeader("Session-Expires"); h == nil || h.Value() != "180;refresher=uac" {
					t.Fatalf("refresh Session-Expires %v", h)
				}
				if !viaUpdate && originVersion(t, req.Body()) != originVersion(t, res.Body()) {
					t.Fatalf("refresh changed our SDP:\n%s", req.Body())
				}
				body := ""
				if !viaUpdate {
					body = sdpOffer(30000, "0")
				}
				p.reply(req, 200, d.fromTag, []string{"Session-Expires: 180;refresher=uac", "Require: timer", "Contact: <sip:alice@" + p.host + ">"}, body)
				if !viaUpdate {
					if ack := p.request(); ack.Method != sip.ACK || ack.CSeq().SeqNo != req.CSeq().SeqNo {
						t.Fatalf("want ACK, got %s", ack.StartLine())
					}
				}
				waitFor(t, "refresh done", func() bool {
					c.mu.Lock()
					defer c.mu.Unlock()
					return !c.uacPending
				})
				if c.ended() {
					t.Fatal("call ended")
				}
			}
			// A refresh refused with 481 ends the call.
			clk.Advance(90 * time.Second)
			req := p.request()
			p.reply(req, 481, d.fromTag, nil, "")
			bye := p.request()
			if bye.Method == sip.ACK { // the transaction's ACK to the 481
				bye = p.request()
			}
			if bye.Method != sip.BYE {
				t.Fatalf("want BYE, got %s", bye.StartLine())
			}
			p.reply(bye, 481, "", nil, "")
			e := app.rec.expect("end")
			var se *StatusError
			if e.reason.Cause != EndSessionExpired || !errors.As(e.reason.Err, &se) || se.Code != 481 {
				t.Fatalf("end %+v", e.reason)
			}
		})
	}
}

func TestReinviteGlare(t *testing.T) {
	clk := newFakeClock()
	app := newInboundApp(t)
	answerAll(app)
	a := startAgent(t, Config{OnInvite: app.OnInvite}, agentOpts{clk: clk})
	p := newUDPPeer(t, a)
	d := p.newDialog()
	d.invite(sdpOffer(30000, "0"), "Session-Expires: 120;refresher=uas", "Supported: timer", "Allow: INVITE, ACK, BYE")
	p.expect(100)
	d.established(p.expect(200))
	app.call(t)
	d.ack(1, "")
	app.rec.expect("ack")
	clk.Advance(60 * time.Second)
	ours := p.request() // our refreshing re-INVITE, left unanswered for now
	if ours.Method != sip.INVITE {
		t.Fatalf("want INVITE, got %s", ours.StartLine())
	}
	d.req("INVITE", sdpOffer(30000, "0", "a=sendonly"))
	p.expect(491)
	p.reply(ours, 200, d.fromTag, []string{"Contact: <sip:alice@" + p.host + ">"}, sdpOffer(30000, "0"))
	if ack := p.request(); ack.Method != sip.ACK {
		t.Fatalf("want ACK, got %s", ack.StartLine())
	}
}
