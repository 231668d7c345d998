package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mediaserver-go/mediaserver"
)

// Step is how far a call has got in the attended transfer. OnStep reports
// each one.
type Step int

// The steps of a transfer, in the order they normally happen.
const (
	// Talking: A and B are connected (again, after a failed consultation).
	Talking Step = iota + 1
	// OnHold: A is parked on an IVR that plays the hold music.
	OnHold
	// Consulting: B and C are connected while A is on hold.
	Consulting
	// Transferred: A and C are connected; B is gone.
	Transferred
	// Ended: the session completed.
	Ended
)

// String returns the step's name.
func (s Step) String() string {
	switch s {
	case Talking:
		return "talking"
	case OnHold:
		return "on hold"
	case Consulting:
		return "consulting"
	case Transferred:
		return "transferred"
	case Ended:
		return "ended"
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// phase is what the handler expects next for a call.
type phase int

const (
	ringing     phase = iota // A is calling B
	talking                  // A↔B
	consulting               // A↔B split: A goes on hold, B calls C
	completing               // B↔C split: B goes, C is connected with A
	returning                // the consultation failed: B goes back to A
	transferred              // A↔C
)

// call is the state of one session. The participant IDs identify the
// parties in callEvents, so the user parts of their addresses do not matter.
type call struct {
	phase   phase
	a, b, c string                          // participant IDs
	conn    mediaserver.CallAnsweredRequest // A↔B, then B↔C: what Consult and Complete split
}

// Transfer is the attended transfer of the examples document as a Handler.
// Every inbound call (A) is connected to To (B). Consult splits A↔B: A is
// parked on HoldMusic and B calls Target (C). Complete splits B↔C: B is
// dropped and C is connected with A. If C does not answer or hangs up
// during the consultation, B goes back to A; if B hangs up during it, C is
// connected with A.
//
// Consult and Complete are what an application does over REST
// (/splitconnection); the callEvent answers do the rest. Its methods are
// safe for concurrent use.
type Transfer struct {
	// To is B, Target is C: SIP addresses.
	To, Target string
	// HoldMusic is the prompt file A hears while on hold.
	HoldMusic string
	// Server is the server the handler runs in; Consult and Complete call
	// its SplitConnection. Set it before Serve.
	Server *mediaserver.Server
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)
	// OnStep, if set, is told each step of each call. It is called on the
	// session's callback goroutine and must not block.
	OnStep func(sessionID string, s Step)

	mu    sync.Mutex
	calls map[string]*call // by sessionId
}

func (t *Transfer) logf(format string, args ...any) {
	if t.Log != nil {
		t.Log(format, args...)
	}
}

func (t *Transfer) step(sessionID string, s Step) {
	if t.OnStep != nil {
		t.OnStep(sessionID, s)
	}
}

// errNoSuchCall means Consult or Complete came for a session the handler
// does not know or at the wrong time.
var errNoSuchCall = errors.New("transfer: no call in that state")

// Consult starts the consultation of the call in session sessionID: it
// splits A↔B. A then goes on hold and B calls C.
func (t *Transfer) Consult(ctx context.Context, sessionID string) error {
	return t.split(ctx, sessionID, talking, consulting)
}

// Complete completes the transfer of the call in session sessionID: it
// splits B↔C. B is then dropped and C connected with A.
func (t *Transfer) Complete(ctx context.Context, sessionID string) error {
	return t.split(ctx, sessionID, consulting, completing)
}

// split moves a call from phase from to phase to and splits its current
// connection.
func (t *Transfer) split(ctx context.Context, sessionID string, from, to phase) error {
	t.mu.Lock()
	st := t.calls[sessionID]
	if st == nil || st.phase != from || st.conn.ConnectionID == "" {
		t.mu.Unlock()
		return fmt.Errorf("%w: session %s", errNoSuchCall, sessionID)
	}
	st.phase = to
	conn := st.conn
	t.mu.Unlock()
	err := t.Server.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: conn.ConnectionID, ReplyID: conn.ReplyID})
	if err != nil {
		t.mu.Lock()
		if st.phase == to {
			st.phase = from
		}
		t.mu.Unlock()
		return fmt.Errorf("split %s: %w", conn.ConnectionID, err)
	}
	return nil
}

