package mediaserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestBadIDs: unknown, forged, stale and mismatched IDs in every Server
// method give a typed error and change nothing: the call goes on.
func TestBadIDs(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "alice", 440)
	b := newPhone(t, "bob", 1000)
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
	forged := ab.ReplyID[:len(ab.ReplyID)-2] + "xx"
	otherServer := startServer(t, newRecorder())
	conf, err := otherServer.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	localConf, err := srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"split unknown connection", func() error {
			return srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: "zzz", ReplyID: ab.ReplyID})
		}, mediaserver.ErrNotFound},
		{"split forged replyId", func() error {
			return srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: forged})
		}, mediaserver.ErrNotFound},
		{"split garbage replyId", func() error {
			return srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: "not-a-token"})
		}, mediaserver.ErrNotFound},
		{"split without replyId", func() error {
			return srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID})
		}, mediaserver.ErrInvalid},
		{"split with another server's replyId", func() error {
			return otherServer.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID})
		}, mediaserver.ErrNotFound},
		{"hangup unknown participant", func() error {
			return srv.HangupParticipant(ctx, mediaserver.HangupParticipantRequest{ParticipantID: "nobody", ReplyID: ab.ReplyID})
		}, mediaserver.ErrNotFound},
		{"hangup with a mismatched session", func() error {
			return srv.HangupParticipant(ctx, mediaserver.HangupParticipantRequest{ParticipantID: ab.CallerParticipantID, ReplyID: ab.ReplyID, SessionID: "other"})
		}, mediaserver.ErrNotFound},
		{"connect to an unknown participant", func() error {
			return srv.Connect(ctx, mediaserver.ConnectRequest{ParticipantID: "nobody", ReplyID: ab.ReplyID})
		}, mediaserver.ErrInvalidState},
		{"interrupt a non-IVR connection", func() error {
			return srv.InterruptIvrCommand(ctx, mediaserver.InterruptIvrCommandRequest{ReplyID: ab.ReplyID})
		}, mediaserver.ErrInvalidState},
		{"stop a conference recording without replyId", func() error {
			return srv.StopRecording(ctx, mediaserver.RecordingRequest{ConnectionID: localConf})
		}, mediaserver.ErrInvalid},
		{"stop recording of another server's conference", func() error {
			return srv.StopRecording(ctx, mediaserver.RecordingRequest{ConnectionID: conf, ReplyID: ab.ReplyID})
		}, mediaserver.ErrNotFound},
		{"start recording as mp3", func() error {
			return srv.StartRecording(ctx, mediaserver.RecordingRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID, Filename: "x.mp3"})
		}, mediaserver.ErrInvalid},
		{"start recording with a hostile name", func() error {
			return srv.StartRecording(ctx, mediaserver.RecordingRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID, Filename: "../etc/passwd"})
		}, mediaserver.ErrInvalid},
		{"mute someone not in a conference", func() error {
			return srv.MuteParticipant(ctx, mediaserver.MuteRequest{ParticipantID: ab.CallerParticipantID, ReplyID: ab.ReplyID})
		}, mediaserver.ErrInvalidState},
		{"mute with a bad direction", func() error {
			return srv.MuteParticipant(ctx, mediaserver.MuteRequest{ParticipantID: ab.CallerParticipantID, ReplyID: ab.ReplyID, Direction: "sideways"})
		}, mediaserver.ErrInvalid},
		{"placeivrcall without destAddr", func() error {
			_, err := srv.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{})
			return err
		}, mediaserver.ErrInvalid},
		{"get a hostile prompt name", func() error {
			_, _, err := srv.OpenPrompt("../../etc/passwd")
			return err
		}, mediaserver.ErrInvalid},
		{"delete a missing prompt", func() error { return srv.DeletePrompt("nothing.wav") }, mediaserver.ErrNotFound},
		{"put an oversized prompt", func() error {
			_, err := srv.PutPrompt(ctx, "big.wav", strings.NewReader(strings.Repeat("x", 2000)), 1000)
			return err
		}, mediaserver.ErrTooLarge},
	} {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Nothing changed: the call still runs both ways.
	if err := ca.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := cb.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.OpenPrompt("big.wav"); err == nil {
		t.Error("an oversized upload left a file")
	}
	wantEvents(t, h.Events(), "newCall", "callAnswered")
}

// TestHangupDuringSplit: a participant that hangs up while the application
// decides about the split leaves the other unharmed: it is asked again
// (calledPartyDrop) and can still be connected elsewhere.
func TestHangupDuringSplit(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := newPhone(t, "userA", 440)
	b := newPhone(t, "userB", 1000)
	c := newPhone(t, "userC", 1800)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI()})
	release := make(chan struct{})
	bHungUp := make(chan struct{})
	var cbCall *mediaservertest.Call
	h.on(mediaserver.EventCallerConnectionSplit, "userA", func(*mediaserver.CallEventRequest) mediaserver.Action {
		// While A's decision is pending, B (waiting for its own) hangs up.
		close(release)
		<-bHungUp
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: c.URI()}
	})
	srv := startServer(t, h)
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cbCall, err = b.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ab := h.conn(ctx, t, 0)
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: ab.ConnectionID, ReplyID: ab.ReplyID}); err != nil {
		t.Fatal(err)
	}
	<-release
	if err := cbCall.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	close(bHungUp)
	cc, err := c.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("A was harmed by B's hangup: %v", err)
	}
	if err := cc.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	_ = ca.Hangup(ctx)
	h.wait(ctx, t, "sessionCompleted")
	for _, ev := range h.Events() {
		if strings.HasPrefix(ev, "callEvent:calleeConnectionSplit") {
			t.Errorf("B, gone, still got %s", ev)
		}
	}
}

