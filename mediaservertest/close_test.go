package mediaservertest

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestCloseWhileRinging closes phones with calls in every state and checks
// that Close leaves no goroutine behind. The tests close the phones
// themselves, before the deferred check; the Cleanup of NewPhone is a no-op then.
func TestCloseWhileRinging(t *testing.T) {
	defer goleak.VerifyNone(t)
	a := NewPhone(t, PhoneConfig{User: "alice", ToneHz: aliceHz})
	b := NewPhone(t, PhoneConfig{User: "bob", RingFor: time.Hour})
	c := NewPhone(t, PhoneConfig{User: "carol", Transport: "tcp"})
	ctx := testCtx(t)

	toB, err := a.DialAsync(ctx, b.URI(), DialOptions{}) // rings for an hour
	if err != nil {
		t.Fatal(err)
	}
	<-toB.Ringing()
	fromC, err := c.Dial(ctx, a.URI(), DialOptions{}) // answered, over TCP
	if err != nil {
		t.Fatal(err)
	}
	if err := fromC.WaitHeard(ctx, aliceHz, 0.5); err != nil {
		t.Fatal(err)
	}

	if err := b.Close(); err != nil { // the ringing callee goes away: 480
		t.Fatal(err)
	}
	if r, _ := toB.WaitEnded(ctx); r != EndRejected || toB.StatusCode() != 480 {
		t.Errorf("alice's call to the closed phone: %v %d, want rejected 480", r, toB.StatusCode())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if r, _ := fromC.WaitEnded(ctx); r != EndRemoteBye {
		t.Errorf("carol's call: %v, want remote-bye", r)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseCancelsOutbound closes a phone whose call still rings.
func TestCloseCancelsOutbound(t *testing.T) {
	defer goleak.VerifyNone(t)
	a := NewPhone(t, PhoneConfig{User: "alice"})
	b := NewPhone(t, PhoneConfig{User: "bob", RingFor: time.Hour})
	ctx := testCtx(t)
	ca, err := a.DialAsync(ctx, b.URI(), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-ca.Ringing()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if r := ca.EndReason(); r != EndLocalCancel {
		t.Errorf("alice's call after Close: %v, want local-cancel", r)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := cb.WaitEnded(ctx); r != EndRemoteCancel {
		t.Errorf("bob's call: %v, want remote-cancel", r)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStartPhone uses phones outside a test's lifetime, as the examples'
// -demo flag does.
func TestStartPhone(t *testing.T) {
	defer goleak.VerifyNone(t)
	quiet := slog.New(slog.DiscardHandler)
	a, err := StartPhone(PhoneConfig{User: "alice", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	b, err := StartPhone(PhoneConfig{User: "bob", ToneHz: bobHz}) // nil Logger: slog.Default
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dial(testCtx(t), b.URI(), DialOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(a.Close(), b.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := StartPhone(PhoneConfig{Ptime: time.Second}); err == nil {
		t.Error("StartPhone accepted an invalid config")
	}
}