// NewCall connects the caller (A) to B.
func (t *Transfer) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	t.mu.Lock()
	if t.calls == nil {
		t.calls = make(map[string]*call)
	}
	t.calls[req.SessionID] = &call{a: req.ParticipantID}
	t.mu.Unlock()
	t.logf("newCall          from %s → call B", req.User)
	return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: t.To}, nil
}

// CallAnswered keeps the connection that Consult or Complete will split,
// and reports the step it means.
func (t *Transfer) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	t.mu.Lock()
	st := t.calls[req.SessionID]
	var s Step
	switch {
	case st == nil:
	case req.IVR:
		s = OnHold
	case st.phase == ringing || st.phase == returning:
		st.b = other(req, st.a)
		st.phase, st.conn, s = talking, *req, Talking
	case st.phase == consulting:
		st.c = other(req, st.b)
		st.conn, s = *req, Consulting
	case st.phase == completing:
		st.phase, st.conn, s = transferred, *req, Transferred
	}
	t.mu.Unlock()
	t.logf("callAnswered     %s with %s (connection %s)", req.CallerUser, calleeName(req), req.ConnectionID)
	if s != 0 {
		t.step(req.SessionID, s)
	}
	return nil
}

// other returns the participant of a two-party connection that is not p.
func other(req *mediaserver.CallAnsweredRequest, p string) string {
	if req.CallerParticipantID == p {
		return req.CalleeParticipantID
	}
	return req.CallerParticipantID
}

func calleeName(req *mediaserver.CallAnsweredRequest) string {
	if req.IVR {
		return "IVR"
	}
	return req.CalleeUser
}

// CallEvent decides about each participant as the transfer goes on.
func (t *Transfer) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	act := t.decide(req)
	who := req.User
	if who == "" {
		who = "IVR"
	}
	t.logf("callEvent        %s user=%s → %s", req.Event, who, describe(act))
	return act, nil
}

func (t *Transfer) decide(req *mediaserver.CallEventRequest) mediaserver.Action {
	drop := mediaserver.Action{Action: mediaserver.ActionDrop}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.calls[req.SessionID]
	if st == nil {
		return drop
	}
	split := req.Event == mediaserver.EventCallerConnectionSplit || req.Event == mediaserver.EventCalleeConnectionSplit
	p := req.ParticipantID
	connectA := mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: st.a, ReplyID: req.ReplyID}
	switch st.phase {
	case consulting:
		switch {
		case split && p == st.a:
			return mediaserver.Action{Action: mediaserver.ActionIvr} // park A
		case split && p == st.b:
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: t.Target}
		case p == st.b: // C failed or hung up: B goes back to A
			st.phase = returning
			return connectA
		case p == st.c: // B hung up: C gets A
			st.phase = completing
			return connectA
		}
	case completing:
		switch {
		case split && p == st.b:
			return drop
		case split && p == st.c:
			return connectA
		}
	}
	return drop
}

func describe(a mediaserver.Action) string {
	switch a.Action {
	case mediaserver.ActionCall:
		return "call " + a.DestAddr
	case mediaserver.ActionConnect:
		return "connect with A"
	}
	return a.Action
}

// GetIvrCommand plays the hold music in a loop and asks nothing more: the
// IVR idles until Complete connects A with C.
func (t *Transfer) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	t.logf("getIvrCommand    reason=%s → backgroundPrompt %s", req.Reason, t.HoldMusic)
	return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: t.HoldMusic, RepeatPause: 0.5}}, nil
}

// CallNotify logs progress.
func (t *Transfer) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	t.logf("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

// SessionCompleted forgets the call.
func (t *Transfer) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	t.mu.Lock()
	delete(t.calls, req.SessionID)
	t.mu.Unlock()
	t.logf("sessionCompleted after %s s", req.SessionDuration)
	t.step(req.SessionID, Ended)
	return nil
}