// TestConnectAcrossSessions: a participant of another session (an agent
// reached by PlaceIvrCall, waiting on an IVR) is connected with a caller
// by connect: it moves into the caller's session (decision 2); its old
// session completes; hanging up ends the caller's session normally.
func TestConnectAcrossSessions(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	caller := newPhone(t, "caller", 440)
	agent := newPhone(t, "agent", 1000)
	h := newApp(mediaserver.Action{Action: mediaserver.ActionIvr})
	h.ivr = func(*mediaserver.IvrCommandRequest) mediaserver.IvrCommand {
		return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: "holdmusic"}}
	}
	srv := startServer(t, h)
	putPrompt(t, srv, "holdmusic.wav", toneWAV(600, time.Second))
	// The caller waits on hold music in session 1.
	cc, err := caller.Dial(ctx, serverURI(srv, "queue"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	callerIVR := h.conn(ctx, t, 0)
	if err := cc.WaitHeard(ctx, 600, 0.5); err != nil {
		t.Fatal(err)
	}
	// The agent is called in session 2 and waits on hold music too.
	res, err := srv.PlaceIvrCall(ctx, mediaserver.PlaceIvrCallRequest{DestAddr: agent.URI()})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := agent.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agentIVR := h.conn(ctx, t, 1)
	if agentIVR.SessionID != res.SessionID || callerIVR.SessionID == res.SessionID {
		t.Fatalf("sessions: caller %s, agent %s (placed %s)", callerIVR.SessionID, agentIVR.SessionID, res.SessionID)
	}
	// Connect: the caller's IVR connection replyId names the caller's
	// side; use the split to get the caller a callEvent replyId.
	h.on(mediaserver.EventCallerConnectionSplit, "caller", func(req *mediaserver.CallEventRequest) mediaserver.Action {
		return mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: agentIVR.CallerParticipantID, ReplyID: req.ReplyID}
	})
	if err := srv.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: callerIVR.ConnectionID, ReplyID: callerIVR.ReplyID}); err != nil {
		t.Fatal(err)
	}
	if err := cc.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("caller does not hear the agent: %v", err)
	}
	if err := ca.WaitHeard(ctx, 440, 0.5); err != nil {
		t.Fatalf("agent does not hear the caller: %v", err)
	}
	waitSessions(ctx, t, srv, 1) // the agent's old session completed
	if err := cc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WaitEnded(ctx); err != nil {
		t.Fatal(err)
	}
	waitSessions(ctx, t, srv, 0)
}

// TestBigConference: 50 members on loopback; each hears the others with no
// audio gaps (no stretch of silence in what it receives).
func TestBigConference(t *testing.T) {
	if testing.Short() {
		t.Skip("50 phones")
	}
	const n = 50
	ctx := testCtx(t, 120*time.Second)
	h := newRecorder()
	var conf string
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: conf}, nil
	}
	srv := startServer(t, h)
	var err error
	if conf, err = srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{}); err != nil {
		t.Fatal(err)
	}
	calls := make([]*mediaservertest.Call, n)
	for i := range n {
		hz := 0.0
		if i == 0 {
			hz = 700 // one speaker; everyone else listens
		}
		p := newPhone(t, "m", hz)
		if calls[i], err = p.Dial(ctx, serverURI(srv, "conf"), mediaservertest.DialOptions{}); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	for i := 1; i < n; i++ {
		if err := calls[i].WaitHeard(ctx, 700, 0.5); err != nil {
			t.Fatalf("member %d does not hear the speaker: %v", i, err)
		}
	}
	since := time.Now()
	listen, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = calls[1].WaitSilence(listen, time.Hour) // listen for 2 s
	cancel()
	t.Logf("clock %+v", srv.ClockStats())
	for i := 1; i < n; i++ {
		// On a loaded machine the clock may skip ticks (logged above);
		// what must never happen is a hole in the stream.
		heard := calls[i].HeardSince(since)
		if heard.Duration() < time.Second {
			t.Errorf("member %d received only %v of audio in 2 s", i, heard.Duration())
		}
		if s := heard.Share(700); s < 0.9 {
			t.Errorf("member %d: speaker's share %.2f", i, s)
		}
		st := calls[i].Stats()
		if st.SequenceGaps > 0 {
			t.Errorf("member %d: %d sequence gaps", i, st.SequenceGaps)
		}
	}
}
