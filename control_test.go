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

// app is a scripted application: per callEvent (event + user) it answers
// with what the test put in its table, and it remembers the ids of
// callAnswered and callEvents so the test can drive REST-style calls.
type app struct {
	*recorder
	mu       sync.Mutex
	answers  map[string]func(*mediaserver.CallEventRequest) mediaserver.Action
	conns    []mediaserver.CallAnsweredRequest
	events   []mediaserver.CallEventRequest
	ivr      func(*mediaserver.IvrCommandRequest) mediaserver.IvrCommand
	newCall  mediaserver.Action
	sessions []string
}

func newApp(newCall mediaserver.Action) *app {
	a := &app{recorder: newRecorder(), newCall: newCall, answers: map[string]func(*mediaserver.CallEventRequest) mediaserver.Action{}}
	a.NewCallFunc = func(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		a.mu.Lock()
		a.sessions = append(a.sessions, req.SessionID)
		a.mu.Unlock()
		return a.newCall, nil
	}
	a.CallEventFunc = func(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		a.mu.Lock()
		a.events = append(a.events, *req)
		f := a.answers[req.Event+":"+req.User]
		a.mu.Unlock()
		if f == nil {
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		}
		return f(req), nil
	}
	a.CallAnsweredFunc = func(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
		a.mu.Lock()
		a.conns = append(a.conns, *req)
		a.mu.Unlock()
		return nil
	}
	a.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		a.mu.Lock()
		f := a.ivr
		a.mu.Unlock()
		if f == nil {
			return mediaserver.IvrCommand{}, nil
		}
		return f(req), nil
	}
	return a
}

func (a *app) on(event, user string, f func(*mediaserver.CallEventRequest) mediaserver.Action) {
	a.mu.Lock()
	a.answers[event+":"+user] = f
	a.mu.Unlock()
}

// conn waits for the n-th callAnswered (0-based).
func (a *app) conn(ctx context.Context, t *testing.T, n int) mediaserver.CallAnsweredRequest {
	t.Helper()
	for {
		a.mu.Lock()
		if len(a.conns) > n {
			c := a.conns[n]
			a.mu.Unlock()
			return c
		}
		a.mu.Unlock()
		select {
		case <-a.notify:
		case <-ctx.Done():
			t.Fatalf("no callAnswered #%d; callbacks %v", n+1, a.Events())
		}
	}
}

func drop(*mediaserver.CallEventRequest) mediaserver.Action {
	return mediaserver.Action{Action: mediaserver.ActionDrop}
}

func holdMusic(*mediaserver.IvrCommandRequest) mediaserver.IvrCommand {
	return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: "holdmusic", RepeatPause: 0.5}}
}

