package flows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// Table returns the flows of the examples document, in its order.
func Table() []Flow {
	return []Flow{
		{
			Name: "autoattendant",
			Doc:  "greeting, digit 2, connected to support; the caller hangs up",
			Want: []string{"newCall", "callAnswered", "getIvrCommand", "getIvrCommand",
				"callEvent:calledPartyDrop", "callAnswered", "callEvent:callingPartyDrop", "sessionCompleted"},
			Run: runAttendant,
		},
		{
			Name: "autoattendant-retry",
			Doc:  "three wrong digits: asked again twice, then goodbye and hung up",
			Want: []string{"newCall", "callAnswered", "getIvrCommand", "getIvrCommand", "getIvrCommand",
				"getIvrCommand", "callEvent:calledPartyDrop", "sessionCompleted"},
			Run: runAttendantRetry,
		},
		{
			Name: "recording",
			Doc:  "a call recorded from newCall; recordingReady after sessionCompleted; the file downloaded holds both parties",
			Want: []string{"newCall", "callAnswered", "callEvent:callingPartyDrop", "sessionCompleted", "recordingReady"},
			Run:  runRecording,
		},
		{
			Name: "monitor",
			Doc:  "a monitor called after the first callAnswered hears both parties; they do not hear it",
			Want: []string{"newCall", "callAnswered", "callNotify:monitorConnected", "callEvent:callingPartyDrop",
				"callNotify:monitorDropped", "sessionCompleted"},
			Run: runMonitor,
		},
		{
			Name: "placeivrcall",
			Doc:  "an outbound call to a device whose IVR connects it to the ARC; the device hangs up",
			Want: []string{"callNotify:ringing", "callAnswered", "getIvrCommand", "callNotify:ringing",
				"callAnswered", "callEvent:callingPartyDrop", "sessionCompleted"},
			Run: runPlaceIvrCall,
		},
		{
			Name: "attended-transfer",
			Doc:  "A calls B; B parks A on hold music, consults C, then A and C are connected",
			Want: []string{"newCall", "callAnswered",
				"callEvent:callerConnectionSplit", "callAnswered", "getIvrCommand",
				"callEvent:calleeConnectionSplit", "callAnswered",
				"callEvent:callerConnectionSplit", "callEvent:calleeConnectionSplit", "callAnswered",
				"callEvent:callingPartyDrop", "sessionCompleted"},
			Run: runTransfer,
		},
		{
			Name: "conference",
			Doc:  "A calls B, B is parked, A consults C, then A, B and C join one conference",
			// The split's callEvents come caller first; the IVR answers
			// before C does; every join is a callAnswered (API.md §4.5).
			Want: []string{"newCall", "callAnswered",
				"callEvent:callerConnectionSplit", "callEvent:calleeConnectionSplit", "callAnswered", "getIvrCommand",
				"callAnswered",
				"callEvent:callerConnectionSplit", "callAnswered", "callEvent:calleeConnectionSplit", "callAnswered",
				"callEvent:callerConnectionSplit", "callAnswered", "callEvent:calleeConnectionSplit", "sessionCompleted"},
			Run: runConference,
		},
	}
}

func callTo(dest string, mod func(*mediaserver.Action)) mediaserver.HandlerFuncs {
	return mediaserver.HandlerFuncs{
		NewCallFunc: func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
			a := mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: dest}
			if mod != nil {
				mod(&a)
			}
			return a, nil
		},
		CallEventFunc: func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		},
	}
}

