package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// The routes, by the user part of the Request-URI.
const (
	routeIVR        = "ivr"
	routeBridge     = "bridge"
	routeTransfer   = "transfer"
	routeConference = "conference"
)

var routes = []string{routeIVR, routeBridge, routeTransfer, routeConference}

// phase is how far a transfer has got.
type phase int

const (
	ringing     phase = iota // A is calling B
	talking                  // A↔B; the transfer timer runs
	consulting               // A↔B split: A on hold music, B calls C
	completing               // B↔C split: B is dropped, C gets A
	returning                // C failed: B goes back to A
	transferred              // A↔C
)

// call is what the handler keeps of one session.
type call struct {
	route   string
	phase   phase
	a, b, c string                          // participant IDs (transfer)
	conn    mediaserver.CallAnsweredRequest // the connection the timer splits
	timer   *time.Timer
	tried   bool // the transfer was started once
}

// counters are the handler's own figures.
type counters struct {
	NewCalls       map[string]int64 `json:"newCalls"`
	Completed      map[string]int64 `json:"sessionsCompleted"`
	UnknownRoute   int64            `json:"unknownRoute"`
	IvrCommands    int64            `json:"ivrCommands"`
	Digits         int64            `json:"digits"`
	WrongDigits    int64            `json:"wrongDigits"`
	DtmfTimeouts   int64            `json:"dtmfTimeouts"`
	CallEvents     int64            `json:"callEvents"`
	CalleeFailures int64            `json:"calleeFailures"`
	Splits         int64            `json:"splits"`
	SplitsStale    int64            `json:"splitsStale"`
	SplitErrors    int64            `json:"splitErrors"`
	Holds          int64            `json:"holds"`
	Consults       int64            `json:"consults"`
	Transferred    int64            `json:"transferred"`
	Returned       int64            `json:"returned"`
	Rooms          int64            `json:"rooms"`
	Joins          int64            `json:"joins"`
	Errors         int64            `json:"errors"`
}

type app struct {
	srv                       *mediaserver.Server
	log                       *slog.Logger
	calleeB, calleeC          string
	room                      int
	roomTTL                   time.Duration
	transferAfter, consultFor time.Duration

	ivrCommands, digits, wrongDigits, dtmfTimeouts, callEvents, calleeFailures atomic.Int64
	splits, splitsStale, splitErrors, holds, consults, transferred, returned   atomic.Int64
	unknownRoute, rooms, joins, errs                                           atomic.Int64

	mu        sync.Mutex // guards calls, newCalls, completed, the current room
	calls     map[string]*call
	newCalls  [4]int64
	completed [4]int64
	cur       string // the conference taking new members
	curJoins  int
	curAt     time.Time
}

func routeIndex(r string) int {
	for i, x := range routes {
		if x == r {
			return i
		}
	}
	return -1
}

// userOf returns the user part of a SIP URI: "sip:ivr@host" → "ivr".
func userOf(uri string) string {
	u := uri
	if i := strings.IndexByte(u, ':'); i >= 0 && !strings.Contains(u[:i], "@") {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		return u[:i]
	}
	return ""
}

// NewCall routes the caller by the called user.
func (a *app) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	route := userOf(req.CalledParty)
	i := routeIndex(route)
	if i < 0 {
		a.unknownRoute.Add(1)
		return mediaserver.Action{Action: mediaserver.ActionDrop, DropReason: 404}, nil
	}
	a.mu.Lock()
	a.newCalls[i]++
	a.calls[req.SessionID] = &call{route: route, a: req.ParticipantID}
	a.mu.Unlock()
	switch route {
	case routeBridge, routeTransfer:
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: a.calleeB}, nil
	case routeConference:
		id, err := a.roomFor(ctx)
		if err != nil {
			a.errs.Add(1)
			return mediaserver.Action{}, err
		}
		a.joins.Add(1)
		return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: id}, nil
	}
	return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
}

// roomFor returns the conference for the next member. A conference takes
// at most room members and only for roomTTL after its creation: a
// conference ends when its last member leaves, and no member leaves
// before the shortest call length, so a conference younger than that is
// still there to be joined.
func (a *app) roomFor(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == "" || a.curJoins >= a.room || time.Since(a.curAt) > a.roomTTL {
		id, err := a.srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
		if err != nil {
			return "", err
		}
		a.rooms.Add(1)
		a.cur, a.curJoins, a.curAt = id, 0, time.Now()
	}
	a.curJoins++
	return a.cur, nil
}

// CallAnswered follows the transfers: it keeps the connection to split
// next and starts the timer that splits it.
func (a *app) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	if req.IVR {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.calls[req.SessionID]
	if st == nil || st.route != routeTransfer {
		return nil
	}
	switch st.phase {
	case ringing, returning:
		st.b = other(req, st.a)
		st.phase, st.conn = talking, *req
		if !st.tried {
			st.tried = true
			a.after(st, req.SessionID, a.transferAfter, talking, consulting)
		}
	case consulting:
		st.c = other(req, st.b)
		st.conn = *req
		a.consults.Add(1)
		a.after(st, req.SessionID, a.consultFor, consulting, completing)
	case completing:
		st.phase, st.conn = transferred, *req
		a.transferred.Add(1)
	}
	return nil
}

// after splits the call's current connection after d, moving it from
// phase from to phase to. a.mu is held.
func (a *app) after(st *call, sessionID string, d time.Duration, from, to phase) {
	if st.timer != nil {
		st.timer.Stop()
	}
	st.timer = time.AfterFunc(d, func() { a.split(sessionID, from, to) })
}