// TestAttendedTransfer is the examples document's attended transfer: A
// calls B; B parks A on hold music and consults C; then A and C are
// connected. Every phone sends its own tone: A 440, B 1000, C 1800 Hz,
// hold music 600 Hz.
func TestAttendedTransfer(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	a := newPhone(t, "userA", 440)
	b := newPhone(t, "userB", 1000)
	c := newPhone(t, "userC", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI()})
	h.ivr = holdMusic
	var participantA string
	h.on(mediaserver.EventCallerConnectionSplit, "userA", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		participantA = req.ParticipantID
		return mediaserver.Action{Action: mediaserver.ActionIvr}
	})
	h.on(mediaserver.EventCalleeConnectionSplit, "userB", func(*mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: c.URI()}
	})
	h.on(mediaserver.EventCallerConnectionSplit, "userB", drop)
	h.on(mediaserver.EventCalleeConnectionSplit, "userC", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: participantA, ReplyID: req.ReplyID}
	})
	srv := startServer(t, h)
	putPrompt(t, srv, "holdmusic.wav", toneWAV(600, 2*time.Second))

	ca, err := a.Dial(ctx, serverURI(srv, "pbx"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := h.conn(ctx, t, 0)
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("A does not hear B: %v", err)
	}
	// B starts the transfer: split A↔B.
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID}); err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Fatalf("A on hold does not hear hold music: %v", err)
	}
	onHold := time.Now()
	cc, err := c.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bc := h.conn(ctx, t, 2) // A↔IVR is #1
	if err := cb.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("B does not hear C: %v", err)
	}
	if err := cc.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("C does not hear B: %v", err)
	}
	if s := ca.HeardSince(onHold).Share(1000); s > 0.01 {
		t.Errorf("A on hold hears B (share %.2f)", s)
	}
	// B completes the transfer: split B↔C; B is dropped, C connected to A.
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: bc.ConnectionID, ReplyID: bc.ReplyID}); err != nil {
		t.Fatal(err)
	}
	if r, err := cb.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("B ended with %v, %v", r, err)
	}
	ac := h.conn(ctx, t, 3)
	if ac.CallerParticipantID != participantA {
		t.Errorf("A↔C caller is %s, want A %s", ac.CallerParticipantID, participantA)
	}
	since := time.Now()
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear C after the transfer: %v", err)
	}
	if err := cc.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("C does not hear A after the transfer: %v", err)
	}
	if heard := ca.HeardSince(since); heard.Share(1000) > 0.01 || heard.Share(600) > 0.05 {
		t.Errorf("after the transfer A hears B (%.2f) or hold music (%.2f)", heard.Share(1000), heard.Share(600))
	}
	// The stale replyId of the old connection is refused and changes nothing.
	err = srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID})
	if !errors.Is(err, mediaserver.ErrStaleReply) {
		t.Errorf("split of a dissolved connection: %v, want ErrStaleReply", err)
	}
	if err := ca.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "newCall", "callAnswered",
		"callEvent:callerConnectionSplit", "callAnswered", "getIvrCommand",
		"callEvent:calleeConnectionSplit", "callAnswered",
		"callEvent:callerConnectionSplit", "callEvent:calleeConnectionSplit", "callAnswered",
		"callEvent:callingPartyDrop:hangup", "sessionCompleted")
}

// TestConference is the examples document's conference: A calls B, B is
// parked, A consults C, then A, C and B join one conference. Each member
// hears the other two and not itself.
func TestConference(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	a := newPhone(t, "userA", 440)
	b := newPhone(t, "userB", 1000)
	c := newPhone(t, "userC", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI()})
	h.ivr = holdMusic
	var conf string
	join := func(*mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: conf}
	}
	h.on(mediaserver.EventCalleeConnectionSplit, "userB", func(*mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionIvr}
	})
	h.on(mediaserver.EventCallerConnectionSplit, "userA", func(*mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: c.URI()}
	})
	srv := startServer(t, h)
	putPrompt(t, srv, "holdmusic.wav", toneWAV(600, 2*time.Second))
	ca, err := a.Dial(ctx, serverURI(srv, "pbx"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := h.conn(ctx, t, 0)
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID}); err != nil {
		t.Fatal(err)
	}
	cc, err := c.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Fatalf("parked B hears no hold music: %v", err)
	}
	bivr, ac := h.conn(ctx, t, 1), h.conn(ctx, t, 2)
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A does not hear C: %v", err)
	}
	conf, err = srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	h.on(mediaserver.EventCallerConnectionSplit, "userA", join)
	h.on(mediaserver.EventCalleeConnectionSplit, "userC", join)
	h.on(mediaserver.EventCallerConnectionSplit, "userB", join)
	h.on(mediaserver.EventCalleeConnectionSplit, "", drop) // the IVR side
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ac.ConnectionID, ReplyID: ac.ReplyID}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: bivr.ConnectionID, ReplyID: bivr.ReplyID}); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "callEvent:calleeConnectionSplit") // the IVR side, after B joined
	inConference := time.Now()
	for _, tc := range []struct {
		name  string
		call  *mediaservertest.Call
		own   float64
		other []float64
	}{{"A", ca, 440, []float64{1000, 1800}}, {"B", cb, 1000, []float64{440, 1800}}, {"C", cc, 1800, []float64{440, 1000}}} {
		for _, f := range tc.other {
			if err := tc.call.WaitHeard(ctx, f, 0.2); err != nil {
				t.Fatalf("%s does not hear %v Hz in the conference: %v", tc.name, f, err)
			}
		}
		if s := tc.call.HeardSince(inConference).Share(tc.own); s > 0.02 {
			t.Errorf("%s hears itself (share %.2f)", tc.name, s)
		}
	}
	// Members leave; the conference ends with the last one.
	for _, call := range []*mediaservertest.Call{ca, cb, cc} {
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h.wait(ctx, t, "sessionCompleted")
	waitSessions(ctx, t, srv, 0)
	if _, err := srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{ReplyID: ac.ReplyID}); !errors.Is(err, mediaserver.ErrStaleReply) && !errors.Is(err, mediaserver.ErrNotFound) {
		t.Errorf("a stale replyId on createconferenceconnection: %v", err)
	}
}

