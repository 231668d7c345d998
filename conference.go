package mediaserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// Conference is a conference connection: an audio mix that participants
// of any session of this instance can join (decision 2). It belongs to no
// session; it ends when its last member leaves (or, never joined, after
// ConferenceIdleTimeout). Its methods are safe for concurrent use.
type Conference struct {
	id      string
	srv     *Server
	log     *slog.Logger
	created time.Time
	gen     atomic.Uint32
	dead    atomic.Bool
	mixer   *media.Mixer
	idle    *time.Timer   // set under mu, once
	ended   chan struct{} // closed when end has undone everything

	mu      sync.Mutex // guards members, rec, joined, frame
	members map[*Participant]*media.MixerMember
	joined  bool
	rec     *recording // a recording of the mix, if any
	frame   media.Frame
}

// ID returns the conference's connection ID.
func (f *Conference) ID() string { return f.id }

func (f *Conference) replyID() string { return f.srv.tokens.sign("", f.id, f.gen.Load()) }

// CreateConferenceConnection creates an empty conference and returns its
// connectionId (API.md §3.7). Participants join by answering a callEvent,
// newCall or getIvrCommand with action joinconferenceconnection. With
// CallRecording and Filename the mix is recorded.
func (s *Server) CreateConferenceConnection(ctx context.Context, req CreateConferenceRequest) (string, error) {
	if s.closed.Load() {
		return "", ErrServerClosed
	}
	if req.ReplyID != "" {
		if _, err := s.resolve(req.ReplyID); err != nil {
			return "", err
		}
	}
	id := newID(s.cfg.InstanceID, kindConference)
	f := &Conference{
		id:      id,
		srv:     s,
		log:     s.log.With(logConnectionID, id),
		created: time.Now(),
		mixer:   media.NewMixer(),
		members: make(map[*Participant]*media.MixerMember),
		ended:   make(chan struct{}),
	}
	f.gen.Store(1)
	if req.CallRecording {
		rec, err := s.newRecording(req.Filename, id, 1)
		if err != nil {
			return "", err
		}
		f.rec = rec
	}
	// Everything end undoes is in place before the conference can be
	// ended: by its idle timer (which may fire at once with a tiny
	// ConferenceIdleTimeout) or by Close once it is registered.
	s.clock.AddProcessor(f)
	s.obs.ConnectionStarted(ConnectionConference)
	f.mu.Lock()
	f.idle = time.AfterFunc(s.cfg.ConferenceIdleTimeout, func() { f.endIfEmpty(true) })
	f.mu.Unlock()
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		f.mu.Lock()
		rec := f.rec
		f.rec = nil
		f.mu.Unlock()
		f.end()
		if rec != nil {
			_, _ = rec.rec.Close()
		}
		return "", ErrServerClosed
	}
	// end marks the conference dead before it deletes it under s.mu: a
	// conference that already timed out is not registered, and one that
	// times out from now on is deleted after this.
	if !f.dead.Load() {
		s.objects[id] = &object{conf: f}
		s.confs[f] = struct{}{}
	}
	s.mu.Unlock()
	f.log.Info("conference created")
	return id, nil
}

// Process mixes one tick and feeds the conference's recording. The
// recording is written under f.mu (Write never blocks), so that a
// StopRecording that took it away is never written to afterwards.
func (f *Conference) Process(now time.Time) {
	f.mixer.Process(now)
	f.mu.Lock()
	if f.rec != nil {
		f.mixer.Mix(&f.frame)
		f.rec.write(now, &f.frame, &f.frame, &f.frame)
	}
	f.mu.Unlock()
}

// conference looks up a live conference by ID.
func (s *Server) conference(id string) (*Conference, error) {
	o, ok := s.lookup(id)
	if !ok || o.conf == nil {
		return nil, fmt.Errorf("conference %q: %w", id, ErrNotFound)
	}
	if o.conf.dead.Load() {
		return nil, fmt.Errorf("conference %s ended: %w", id, ErrInvalidState)
	}
	return o.conf, nil
}

