package mediaserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Session is one call: the participants born from an inbound INVITE or a
// PlaceIvrCall, and the connections between them. It ends when its last
// participant leaves, after sessionCompleted.
//
// All state changes of a session run on its event loop goroutine, so its
// callbacks are delivered in order and never concurrently. The exported
// methods are safe for concurrent use.
type Session struct {
	id      string
	srv     *Server
	log     *slog.Logger
	created time.Time
	refID   string

	// ctx is the session's lifetime context: it ends when the session
	// completes or the server closes. It is the one context kept in a
	// struct, because Handler calls and SIP/media work of the session
	// outlive any single request.
	ctx    context.Context //nolint:containedctx // the session's lifetime, see above
	cancel context.CancelCauseFunc

	qmu    sync.Mutex // guards queue, ended
	queue  []func()
	ended  bool
	signal chan struct{}

	// Owned by the event loop.
	parts        map[string]*Participant
	conns        map[string]*Connection
	first        *Participant // the session's first participant
	closing      bool         // server shutdown: hang up, ask nothing
	complete     bool
	recs         []*recording                // open recordings (decision 18)
	tap          *tap                        // the session mix, while recording or monitored
	sinks        map[*Participant]*voiceSink // the tap's voice sinks
	monitor      *Participant                // the monitor leg
	monitorAddr  string                      // monitorDestAddr of the newCall answer
	monitorTried bool
	ids          []string // registry IDs this session created or adopted
	trace        *trace
	endedAt      time.Time // set by finish, read under Server.mu
}

func (s *Server) newSession(refID string) *Session {
	id := newID(s.cfg.InstanceID, kindSession)
	ctx, cancel := context.WithCancelCause(s.base)
	ss := &Session{
		id:      id,
		srv:     s,
		log:     s.log.With(logSessionID, id),
		created: time.Now(),
		refID:   refID,
		ctx:     ctx,
		cancel:  cancel,
		signal:  make(chan struct{}, 1),
		parts:   make(map[string]*Participant),
		conns:   make(map[string]*Connection),
		sinks:   make(map[*Participant]*voiceSink),
		trace:   newTrace(),
	}
	return ss
}

// full reports whether Config.MaxSessions sessions are active.
func (s *Server) full() bool {
	m := s.cfg.MaxSessions
	if m <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) >= m
}

// start registers the session and runs its loop. It fails when the server
// is closed or MaxSessions is reached.
func (s *Server) startSession(ss *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrServerClosed
	}
	if m := s.cfg.MaxSessions; m > 0 && len(s.sessions) >= m {
		return ErrMaxSessions
	}
	s.sessions[ss.id] = ss
	s.objects[ss.id] = &object{session: ss}
	s.obs.SessionStarted()
	s.sessWG.Add(1)
	go ss.run()
	return nil
}

// ID returns the session ID.
func (ss *Session) ID() string { return ss.id }

// Context returns the session's lifetime context, done when it completes.
func (ss *Session) Context() context.Context { return ss.ctx }

// post queues f on the session's event loop and reports whether it was
// queued: after the session ended nothing is (f is dropped). It never
// blocks.
func (ss *Session) post(f func()) bool {
	ss.qmu.Lock()
	if ss.ended {
		ss.qmu.Unlock()
		return false
	}
	ss.queue = append(ss.queue, f)
	ss.qmu.Unlock()
	select {
	case ss.signal <- struct{}{}:
	default:
	}
	return true
}

func (ss *Session) next() func() {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if len(ss.queue) == 0 {
		return nil
	}
	f := ss.queue[0]
	ss.queue[0] = nil
	ss.queue = ss.queue[1:]
	return f
}

func (ss *Session) run() {
	defer ss.srv.sessWG.Done()
	for range ss.signal {
		for f := ss.next(); f != nil; f = ss.next() {
			f()
			if ss.complete {
				ss.finish()
				return
			}
		}
	}
}

// finish unregisters the session and everything it still owns.
func (ss *Session) finish() {
	ss.qmu.Lock()
	ss.ended = true
	rest := ss.queue
	ss.queue = nil
	ss.qmu.Unlock()
	s := ss.srv
	s.mu.Lock()
	delete(s.sessions, ss.id)
	delete(s.objects, ss.id)
	ss.endedAt = time.Now()
	s.finished.add(ss)
	for _, id := range ss.ids {
		if o, ok := s.objects[id]; ok && o.owner() == ss {
			delete(s.objects, id)
		}
	}
	s.mu.Unlock()
	ss.cancel(errSessionDone)
	// Work still queued runs now: what was posted for a participant that
	// moved to another session follows it there; the rest finds every
	// participant gone and does nothing.
	for _, f := range rest {
		f()
	}
}

