package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mediaserver-go/mediaserver"
)

// Step is how far a call has got on its way into a conference. OnStep
// reports each one.
type Step int

// The steps, in the order they normally happen.
const (
	// Talking: A and B are connected (again, after a failed consultation).
	Talking Step = iota + 1
	// OnHold: B is parked on an IVR that plays the hold music.
	OnHold
	// Consulting: A and C are connected while B is on hold.
	Consulting
	// InConference: every member joined the conference.
	InConference
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
	case InConference:
		return "in conference"
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
	consulting               // A↔B split: B goes on hold, A calls C
	returning                // the consultation failed: A goes back to B
	merging                  // A↔C and B↔IVR split: everyone joins the conference
	conferenced              // all joined
)

// call is the state of one session. The participant IDs identify the
// parties in callEvents, so the user parts of their addresses do not matter.
type call struct {
	phase     phase
	a, b, c   string                          // participant IDs
	ab, ac    mediaserver.CallAnsweredRequest // the connections Consult and Merge split
	hold      mediaserver.CallAnsweredRequest // B↔IVR
	conf      string                          // the conference's connectionId
	want, got map[string]bool                 // members expected in the conference, and joined
}

// Conference builds the examples document's three-party conference as a
// Handler. Every inbound call (A) is connected to To (B). Consult splits
// A↔B: B is parked on HoldMusic and A calls Add (C). Merge creates a
// conference connection and splits A↔C and B↔IVR: A, C and B join the
// conference and the IVR is dropped. If C does not answer or hangs up
// during the consultation, A goes back to B.
//
// Consult and Merge are what an application does over REST
// (/splitconnection, /createconferenceconnection); the callEvent answers
// do the rest. Its methods are safe for concurrent use.
type Conference struct {
	// To is B, Add is C: SIP addresses.
	To, Add string
	// HoldMusic is the prompt file B hears while on hold.
	HoldMusic string
	// Server is the server the handler runs in; Consult and Merge use it.
	// Set it before Serve.
	Server *mediaserver.Server
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)
	// OnStep, if set, is told each step of each call. It must not block;
	// it is called on the session's callback goroutine, or on Merge's.
	OnStep func(sessionID string, s Step)

	mu    sync.Mutex
	calls map[string]*call // by sessionId
}

func (h *Conference) logf(format string, args ...any) {
	if h.Log != nil {
		h.Log(format, args...)
	}
}

func (h *Conference) step(sessionID string, s Step) {
	if h.OnStep != nil {
		h.OnStep(sessionID, s)
	}
}

// errNoSuchCall means Consult or Merge came for a session the handler does
// not know or at the wrong time.
var errNoSuchCall = errors.New("conference: no call in that state")

// Consult parks B and lets A call C, in session sessionID: it splits A↔B.
func (h *Conference) Consult(ctx context.Context, sessionID string) error {
	h.mu.Lock()
	st := h.calls[sessionID]
	if st == nil || st.phase != talking {
		h.mu.Unlock()
		return fmt.Errorf("%w: session %s", errNoSuchCall, sessionID)
	}
	st.phase = consulting
	ab := st.ab
	h.mu.Unlock()
	if err := h.split(ctx, ab); err != nil {
		h.mu.Lock()
		if st.phase == consulting {
			st.phase = talking
		}
		h.mu.Unlock()
		return err
	}
	return nil
}

// Merge brings A, B and C of session sessionID into one conference: it
// creates the conference connection, then splits A↔C and B's hold. A B
// that hung up while on hold is left out.
func (h *Conference) Merge(ctx context.Context, sessionID string) error {
	h.mu.Lock()
	st := h.calls[sessionID]
	if st == nil || st.phase != consulting || st.c == "" {
		h.mu.Unlock()
		return fmt.Errorf("%w: session %s", errNoSuchCall, sessionID)
	}
	ac, hold := st.ac, st.hold
	h.mu.Unlock()

	conf, err := h.Server.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
	if err != nil {
		return fmt.Errorf("createconferenceconnection: %w", err)
	}
	h.logf("createconferenceconnection → %s", conf)
	h.mu.Lock()
	st.phase, st.conf = merging, conf
	st.want, st.got = map[string]bool{st.a: true, st.c: true}, map[string]bool{}
	if hold.ConnectionID != "" {
		st.want[st.b] = true
	}
	h.mu.Unlock()
	if err := h.split(ctx, ac); err != nil {
		return err
	}
	if hold.ConnectionID == "" {
		return nil
	}
	if err := h.split(ctx, hold); err != nil {
		// B hung up while on hold: the conference goes on without B.
		h.logf("B is not on hold any more (%v); merging A and C only", err)
		h.mu.Lock()
		delete(st.want, st.b)
		done := h.completeLocked(st)
		h.mu.Unlock()
		if done {
			h.step(sessionID, InConference)
		}
	}
	return nil
}