// join adds p (a SIP participant of ss, unconnected) to the conference.
func (ss *Session) join(p *Participant, f *Conference) error {
	if p.ep == nil {
		return fmt.Errorf("participant %s has no media to mix: %w", p.id, ErrInvalidState)
	}
	if err := p.answer(); err != nil {
		return err
	}
	f.mu.Lock()
	if f.dead.Load() {
		f.mu.Unlock()
		return fmt.Errorf("conference %s ended: %w", f.id, ErrInvalidState)
	}
	mm := f.mixer.Join()
	f.members[p] = mm
	f.joined = true
	f.mu.Unlock()
	p.ep.Isolate()
	p.ep.AddSink(mm)
	p.ep.SetSource(mm)
	p.conf, p.member = f, mm
	p.inConference.Store(f)
	ss.refreshTap()
	p.log.Info("joined conference", logConnectionID, f.id)
	ss.traceNote("joined conference "+f.id, p)
	if h := ss.srv.handler.answered; h != nil {
		req := &CallAnsweredRequest{
			Meta:                ss.meta(),
			ConnectionID:        f.id,
			ReplyID:             f.replyID(),
			CallerParticipantID: p.id,
			CallerUser:          p.user,
			CallRecording:       len(ss.recs) > 0 || f.recording(),
		}
		ss.notify(CallbackCallAnswered, req, func(ctx context.Context) error { return h.CallAnswered(ctx, req) })
	}
	ss.startMonitor()
	return nil
}

// leaveConference takes p out of its conference; the conference ends
// when p was its last member.
func (ss *Session) leaveConference(p *Participant) {
	f, mm := p.conf, p.member
	if f == nil {
		return
	}
	p.conf, p.member = nil, nil
	p.inConference.Store(nil)
	if p.ep != nil {
		p.ep.RemoveSink(mm)
		p.ep.SetSource(nil)
	}
	f.mu.Lock()
	delete(f.members, p)
	f.mu.Unlock()
	f.mixer.Leave(mm)
	ss.refreshTap()
	f.endIfEmpty(false)
}

// endIfEmpty ends a conference without members: when its last member
// left, or when nobody joined before the idle timeout.
func (f *Conference) endIfEmpty(idle bool) {
	f.mu.Lock()
	empty := len(f.members) == 0 && (idle && !f.joined || !idle && f.joined)
	f.mu.Unlock()
	if empty {
		f.log.Info("conference ended", "idle", idle)
		f.end()
	}
}

// end stops the conference: its mixer leaves the clock, its recording
// finishes, its ID is forgotten. Members still in it hear silence (Close
// hangs them up). A second call waits for the first to finish, so that
// Close, racing the idle timer, returns only once the conference is gone.
func (f *Conference) end() {
	f.mu.Lock()
	if f.dead.Load() {
		f.mu.Unlock()
		<-f.ended
		return
	}
	defer close(f.ended)
	f.dead.Store(true)
	f.gen.Add(1)
	rec := f.rec
	f.rec = nil
	idle := f.idle
	f.mu.Unlock()
	if idle != nil {
		idle.Stop()
	}
	f.srv.clock.RemoveProcessor(f)
	f.srv.obs.ConnectionEnded(ConnectionConference)
	f.srv.mu.Lock()
	delete(f.srv.objects, f.id)
	delete(f.srv.confs, f)
	f.srv.mu.Unlock()
	if rec != nil {
		f.srv.finishDetached(rec)
	}
}

// recording reports whether the conference's mix is recorded.
func (f *Conference) recording() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec != nil
}

// conferences returns the live conferences.
func (s *Server) conferences() []*Conference {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conference, 0, len(s.confs))
	for f := range s.confs {
		out = append(out, f)
	}
	return out
}

// MuteParticipant mutes a conference member (direction "in": what it
// says), deafens it ("out": what it hears) or both (the default)
// (decision 23).
func (s *Server) MuteParticipant(ctx context.Context, req MuteRequest) error {
	return s.setMute(req, true)
}

// UnmuteParticipant undoes MuteParticipant for the given direction.
func (s *Server) UnmuteParticipant(ctx context.Context, req MuteRequest) error {
	return s.setMute(req, false)
}

func (s *Server) setMute(req MuteRequest, on bool) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	r, err := s.resolve(req.ReplyID)
	if err != nil {
		return err
	}
	p, err := s.participant(req.ParticipantID)
	if err != nil {
		return err
	}
	if !r.authorises(p) {
		return fmt.Errorf("replyId does not name participant %s or its conference: %w", p.id, ErrInvalidState)
	}
	in, out := true, true
	switch req.Direction {
	case "", "both":
	case "in":
		out = false
	case "out":
		in = false
	default:
		return fmt.Errorf("direction %q: want in, out or both: %w", req.Direction, ErrInvalid)
	}
	f := p.inConference.Load()
	if f == nil {
		return fmt.Errorf("participant %s is not in a conference: %w", p.id, ErrInvalidState)
	}
	f.mu.Lock()
	mm := f.members[p]
	f.mu.Unlock()
	if mm == nil {
		return fmt.Errorf("participant %s left the conference: %w", p.id, ErrInvalidState)
	}
	if in {
		mm.SetMuted(on)
	}
	if out {
		mm.SetDeaf(on)
	}
	return nil
}
