package mediaserver_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
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

// TestGracefulShutdownMany: Shutdown with an IVR call, a conference of two
// (recorded) and a recorded bridged call in progress, and a drain deadline
// they all outlive: every leg gets a BYE, every session's sessionCompleted
// and both recordingReady arrive before Shutdown returns, and both WAV
// files hold the audio of the call up to the end.
func TestGracefulShutdownMany(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	bob := newPhone(t, "bob", 1000)
	var (
		mu        sync.Mutex
		completed = map[string]bool{}
		ready     = map[string]*mediaserver.RecordingReadyRequest{}
		confID    string
	)
	h := newRecorder()
	h.NewCallFunc = func(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		switch strings.TrimPrefix(strings.SplitN(req.CalledParty, "@", 2)[0], "sip:") {
		case "ivr":
			return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
		case "conf":
			mu.Lock()
			defer mu.Unlock()
			return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: confID}, nil
		}
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: bob.URI(), CallRecording: true, Filename: "bridge"}, nil
	}
	h.GetIvrCommandFunc = func(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{file("greet")}, Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1, Timeout: 60}}, nil
	}
	h.CallEventFunc = func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	h.SessionCompletedFunc = func(_ context.Context, r *mediaserver.SessionCompletedRequest) error {
		mu.Lock()
		completed[r.SessionID] = true
		mu.Unlock()
		return nil
	}
	h.RecordingReadyFunc = func(_ context.Context, r *mediaserver.RecordingReadyRequest) error {
		mu.Lock()
		ready[r.Filename] = r
		mu.Unlock()
		return nil
	}
	dataDir := t.TempDir()
	srv := startServer(t, h, func(c *mediaserver.Config) { c.DataDir = dataDir })
	putPrompt(t, srv, "greet.wav", toneWAV(700, 3*time.Second))
	id, err := srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{CallRecording: true, Filename: "conf"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	confID = id
	mu.Unlock()

	dial := func(user, to string, hz float64) *mediaservertest.Call {
		t.Helper()
		c, err := newPhone(t, user, hz).Dial(ctx, serverURI(srv, to), mediaservertest.DialOptions{})
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		return c
	}
	ivr := dial("ivrcaller", "ivr", 0)
	conf1 := dial("conf1", "conf", 440)
	conf2 := dial("conf2", "conf", 1800)
	caller := dial("caller", "desk", 600)
	callee, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		c  *mediaservertest.Call
		hz float64
	}{{ivr, 700}, {conf1, 1800}, {conf2, 440}, {caller, 1000}, {callee, 600}} {
		if err := w.c.WaitHeard(ctx, w.hz, 0.3); err != nil {
			t.Fatalf("before Shutdown, a leg does not hear %v Hz: %v", w.hz, err)
		}
	}

	drain, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown has returned: every callback was delivered and every leg
	// was sent its BYE.
	for _, c := range []*mediaservertest.Call{ivr, conf1, conf2, caller, callee} {
		if r, err := c.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
			t.Errorf("a leg ended with %v, %v; want the server's BYE", r, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(completed) != 4 {
		t.Errorf("sessionCompleted for %d sessions, want 4 (IVR, two conference callers, bridge)", len(completed))
	}
	for name, hz := range map[string][]float64{"bridge.wav": {600, 1000}, "conf.wav": {440, 1800}} {
		r := ready[name]
		if r == nil {
			t.Errorf("no recordingReady for %s (got %v)", name, ready)
			continue
		}
		w, err := mediaservertest.ReadWAV(filepath.Join(dataDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		mono := w.Channels[0]
		if len(mono) < 8000 || r.Duration < 1 {
			t.Errorf("%s: %d samples, recordingReady duration %v; want the whole call", name, len(mono), r.Duration)
			continue
		}
		last := mono[len(mono)-4000:] // the last half second, up to the BYE
		for _, f := range hz {
			if s := mediaservertest.ToneShare(last, f); s < 0.1 {
				t.Errorf("%s: the last half second has %.2f of %v Hz", name, s, f)
			}
		}
	}
}