// runRecording: alice calls bob with callRecording; they talk; she hangs
// up; the recording is downloaded (GET /promptfile) and holds both tones.
func runRecording(ctx context.Context, t testing.TB, r *Rig) {
	a, b := r.Phone(t, "alice", HzA), r.Phone(t, "bob", HzB)
	r.App.SetScript(callTo(b.URI(), func(a *mediaserver.Action) { a.CallRecording, a.Filename = true, "call-1" }))
	start := time.Now()
	ca := try(a.Dial(ctx, r.URI("rec"), mediaservertest.DialOptions{})).must(t)
	cb := try(b.Incoming(ctx)).must(t)
	hears(ctx, t, "alice", ca, HzB, 0.5)
	hears(ctx, t, "bob", cb, HzA, 0.5)
	talk, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	if err := ca.WaitSilence(talk, time.Second); err == nil {
		t.Fatal("alice heard silence")
	}
	cancel()
	ok(t, ca.Hangup(ctx), "alice hangs up")
	endsByBye(ctx, t, "bob", cb)
	callLen := time.Since(start).Seconds()
	ready := try(r.App.Wait(ctx, "recordingReady", 0)).must(t).Req.(*mediaserver.RecordingReadyRequest)
	if ready.Filename != "call-1.wav" || ready.Format != "wav" || ready.Size < 8000 {
		t.Errorf("recordingReady %+v", ready)
	}
	data := try(r.Ctl.GetPrompt(ctx, ready.Filename)).must(t)
	w := try(mediaservertest.DecodeWAV(data)).must(t)
	if len(w.Channels) != 1 || w.SampleRate != mediaservertest.SampleRate {
		t.Fatalf("recording: %d channels at %d Hz, want mono 8 kHz", len(w.Channels), w.SampleRate)
	}
	pcm := w.Channels[0]
	if dur := float64(len(pcm)) / mediaservertest.SampleRate; dur < 1.5 || dur > callLen+0.5 {
		t.Errorf("recording lasts %.2f s for a call of %.2f s", dur, callLen)
	}
	mid := pcm[len(pcm)/4 : 3*len(pcm)/4]
	if sa, sb := mediaservertest.ToneShare(mid, HzA), mediaservertest.ToneShare(mid, HzB); sa < 0.2 || sb < 0.2 {
		t.Errorf("the recording lacks a party: %d Hz %.2f, %d Hz %.2f", HzA, sa, HzB, sb)
	}
	if byName := try(r.Ctl.GetPrompt(ctx, "call-1")).must(t); len(byName) != len(data) {
		t.Errorf("GET promptfile/call-1: %d bytes, call-1.wav has %d", len(byName), len(data))
	}
}

// runMonitor: alice calls bob with a monitor; the monitor hears both, they
// do not hear it; alice hangs up and everyone is hung up.
func runMonitor(ctx context.Context, t testing.TB, r *Rig) {
	a, b, m := r.Phone(t, "alice", HzA), r.Phone(t, "bob", HzB), r.Phone(t, "monitor", HzMonitor)
	r.App.SetScript(callTo(b.URI(), func(a *mediaserver.Action) { a.MonitorDestAddr = m.URI() }))
	ca := try(a.Dial(ctx, r.URI("mon"), mediaservertest.DialOptions{})).must(t)
	cb := try(b.Incoming(ctx)).must(t)
	cm := try(m.Incoming(ctx)).must(t)
	hears(ctx, t, "the monitor", cm, HzA, 0.2)
	hears(ctx, t, "the monitor", cm, HzB, 0.2)
	hears(ctx, t, "alice", ca, HzB, 0.5)
	hears(ctx, t, "bob", cb, HzA, 0.5)
	if s := ca.Heard().Last(500 * time.Millisecond).Share(HzMonitor); s > 0.01 {
		t.Errorf("alice hears the monitor (share %.2f)", s)
	}
	try(r.App.Wait(ctx, "callNotify:monitorConnected", 0)).must(t)
	ok(t, ca.Hangup(ctx), "alice hangs up")
	endsByBye(ctx, t, "bob", cb)
	endsByBye(ctx, t, "the monitor", cm)
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
}

// runPlaceIvrCall: /placeivrcall to a device; its IVR answers
// getIvrCommand with action call to the ARC; they talk; the device hangs up.
func runPlaceIvrCall(ctx context.Context, t testing.TB, r *Rig) {
	ring := func(c *mediaservertest.PhoneConfig) { c.RingFor = 200 * time.Millisecond }
	device, arc := r.Phone(t, "device", HzA, ring), r.Phone(t, "arc", HzB, ring)
	r.App.SetScript(mediaserver.HandlerFuncs{
		GetIvrCommandFunc: func(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
			return mediaserver.IvrCommand{Action: mediaserver.ActionCall, DestAddr: arc.URI()}, nil
		},
		CallEventFunc: func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		},
	})
	res := try(r.Ctl.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: device.URI(), SessionReferenceID: "alarm-42"})).must(t)
	cd := try(device.Incoming(ctx)).must(t)
	ca := try(arc.Incoming(ctx)).must(t)
	hears(ctx, t, "the device", cd, HzB, 0.5)
	hears(ctx, t, "the ARC", ca, HzA, 0.5)
	ok(t, cd.Hangup(ctx), "the device hangs up")
	endsByBye(ctx, t, "the ARC", ca)
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
	for _, c := range r.App.Callbacks() {
		var meta mediaserver.Meta
		switch req := c.Req.(type) {
		case *mediaserver.CallAnsweredRequest:
			meta = req.Meta
		case *mediaserver.CallNotifyRequest:
			meta = req.Meta
		case *mediaserver.IvrCommandRequest:
			meta = req.Meta
		case *mediaserver.CallEventRequest:
			meta = req.Meta
		case *mediaserver.SessionCompletedRequest:
			meta = req.Meta
		}
		if meta.SessionID != res.SessionID || meta.SessionReferenceID != "alarm-42" {
			t.Errorf("%s: sessionId %q, sessionReferenceId %q; want %q, alarm-42", c.Name, meta.SessionID, meta.SessionReferenceID, res.SessionID)
		}
	}
	if first := try(r.App.Answered(ctx, 0)).must(t); !first.IVR {
		t.Errorf("the first callAnswered is not the device's IVR: %+v", first)
	}
}