// TestCallRecording is the examples document's recording flow: newCall
// answers call with callRecording and a filename; after the call,
// sessionCompleted then recordingReady, and the file (fetched like GET
// /promptfile) lasts as long as the call and holds both parties' tones.
func TestCallRecording(t *testing.T) {
	for _, channels := range []int{1, 2} {
		t.Run(map[int]string{1: "mono", 2: "two channels"}[channels], func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			a := newPhone(t, "alice", 440)
			b := newPhone(t, "bob", 1000)
			h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI(),
				CallRecording: true, Filename: "call-1", RecordingChannels: channels})
			readyc := make(chan *mediaserver.RecordingReadyRequest, 1)
			h.RecordingReadyFunc = func(_ context.Context, req *mediaserver.RecordingReadyRequest) error {
				readyc <- req
				return nil
			}
			srv := startServer(t, h)
			start := time.Now()
			ca, err := a.Dial(ctx, serverURI(srv, "rec"), mediaservertest.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
				t.Fatal(err)
			}
			talk, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			if err := ca.WaitSilence(talk, time.Second); err == nil { // talk for a while
				t.Fatal("A heard silence")
			}
			cancel()
			if err := ca.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			callLen := time.Since(start).Seconds()
			h.wait(ctx, t, "recordingReady")
			ready := <-readyc
			evs := h.Events()
			if evs[len(evs)-2] != "sessionCompleted" || evs[len(evs)-1] != "recordingReady" {
				t.Errorf("callbacks end %v; want sessionCompleted, recordingReady", evs[len(evs)-2:])
			}
			if ready.Filename != "call-1.wav" || ready.Format != "wav" || ready.Size < 8000 {
				t.Errorf("recordingReady %+v", ready)
			}
			f, _, err := srv.OpenPrompt(ready.Filename)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := mediaservertest.ReadWAV(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if len(w.Channels) != channels {
				t.Fatalf("%d channels, want %d", len(w.Channels), channels)
			}
			dur := float64(len(w.Channels[0])) / 8000
			if dur < callLen-0.5 || dur > callLen+0.2 || abs(dur-ready.Duration) > 0.05 {
				t.Errorf("recording lasts %.2f s (reported %.2f) for a call of %.2f s", dur, ready.Duration, callLen)
			}
			mid := func(x []int16) []int16 { return x[len(x)/4 : 3*len(x)/4] }
			if channels == 1 {
				m := mid(w.Channels[0])
				if mediaservertest.ToneShare(m, 440) < 0.2 || mediaservertest.ToneShare(m, 1000) < 0.2 {
					t.Errorf("the mix lacks a party: 440 Hz %.2f, 1000 Hz %.2f", mediaservertest.ToneShare(m, 440), mediaservertest.ToneShare(m, 1000))
				}
			} else {
				l, r := mid(w.Channels[0]), mid(w.Channels[1])
				if mediaservertest.ToneShare(l, 440) < 0.8 || mediaservertest.ToneShare(r, 1000) < 0.8 {
					t.Errorf("channel 1 has A at %.2f, channel 2 B at %.2f", mediaservertest.ToneShare(l, 440), mediaservertest.ToneShare(r, 1000))
				}
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestMonitor is the examples document's monitoring flow: after the first
// callAnswered the monitor is called (offered sendonly) and hears both
// parties; a failing monitor does not affect the call.
func TestMonitor(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
	m := newPhone(t, "monitor", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI(), MonitorDestAddr: m.URI()})
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "mon"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := m.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(cm.RemoteSDP(), "a=sendonly") {
		t.Errorf("monitor offer is not sendonly:\n%s", cm.RemoteSDP())
	}
	for _, f := range []float64{440, 1000} {
		if err := cm.WaitHeard(ctx, f, 0.2); err != nil {
			t.Fatalf("the monitor does not hear %v Hz: %v", f, err)
		}
	}
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
	if s := ca.Heard().Last(500 * time.Millisecond).Share(1800); s > 0.01 {
		t.Errorf("A hears the monitor (share %.2f)", s)
	}
	// The monitor hangs up; the call goes on.
	if err := cm.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "callNotify:monitorDropped")
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("B lost A after the monitor left: %v", err)
	}
	h.wait(ctx, t, "callNotify:monitorConnected")
}

