package mediaserver

import (
	"context"
	"fmt"

	"github.com/mediaserver-go/mediaserver/media"
)

// The Server methods of the REST API (API.md §3). Each validates its IDs at
// once (decision 3), queues the work on the owning session and returns;
// the callbacks it causes follow after the current callback returns
// (decision 1), so they are safe to call from inside Handler methods.

// resolved is what a verified replyId names, checked against the registry.
type resolved struct {
	ref  replyRef
	obj  *object
	sess *Session
}

// resolve verifies a replyId: bad signature or unknown object is
// ErrNotFound, an older generation or a dissolved object ErrStaleReply.
func (s *Server) resolve(replyID string) (resolved, error) {
	if replyID == "" {
		return resolved{}, fmt.Errorf("replyId is required: %w", ErrInvalid)
	}
	ref, err := s.tokens.parse(replyID)
	if err != nil {
		return resolved{}, err
	}
	o, ok := s.lookup(ref.objectID)
	if !ok {
		return resolved{}, fmt.Errorf("replyId names %s: %w", ref.objectID, ErrNotFound)
	}
	var gen uint32
	var dead bool
	switch {
	case o.part != nil:
		gen, dead = o.part.gen.Load(), o.part.dead.Load()
	case o.conn != nil:
		gen, dead = o.conn.gen.Load(), o.conn.dead.Load()
	case o.conf != nil:
		gen, dead = o.conf.gen.Load(), o.conf.dead.Load()
	default:
		return resolved{}, fmt.Errorf("replyId names %s: %w", ref.objectID, ErrNotFound)
	}
	if dead || gen != ref.gen {
		return resolved{}, fmt.Errorf("replyId of %s generation %d, now %d: %w", ref.objectID, ref.gen, gen, ErrStaleReply)
	}
	return resolved{ref: ref, obj: o, sess: o.owner()}, nil
}

// participant looks up a live participant by ID.
func (s *Server) participant(id string) (*Participant, error) {
	if id == "" {
		return nil, fmt.Errorf("participantId is required: %w", ErrInvalid)
	}
	o, ok := s.lookup(id)
	if !ok || o.part == nil {
		return nil, fmt.Errorf("participant %s: %w", id, ErrNotFound)
	}
	if o.part.dead.Load() {
		return nil, fmt.Errorf("participant %s left: %w", id, ErrInvalidState)
	}
	return o.part, nil
}

// authorises reports whether a verified replyId may act on participant p:
// its own replyId, or the replyId of the connection it is in (decision 3).
func (r resolved) authorises(p *Participant) bool {
	switch {
	case r.obj.part != nil:
		return r.obj.part == p
	case r.obj.conn != nil:
		return p.curConn.Load() == r.obj.conn
	case r.obj.conf != nil:
		return p.inConference.Load() == r.obj.conf
	}
	return false
}

// HangupParticipant hangs up one participant (API.md §3.3). The other party
// of its connection gets a callEvent (callingPartyDrop or calledPartyDrop).
// replyId is the participant's own or that of its connection.
func (s *Server) HangupParticipant(ctx context.Context, req HangupParticipantRequest) error {
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
	if (r.obj.conf == nil && p.session() != r.sess) || (req.SessionID != "" && req.SessionID != p.session().id) {
		return fmt.Errorf("participant %s is not in that session: %w", p.id, ErrNotFound)
	}
	if !r.authorises(p) {
		return fmt.Errorf("replyId does not name participant %s or its connection: %w", p.id, ErrInvalidState)
	}
	p.session().traceREST("hangupparticipant", req)
	p.post(func(ss *Session) {
		if p.gone() {
			return
		}
		p.log.Info("hangup requested")
		ss.hangup(p, ReasonHangup, 0)
	})
	return nil
}

// Participant returns the live participant with this ID.
func (s *Server) Participant(id string) (*Participant, bool) {
	o, ok := s.lookup(id)
	if !ok || o.part == nil || o.part.dead.Load() {
		return nil, false
	}
	return o.part, true
}

// ClockStats reports how well the shared media clock keeps time: ticks run
// and skipped, lag behind the deadline and the longest tick.
func (s *Server) ClockStats() media.ClockStats { return s.clock.Stats() }