// script answers newCall with a call and each callEvent by "event:user"
// from a table the flow fills as it goes; the IVR plays hold music.
type script struct {
	mu      sync.Mutex // guards answers
	answers map[string]func(*mediaserver.CallEventRequest) mediaserver.Action
}

func (s *script) on(event, user string, f func(*mediaserver.CallEventRequest) mediaserver.Action) {
	s.mu.Lock()
	s.answers[event+":"+user] = f
	s.mu.Unlock()
}

func (s *script) funcs(callee string) mediaserver.HandlerFuncs {
	h := callTo(callee, nil)
	h.CallEventFunc = func(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		s.mu.Lock()
		f := s.answers[req.Event+":"+req.User]
		s.mu.Unlock()
		if f == nil {
			return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
		}
		return f(req), nil
	}
	h.GetIvrCommandFunc = func(context.Context, *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: "holdmusic", RepeatPause: 0.5}}, nil
	}
	return h
}

func newScript() *script {
	return &script{answers: map[string]func(*mediaserver.CallEventRequest) mediaserver.Action{}}
}

func act(a mediaserver.Action) func(*mediaserver.CallEventRequest) mediaserver.Action {
	return func(*mediaserver.CallEventRequest) mediaserver.Action { return a }
}

var drop = act(mediaserver.Action{Action: mediaserver.ActionDrop})

func split(ctx context.Context, t testing.TB, r *Rig, c *mediaserver.CallAnsweredRequest) {
	t.Helper()
	ok(t, r.Ctl.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: c.ConnectionID, ReplyID: c.ReplyID}), "split "+c.ConnectionID)
}

// runTransfer is the attended transfer: A calls B; B splits, A is parked on
// hold music and B calls C; B splits again, is dropped, and C is connected
// to A. A stale replyId is refused afterwards.
func runTransfer(ctx context.Context, t testing.TB, r *Rig) {
	a, b, c := r.Phone(t, "userA", HzA), r.Phone(t, "userB", HzB), r.Phone(t, "userC", HzC)
	s := newScript()
	var mu sync.Mutex
	var participantA string
	s.on(mediaserver.EventCallerConnectionSplit, "userA", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		mu.Lock()
		participantA = req.ParticipantID
		mu.Unlock()
		return mediaserver.Action{Action: mediaserver.ActionIvr}
	})
	s.on(mediaserver.EventCalleeConnectionSplit, "userB", act(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: c.URI()}))
	s.on(mediaserver.EventCallerConnectionSplit, "userB", drop)
	s.on(mediaserver.EventCalleeConnectionSplit, "userC", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		mu.Lock()
		defer mu.Unlock()
		return mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: participantA, ReplyID: req.ReplyID}
	})
	r.App.SetScript(s.funcs(b.URI()))
	putPrompts(ctx, t, r, map[string][]byte{"holdmusic.wav": ToneWAV(HzHoldMusic, 2*time.Second)})

	ca := try(a.Dial(ctx, r.URI("pbx"), mediaservertest.DialOptions{})).must(t)
	cb := try(b.Incoming(ctx)).must(t)
	ab := try(r.App.Answered(ctx, 0)).must(t)
	hears(ctx, t, "A", ca, HzB, 0.5)
	split(ctx, t, r, ab)
	hears(ctx, t, "A on hold", ca, HzHoldMusic, 0.5)
	onHold := time.Now()
	cc := try(c.Incoming(ctx)).must(t)
	bc := try(r.App.Answered(ctx, 2)).must(t) // A↔IVR is #1
	hears(ctx, t, "B", cb, HzC, 0.5)
	hears(ctx, t, "C", cc, HzB, 0.5)
	if s := ca.HeardSince(onHold).Share(HzB); s > 0.01 {
		t.Errorf("A on hold hears B (share %.2f)", s)
	}
	split(ctx, t, r, bc)
	endsByBye(ctx, t, "B", cb)
	ac := try(r.App.Answered(ctx, 3)).must(t)
	mu.Lock()
	if ac.CallerParticipantID != participantA {
		t.Errorf("A↔C caller is %s, want A %s", ac.CallerParticipantID, participantA)
	}
	mu.Unlock()
	since := time.Now()
	hears(ctx, t, "A after the transfer", ca, HzC, 0.5)
	hears(ctx, t, "C after the transfer", cc, HzA, 0.5)
	if heard := ca.HeardSince(since); heard.Share(HzB) > 0.01 || heard.Share(HzHoldMusic) > 0.05 {
		t.Errorf("after the transfer A hears B (%.2f) or hold music (%.2f)", heard.Share(HzB), heard.Share(HzHoldMusic))
	}
	err := r.Ctl.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID})
	if !errors.Is(err, mediaserver.ErrStaleReply) {
		t.Errorf("split of a dissolved connection: %v, want ErrStaleReply (409)", err)
	}
	ok(t, ca.Hangup(ctx), "A hangs up")
	endsByBye(ctx, t, "C", cc)
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
}