func containsLine(s, line string) bool {
	for _, l := range splitLines(s) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			l := s[start:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			out = append(out, l)
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestPlaceIvrCall is the examples document's /placeivrcall flow: the
// device rings (callNotify ringing), answers (callAnswered with an IVR,
// getIvrCommand), the application connects it to the ARC, they talk, the
// device hangs up (callingPartyDrop), drop, sessionCompleted.
func TestPlaceIvrCall(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	device := newPhone(t, "device", 440, func(c *mediaservertest.PhoneConfig) { c.RingFor = 200 * time.Millisecond })
	arc := newPhone(t, "arc", 1000, func(c *mediaservertest.PhoneConfig) { c.RingFor = 200 * time.Millisecond })
	h := newApp(mediaserver.Action{})
	h.ivr = func(*mediaserver.IvrCommandRequest) mediaserver.IvrCommand {
		return mediaserver.IvrCommand{Action: mediaserver.ActionCall, DestAddr: arc.URI()}
	}
	srv := startServer(t, h)
	res, err := srv.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: device.URI(), SessionReferenceID: "alarm-42"})
	if err != nil || res.SessionID == "" {
		t.Fatalf("PlaceIvrCall: %+v, %v", res, err)
	}
	cd, err := device.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := arc.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cd.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("device does not hear the ARC: %v", err)
	}
	if err := ca.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("ARC does not hear the device: %v", err)
	}
	if err := cd.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "callNotify:ringing", "callAnswered", "getIvrCommand", "callNotify:ringing",
		"callAnswered", "callEvent:callingPartyDrop:hangup", "sessionCompleted")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) != 2 || h.conns[0].SessionReferenceID != "alarm-42" || !h.conns[0].IVR {
		t.Errorf("callAnswered %+v", h.conns)
	}
}

// TestPlaceIvrCallFails: a busy device gives calledPartyFailed (busy, 486)
// and sessionCompleted.
func TestPlaceIvrCallFails(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	device := newPhone(t, "device", 440, func(c *mediaservertest.PhoneConfig) { c.AnswerCode = 486 })
	h := newApp(mediaserver.Action{})
	srv := startServer(t, h)
	if _, err := srv.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: device.URI()}); err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "sessionCompleted")
	wantEvents(t, h.Events(), "callEvent:calledPartyFailed:busy", "sessionCompleted")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.events[0].SipStatusCode != 486 {
		t.Errorf("sipStatusCode %d", h.events[0].SipStatusCode)
	}
}