func (a *app) split(sessionID string, from, to phase) {
	a.mu.Lock()
	st := a.calls[sessionID]
	if st == nil || st.phase != from || st.conn.ConnectionID == "" {
		a.mu.Unlock()
		return
	}
	st.phase = to
	conn := st.conn
	a.mu.Unlock()
	a.splits.Add(1)
	err := a.srv.SplitConnection(context.Background(), mediaserver.SplitConnectionRequest{ConnectionID: conn.ConnectionID, ReplyID: conn.ReplyID})
	switch {
	case err == nil:
	case errors.Is(err, mediaserver.ErrStaleReply), errors.Is(err, mediaserver.ErrNotFound):
		// The call ended meanwhile (the caller hung up): nothing to split.
		a.splitsStale.Add(1)
	default:
		a.splitErrors.Add(1)
		a.log.Warn("split failed", "session", sessionID, "err", err)
	}
}

func other(req *mediaserver.CallAnsweredRequest, p string) string {
	if req.CallerParticipantID == p {
		return req.CalleeParticipantID
	}
	return req.CallerParticipantID
}

// CallEvent carries the transfers on and drops everyone else who lost
// their connection.
func (a *app) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	a.callEvents.Add(1)
	if req.Event == mediaserver.EventCalledPartyFailed {
		a.calleeFailures.Add(1)
		a.log.Warn("callee failed", "reason", req.Reason, "sip", req.SipStatusCode)
	}
	drop := mediaserver.Action{Action: mediaserver.ActionDrop}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.calls[req.SessionID]
	if st == nil || st.route != routeTransfer {
		return drop, nil
	}
	split := req.Event == mediaserver.EventCallerConnectionSplit || req.Event == mediaserver.EventCalleeConnectionSplit
	p := req.ParticipantID
	connectA := mediaserver.Action{Action: mediaserver.ActionConnect, ParticipantID: st.a, ReplyID: req.ReplyID}
	switch st.phase {
	case consulting:
		switch {
		case split && p == st.a:
			a.holds.Add(1)
			return mediaserver.Action{Action: mediaserver.ActionIvr}, nil // park A on hold music
		case split && p == st.b:
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: a.calleeC}, nil
		case p == st.b: // C failed or hung up: B goes back to A
			st.phase = returning
			a.returned.Add(1)
			return connectA, nil
		case p == st.c: // B hung up: C gets A
			st.phase = completing
			return connectA, nil
		}
	case completing:
		switch {
		case split && p == st.b:
			return drop, nil
		case split && p == st.c:
			return connectA, nil
		}
	}
	return drop, nil
}

// GetIvrCommand plays hold music to a transfer's caller, and runs the IVR
// of the ivr route: a greeting with a one-digit collection, then a
// confirmation and a looping prompt with another collection.
func (a *app) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	a.ivrCommands.Add(1)
	a.mu.Lock()
	st := a.calls[req.SessionID]
	hold := st != nil && st.route == routeTransfer
	a.mu.Unlock()
	if hold {
		return mediaserver.IvrCommand{BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: promptHold, RepeatPause: 0.5}}, nil
	}
	if d := req.DtmfParams; d != nil {
		switch {
		case d.DtmfMatch == "5":
			a.digits.Add(1)
		case d.DtmfMatch != "":
			a.wrongDigits.Add(1)
		default:
			a.dtmfTimeouts.Add(1)
		}
	}
	if req.Reason == "connected" {
		return mediaserver.IvrCommand{
			Phrases: []mediaserver.Phrase{{Format: "file", FileName: promptGreeting}},
			Dtmf:    &mediaserver.DtmfCommand{MaxDigits: 1, Timeout: 10},
		}, nil
	}
	return mediaserver.IvrCommand{
		Phrases:          []mediaserver.Phrase{{Format: "file", FileName: promptConfirm}},
		BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: promptLoop, RepeatPause: 0.2},
		Dtmf:             &mediaserver.DtmfCommand{MaxDigits: 1, Timeout: 3600},
	}, nil
}

// SessionCompleted forgets the call and stops its timer.
func (a *app) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.calls[req.SessionID]
	if st == nil {
		return nil
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	if i := routeIndex(st.route); i >= 0 {
		a.completed[i]++
	}
	delete(a.calls, req.SessionID)
	return nil
}

// stopTimers stops the transfer timers of calls still known at exit.
func (a *app) stopTimers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.calls {
		if st.timer != nil {
			st.timer.Stop()
		}
	}
}

func (a *app) counters() counters {
	c := counters{
		NewCalls: map[string]int64{}, Completed: map[string]int64{},
		UnknownRoute: a.unknownRoute.Load(), IvrCommands: a.ivrCommands.Load(), Digits: a.digits.Load(),
		WrongDigits: a.wrongDigits.Load(), DtmfTimeouts: a.dtmfTimeouts.Load(), CallEvents: a.callEvents.Load(),
		CalleeFailures: a.calleeFailures.Load(), Splits: a.splits.Load(), SplitsStale: a.splitsStale.Load(),
		SplitErrors: a.splitErrors.Load(), Holds: a.holds.Load(), Consults: a.consults.Load(),
		Transferred: a.transferred.Load(), Returned: a.returned.Load(), Rooms: a.rooms.Load(),
		Joins: a.joins.Load(), Errors: a.errs.Load(),
	}
	a.mu.Lock()
	for i, r := range routes {
		c.NewCalls[r], c.Completed[r] = a.newCalls[i], a.completed[i]
	}
	a.mu.Unlock()
	return c
}

var (
	_ mediaserver.Handler                 = (*app)(nil)
	_ mediaserver.CallAnsweredHandler     = (*app)(nil)
	_ mediaserver.SessionCompletedHandler = (*app)(nil)
)