// runConference: A calls B; B is parked, A consults C; a conference is
// created and A, C and B join it; each hears the other two, not itself.
func runConference(ctx context.Context, t testing.TB, r *Rig) {
	a, b, c := r.Phone(t, "userA", HzA), r.Phone(t, "userB", HzB), r.Phone(t, "userC", HzC)
	s := newScript()
	s.on(mediaserver.EventCalleeConnectionSplit, "userB", act(mediaserver.Action{Action: mediaserver.ActionIvr}))
	s.on(mediaserver.EventCallerConnectionSplit, "userA", act(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: c.URI()}))
	r.App.SetScript(s.funcs(b.URI()))
	putPrompts(ctx, t, r, map[string][]byte{"holdmusic.wav": ToneWAV(HzHoldMusic, 2*time.Second)})

	ca := try(a.Dial(ctx, r.URI("pbx"), mediaservertest.DialOptions{})).must(t)
	cb := try(b.Incoming(ctx)).must(t)
	ab := try(r.App.Answered(ctx, 0)).must(t)
	split(ctx, t, r, ab)
	cc := try(c.Incoming(ctx)).must(t)
	hears(ctx, t, "parked B", cb, HzHoldMusic, 0.5)
	bivr, ac := try(r.App.Answered(ctx, 1)).must(t), try(r.App.Answered(ctx, 2)).must(t)
	hears(ctx, t, "A", ca, HzC, 0.5)
	conf := try(r.Ctl.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})).must(t)
	join := act(mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: conf})
	s.on(mediaserver.EventCallerConnectionSplit, "userA", join)
	s.on(mediaserver.EventCalleeConnectionSplit, "userC", join)
	s.on(mediaserver.EventCallerConnectionSplit, "userB", join)
	s.on(mediaserver.EventCalleeConnectionSplit, "", drop) // the IVR side
	split(ctx, t, r, ac)
	split(ctx, t, r, bivr)
	try(r.App.Wait(ctx, "callEvent:calleeConnectionSplit", 2)).must(t) // the IVR side, after B joined
	inConference := time.Now()
	for _, m := range []struct {
		name  string
		call  *mediaservertest.Call
		own   float64
		other []float64
	}{{"A", ca, HzA, []float64{HzB, HzC}}, {"B", cb, HzB, []float64{HzA, HzC}}, {"C", cc, HzC, []float64{HzA, HzB}}} {
		for _, f := range m.other {
			hears(ctx, t, m.name+" in the conference", m.call, f, 0.2)
		}
		if s := m.call.HeardSince(inConference).Share(m.own); s > 0.02 {
			t.Errorf("%s hears itself (share %.2f)", m.name, s)
		}
	}
	for _, call := range []*mediaservertest.Call{ca, cb, cc} {
		ok(t, call.Hangup(ctx), "hang up "+call.String())
	}
	try(r.App.Wait(ctx, "sessionCompleted", 0)).must(t)
}
