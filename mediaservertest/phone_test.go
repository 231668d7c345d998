package mediaservertest

import (
	"context"
	"testing"
	"time"
)

// testCtx returns a context for one test step: generous, for a loaded
// 2-core machine running -race.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCallBothHearEachOther(t *testing.T) {
	a := NewPhone(t, PhoneConfig{User: "alice", ToneHz: 600})
	b := NewPhone(t, PhoneConfig{User: "bob", ToneHz: 1800})
	ctx := testCtx(t)

	ca, err := a.Dial(ctx, b.URI(), DialOptions{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatalf("Incoming: %v", err)
	}
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Error(err)
	}
	if err := cb.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Error(err)
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Errorf("Hangup: %v", err)
	}
	if r, err := cb.WaitEnded(ctx); err != nil || r != EndRemoteBye {
		t.Errorf("B ended with %v, %v; want remote-bye", r, err)
	}
}