func (h *Conference) split(ctx context.Context, c mediaserver.CallAnsweredRequest) error {
	err := h.Server.SplitConnection(ctx, mediaserver.SplitConnectionRequest{ConnectionID: c.ConnectionID, ReplyID: c.ReplyID})
	if err != nil {
		return fmt.Errorf("split %s: %w", c.ConnectionID, err)
	}
	return nil
}

// completeLocked reports whether every expected member has joined, once.
func (h *Conference) completeLocked(st *call) bool {
	if st.phase != merging {
		return false
	}
	for p := range st.want {
		if !st.got[p] {
			return false
		}
	}
	st.phase = conferenced
	return true
}

// NewCall connects the caller (A) to B.
func (h *Conference) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	h.mu.Lock()
	if h.calls == nil {
		h.calls = make(map[string]*call)
	}
	h.calls[req.SessionID] = &call{a: req.ParticipantID}
	h.mu.Unlock()
	h.logf("newCall          from %s → call B", req.User)
	return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: h.To}, nil
}

// CallAnswered keeps the connections that Consult and Merge will split,
// counts the members that joined the conference, and reports the steps.
func (h *Conference) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	h.mu.Lock()
	st := h.calls[req.SessionID]
	var s Step
	switch {
	case st == nil:
	case st.phase == merging && req.ConnectionID == st.conf:
		st.got[req.CallerParticipantID] = true
		if h.completeLocked(st) {
			s = InConference
		}
	case req.IVR:
		st.hold, s = *req, OnHold
	case st.phase == ringing || st.phase == returning:
		st.b, st.ab = other(req, st.a), *req
		st.phase, s = talking, Talking
	case st.phase == consulting:
		st.c, st.ac, s = other(req, st.a), *req, Consulting
	}
	h.mu.Unlock()
	switch {
	case req.CalleeParticipantID == "":
		h.logf("callAnswered     %s joined the conference", req.CallerUser)
	case req.IVR:
		h.logf("callAnswered     %s with IVR (connection %s)", req.CallerUser, req.ConnectionID)
	default:
		h.logf("callAnswered     %s with %s (connection %s)", req.CallerUser, req.CalleeUser, req.ConnectionID)
	}
	if s != 0 {
		h.step(req.SessionID, s)
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

// CallEvent decides about each participant as the conference is built.
func (h *Conference) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	act := h.decide(req)
	who := req.User
	if who == "" {
		who = "IVR"
	}
	h.logf("callEvent        %s user=%s → %s", req.Event, who, describe(act))
	return act, nil
}

func (h *Conference) decide(req *mediaserver.CallEventRequest) mediaserver.Action {
	drop := mediaserver.Action{Action: mediaserver.ActionDrop}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.calls[req.SessionID]
	if st == nil {
		return drop
	}
	split := req.Event == mediaserver.EventCallerConnectionSplit || req.Event == mediaserver.EventCalleeConnectionSplit
	p := req.ParticipantID
	switch st.phase {
	case consulting:
		switch {
		case split && p == st.a:
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: h.Add}
		case split && p == st.b:
			return mediaserver.Action{Action: mediaserver.ActionIvr} // park B
		case p == st.a: // C failed or hung up: A goes back to B
			st.phase = returning
			return mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: st.b, ReplyID: req.ReplyID}
		}
	case merging:
		if split && st.want[p] {
			return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: st.conf}
		}
	}
	return drop // hang-ups, and the hold IVR once B left it
}

func describe(a mediaserver.Action) string {
	switch a.Action {
	case mediaserver.ActionCall:
		return "call " + a.DestAddr
	case mediaserver.ActionConnect:
		return "connect with B"
	case mediaserver.ActionJoinConferenceConnection:
		return "joinconferenceconnection " + a.ConnectionID
	}
	return a.Action
}

// GetIvrCommand plays the hold music in a loop and asks nothing more: the
// IVR idles until Merge takes B off hold.
func (h *Conference) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	h.logf("getIvrCommand    reason=%s → backgroundPrompt %s", req.Reason, h.HoldMusic)
	return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: h.HoldMusic, RepeatPause: 0.5}}, nil
}

// CallNotify logs progress.
func (h *Conference) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	h.logf("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

// SessionCompleted forgets the call.
func (h *Conference) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	h.mu.Lock()
	delete(h.calls, req.SessionID)
	h.mu.Unlock()
	h.logf("sessionCompleted after %s s", req.SessionDuration)
	h.step(req.SessionID, Ended)
	return nil
}