var errSessionDone = fmt.Errorf("mediaserver: session completed")

// meta returns the common callback fields.
func (ss *Session) meta() Meta {
	return Meta{
		SessionID:          ss.id,
		Domain:             ss.srv.cfg.Domain,
		SessionReferenceID: ss.refID,
		Timestamp:          time.Now().UTC().Format(time.RFC3339Nano),
		APIBaseURL:         ss.srv.cfg.APIBaseURL,
	}
}

// invoke runs one Handler call on a goroutine owned by the session and
// waits for it up to the decision timeout (decision 1). A panic becomes a
// *PanicError; a late answer is discarded. When about is not nil and that
// participant leaves meanwhile, the call's context is cancelled at once; a
// decision (not an informational callback) is also cancelled when the
// server begins to close, so Close called from inside a Handler returns.
func invoke[T any](ss *Session, name string, about *Participant, decision bool, fn func(ctx context.Context) (T, error)) (T, error) {
	parent, abort := context.WithCancelCause(ss.ctx)
	defer abort(nil)
	if about != nil {
		about.abortDecision.Store(&abort)
		defer about.abortDecision.Store(nil)
	}
	if decision {
		stop := context.AfterFunc(ss.srv.stopping, func() { abort(ErrServerClosed) })
		defer stop()
	}
	ctx, cancel := context.WithTimeout(parent, ss.srv.cfg.DecisionTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	ss.srv.handlers.Add(1)
	go func() {
		defer ss.srv.handlers.Done()
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: &PanicError{Value: r, Stack: debug.Stack()}}
			}
		}()
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	start := time.Now()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r.err = fmt.Errorf("%s: %w", name, errDecisionTimeout)
	}
	cause := context.Cause(parent)
	if cause == nil {
		ss.srv.obs.CallbackDone(name, time.Since(start), r.err)
	}
	if cause != nil {
		// The participant left, the session ended or the server closes:
		// nobody wants the answer.
		var zero T
		return zero, cause
	}
	if r.err != nil {
		ss.logCallbackError(name, r.err, decision)
	}
	return r.v, r.err
}

func (ss *Session) logCallbackError(name string, err error, decision bool) {
	msg := "callback failed"
	if decision {
		msg = "callback failed; using the fallback"
	}
	if p, ok := err.(*PanicError); ok {
		ss.log.Error(msg+": handler panicked", "callback", name, "panic", fmt.Sprint(p.Value), "stack", string(p.Stack))
		return
	}
	ss.log.Warn(msg, "callback", name, logErr, err)
}

// notify delivers an informational callback; its errors are only logged.
func (ss *Session) notify(name string, req any, fn func(ctx context.Context) error) {
	_, err := invoke(ss, name, nil, false, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	ss.traceCallback(name, req, nil, err)
}

// completeIfEmpty ends the session once its last participant left:
// sessionCompleted, then recordingReady for each recording (decision 18).
func (ss *Session) completeIfEmpty() {
	if len(ss.parts) > 0 || ss.complete {
		return
	}
	ss.complete = true
	ss.dropMonitor(0)
	end := time.Now()
	req := &SessionCompletedRequest{
		Meta:            ss.meta(),
		SessionDuration: strconv.FormatFloat(end.Sub(ss.created).Seconds(), 'f', 1, 64),
		StartTime:       ss.created.UTC().Format(time.RFC3339Nano),
		EndTime:         end.UTC().Format(time.RFC3339Nano),
	}
	ss.log.Info("session completed", "duration", req.SessionDuration)
	ss.srv.obs.SessionEnded(end.Sub(ss.created))
	if h := ss.srv.handler.completed; h != nil {
		ss.notify(CallbackSessionCompleted, req, func(ctx context.Context) error { return h.SessionCompleted(ctx, req) })
	}
	ss.stopRecording("") // recordingReady follows sessionCompleted (decision 18)
	ss.refreshTap()
}

// shutdown hangs every participant up without asking the application.
func (ss *Session) shutdown() {
	ss.closing = true
	for _, p := range ss.parts {
		ss.hangup(p, ReasonShutdown, 503)
	}
	ss.completeIfEmpty()
}
