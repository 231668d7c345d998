package mediaserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestGracefulShutdown: Shutdown stops taking calls (503), lets the active
// call run until its deadline, then hangs both legs up with BYE, finishes
// the recording and delivers sessionCompleted and recordingReady.
func TestGracefulShutdown(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	c := newPhone(t, "carol", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI(), CallRecording: true, Filename: "drain"})
	ready := make(chan *mediaserver.RecordingReadyRequest, 1)
	h.RecordingReadyFunc = func(_ context.Context, r *mediaserver.RecordingReadyRequest) error {
		ready <- r
		return nil
	}
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	drain, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(drain) }()

	// A new call is refused while draining.
	_, err = c.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	var se *mediaservertest.StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Errorf("a call while draining: %v, want 503", err)
	}
	// The active call goes on meanwhile.
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Errorf("the active call stopped at once: %v", err)
	}
	for _, call := range []*mediaservertest.Call{ca, cb} {
		if r, err := call.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
			t.Fatalf("leg ended with %v, %v; want a BYE at the deadline", r, err)
		}
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Errorf("calls hung up after %v, before the drain deadline", el)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Shutdown did not return")
	}
	r := <-ready
	if r.Filename != "drain.wav" || r.Duration < 1.5 {
		t.Errorf("recordingReady %+v", r)
	}
	evs := h.Events()
	if evs[len(evs)-2] != "sessionCompleted" || evs[len(evs)-1] != "recordingReady" {
		t.Errorf("callbacks end %v", evs)
	}
}
