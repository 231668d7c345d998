package mediaserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestForwardCall: A calls in, the Handler answers call to B, B answers; A
// hears B's 1 kHz tone and B hears A's 440 Hz tone; A hangs up →
// callingPartyDrop for B → drop → B gets BYE → sessionCompleted.
func TestForwardCall(t *testing.T) {
	for _, tc := range []struct {
		name         string
		codecA, codB mediaservertest.Codec
	}{
		{"PCMU-PCMU", mediaservertest.PCMU, mediaservertest.PCMU},
		{"PCMU-PCMA", mediaservertest.PCMU, mediaservertest.PCMA},
		{"PCMA-PCMU", mediaservertest.PCMA, mediaservertest.PCMU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			b := newPhone(t, "bob", 1000, func(c *mediaservertest.PhoneConfig) { c.Codecs = []mediaservertest.Codec{tc.codB} })
			a := newPhone(t, "alice", 440, func(c *mediaservertest.PhoneConfig) { c.Codecs = []mediaservertest.Codec{tc.codecA} })
			h := callTo(b.URI())
			srv := startServer(t, h)

			ca, err := a.Dial(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := b.Incoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
				t.Fatalf("A does not hear B: %v", err)
			}
			if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
				t.Fatalf("B does not hear A: %v", err)
			}
			if s := ca.HeardSince(time.Now().Add(-500 * time.Millisecond)).Share(440); s > 0.05 {
				t.Errorf("A hears its own tone (share %.2f)", s)
			}
			if err := ca.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if r, err := cb.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
				t.Fatalf("B ended with %v, %v; want remote BYE", r, err)
			}
			h.wait(ctx, t, "sessionCompleted")
			wantEvents(t, h.Events(), "newCall", "callAnswered", "callEvent:callingPartyDrop:hangup", "sessionCompleted")
			waitSessions(ctx, t, srv, 0)
		})
	}
}

// TestCalleeBusy: B answers 486 → calledPartyFailed (busy, 486) → the
// Handler's drop is honoured: A gets BYE, the session completes.
func TestCalleeBusy(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := newPhone(t, "bob", 1000, func(c *mediaservertest.PhoneConfig) { c.AnswerCode = 486 })
	a := newPhone(t, "alice", 440)
	h := callTo(b.URI())
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ca.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("A ended with %v, %v; want BYE", r, err)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "newCall", "callEvent:calledPartyFailed:busy", "sessionCompleted")
}

// TestCancelBeforeAnswer: A cancels while the Handler still decides: A
// gets 200 for the CANCEL and 487 for the INVITE, the late decision is
// discarded and the session completes.
func TestCancelBeforeAnswer(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	h := newRecorder()
	release := make(chan struct{})
	h.NewCallFunc = func(ctx context.Context, _ *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	defer close(release)
	srv := startServer(t, h)
	ca, err := a.DialAsync(ctx, serverURI(srv, "forward"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "newCall")
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := ca.WaitEnded(ctx)
	if err != nil || r != mediaservertest.EndLocalCancel {
		t.Fatalf("A ended with %v, %v; want local cancel", r, err)
	}
	if code := ca.StatusCode(); code != 487 {
		t.Errorf("INVITE final status %d, want 487", code)
	}
	h.wait(ctx, t, "sessionCompleted")
	waitSessions(ctx, t, srv, 0)
}

// TestRingbackAndEarlyMedia (decision 11): while the callee rings the
// answered caller hears ringback (425 Hz); a callee's 183 early media
// replaces it.
func TestRingbackAndEarlyMedia(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := newPhone(t, "bob", 1000, func(c *mediaservertest.PhoneConfig) { c.RingFor = 3 * time.Second })
	a := newPhone(t, "alice", 440)
	srv := startServer(t, callTo(b.URI()))
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 425, 0.5); err != nil {
		t.Fatalf("A hears no ringback: %v", err)
	}

	e := newPhone(t, "early", 1800, func(c *mediaservertest.PhoneConfig) {
		c.RingFor = 3 * time.Second
		c.EarlyMedia = true
	})
	srv2 := startServer(t, callTo(e.URI()))
	ca2, err := a.Dial(ctx, serverURI(srv2, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca2.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear the callee's early media: %v", err)
	}
	if s := ca2.Heard().Share(425); s > 0.05 {
		t.Errorf("A heard ringback despite early media (share %.2f)", s)
	}
}

// TestAnswerWithCallee (decision 11): the caller stays unanswered while
// the callee rings, gets its 180, and a drop answer to calledPartyFailed
// rejects the caller with the callee's status.
func TestAnswerWithCallee(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := newPhone(t, "bob", 1000, func(c *mediaservertest.PhoneConfig) {
		c.RingFor = 500 * time.Millisecond
		c.AnswerCode = 486
	})
	a := newPhone(t, "alice", 440)
	h := callTo(b.URI())
	srv := startServer(t, h, func(c *mediaserver.Config) { c.AnswerMode = mediaserver.AnswerWithCallee })
	ca, err := a.DialAsync(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ca.Ringing():
	case <-ctx.Done():
		t.Fatal("A did not get the callee's 180")
	}
	if r, err := ca.WaitEnded(ctx); err != nil || r != mediaservertest.EndRejected || ca.StatusCode() != 486 {
		t.Fatalf("A ended with %v (status %d), %v; want rejected with 486", r, ca.StatusCode(), err)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "newCall", "callNotify:ringing", "callEvent:calledPartyFailed:busy", "sessionCompleted")
}

// TestNotifyDigits: with Config.NotifyDigits, digits of a bridged call are
// relayed to the other party and also reported by callNotify "dtmf".
func TestNotifyDigits(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := newPhone(t, "bob", 1000)
	a := newPhone(t, "alice", 440)
	h := callTo(b.URI())
	digits := make(chan string, 8)
	h.CallNotifyFunc = func(_ context.Context, req *mediaserver.CallNotifyRequest) error {
		if req.Event == mediaserver.NotifyDTMF {
			digits <- req.User + ":" + req.Digit
		}
		return nil
	}
	srv := startServer(t, h, func(c *mediaserver.Config) { c.NotifyDigits = true })
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.SendDigits(ctx, "5", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-digits:
		if d != "bob:5" {
			t.Errorf("callNotify dtmf %q, want bob:5", d)
		}
	case <-ctx.Done():
		t.Fatal("no callNotify dtmf")
	}
	if got, err := ca.WaitDigits(ctx, 1, mediaservertest.DTMFRFC4733); err != nil || got != "5" {
		t.Errorf("A got %q, %v: the digit must still be relayed", got, err)
	}
}
