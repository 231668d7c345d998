package mediaserver_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestCloseFromHandler: Close called inside a Handler method returns (it
// cancels the pending decision) and the call ends cleanly.
func TestCloseFromHandler(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	h := newRecorder()
	var srv *mediaserver.Server
	closed := make(chan error, 1)
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		closed <- srv.Close()
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	srv = startServer(t, h, func(c *mediaserver.Config) { c.DecisionTimeout = time.Minute })
	_, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	var se *mediaservertest.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("dial: %v, want a rejection", err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close called from a Handler did not return")
	}
}

// TestRecordingsAllFinish: a recording started by the newCall answer and a
// second one started on the connection both end with the session, each
// with its recordingReady after sessionCompleted.
func TestRecordingsAllFinish(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI(), CallRecording: true, Filename: "first"})
	var mu sync.Mutex
	var ready []string
	h.RecordingReadyFunc = func(_ context.Context, r *mediaserver.RecordingReadyRequest) error {
		mu.Lock()
		ready = append(ready, r.Filename)
		mu.Unlock()
		return nil
	}
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ab := h.conn(ctx, t, 0)
	if !ab.CallRecording {
		t.Error("callAnswered does not say the call is recorded")
	}
	req := mediaserver.RecordingRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID, Filename: "second", Channels: 2}
	if err := srv.StartRecording(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartRecording(ctx, mediaserver.RecordingRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID, Filename: "second"}); !errors.Is(err, mediaserver.ErrInvalidState) {
		t.Errorf("a taken recording name: %v, want ErrInvalidState (409)", err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "sessionCompleted")
	for {
		mu.Lock()
		n := len(ready)
		mu.Unlock()
		if n == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("recordingReady for %v only", ready)
		case <-time.After(10 * time.Millisecond):
		}
	}
	evs := h.Events()
	if evs[len(evs)-3] != "sessionCompleted" {
		t.Errorf("callbacks end %v, want sessionCompleted then two recordingReady", evs[len(evs)-3:])
	}
}

// TestConnectRefusesABusyTarget: connect with a participant that talks to
// someone else is refused at the loop; the asker is asked again and the
// busy pair is not disturbed.
func TestConnectRefusesABusyTarget(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "userA", 440)
	b := newPhone(t, "userB", 1000)
	c := newPhone(t, "userC", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI()})
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := h.conn(ctx, t, 0)
	// C calls in separately and its newCall answer is connect with A.
	h.mu.Lock()
	h.newCall = mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: ab.CallerParticipantID}
	h.mu.Unlock()
	asked := make(chan string, 4)
	h.on(mediaserver.EventCalledPartyDrop, "userC", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		asked <- req.Reason
		return mediaserver.Action{Action: mediaserver.ActionDrop}
	})
	cc, err := c.DialAsync(ctx, serverURI(srv, "y"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-asked:
		if r != "connectFailed" {
			t.Errorf("reason %q, want connectFailed", r)
		}
	case <-ctx.Done():
		t.Fatal("C was not asked again")
	}
	if _, err := cc.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("A lost B: %v", err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B lost A: %v", err)
	}
}

// TestVoicemailHangup: a caller who hangs up while leaving a message: the
// recording keeps what was said and a last getIvrCommand (reason hangup)
// reports it.
func TestVoicemailHangup(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	h := newIvrHandler(mediaserver.IvrCommand{Record: &mediaserver.RecordCommand{FileName: "vm-1", MaxDuration: 60}})
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "vm"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.next(ctx, t) // connected
	talk, cancel := context.WithTimeout(ctx, time.Second)
	_ = ca.WaitSilence(talk, time.Hour) // speak for a second
	cancel()
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	last := h.next(ctx, t)
	rp := last.RecordParams
	if last.Reason != "hangup" || rp == nil || rp.Reason != "hangup" || rp.FileName != "vm-1.wav" || rp.Duration < 0.5 {
		t.Fatalf("last getIvrCommand %+v, recordParams %+v", last, rp)
	}
	f, _, err := srv.OpenPrompt("vm-1.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := mediaservertest.ReadWAV(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if s := mediaservertest.ToneShare(w.Channels[0], 440); s < 0.8 {
		t.Errorf("message holds the caller's tone at share %.2f", s)
	}
	h.wait(ctx, t, "sessionCompleted")
}
