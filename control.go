package mediaserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/mediaserver-go/mediaserver/sip"
)

// Call control: split, connect, conferences and outbound calls (API.md §3,
// the examples document's transfer, conference and /placeivrcall flows).

// SplitConnection dissolves a connection (API.md §3.5): each participant
// gets its own callEvent (callerConnectionSplit / calleeConnectionSplit,
// with its own replyId) and stays up on silence until its answer. A
// conference is dissolved the same way: every member gets
// callerConnectionSplit. replyId is the connection's.
func (s *Server) SplitConnection(ctx context.Context, req SplitConnectionRequest) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	if req.ConnectionID == "" {
		return fmt.Errorf("connectionId is required: %w", ErrInvalid)
	}
	r, err := s.resolve(req.ReplyID)
	if err != nil {
		return err
	}
	if f := r.obj.conf; f != nil {
		if f.id != req.ConnectionID {
			return fmt.Errorf("replyId does not name connection %s: %w", req.ConnectionID, ErrNotFound)
		}
		s.splitConference(f)
		return nil
	}
	c := r.obj.conn
	if c == nil || c.id != req.ConnectionID {
		return fmt.Errorf("replyId does not name connection %s: %w", req.ConnectionID, ErrNotFound)
	}
	ss := c.ss
	ss.traceREST("splitconnection", req)
	ss.post(func() {
		if c.dead.Load() {
			return // ended meanwhile: its participants were already told
		}
		ss.split(c)
	})
	return nil
}

// split dissolves c and asks about each participant, the caller side first.
func (ss *Session) split(c *Connection) {
	caller, callee := c.caller, c.callee
	ss.log.Info("splitting", logConnectionID, c.id)
	ss.dissolve(c)
	for _, ev := range []struct {
		p     *Participant
		event string
	}{{caller, EventCallerConnectionSplit}, {callee, EventCalleeConnectionSplit}} {
		if ev.p.gone() || ev.p.conn != nil {
			continue // hung up, or already reconnected by the first answer
		}
		ss.askAbout(ev.p, &CallEventRequest{Event: ev.event, ConnectionID: c.id})
	}
	ss.completeIfEmpty()
}

// splitConference ends a conference: every member's session asks about it.
func (s *Server) splitConference(f *Conference) {
	f.mu.Lock()
	members := make([]*Participant, 0, len(f.members))
	for p := range f.members {
		members = append(members, p)
	}
	f.mu.Unlock()
	for _, p := range members {
		p.post(func(ss *Session) {
			if p.gone() || p.conf != f {
				return
			}
			ss.leaveConference(p)
			ss.askAbout(p, &CallEventRequest{Event: EventCallerConnectionSplit, ConnectionID: f.id})
		})
	}
}

// Connect connects the participant a replyId names with another
// participant (API.md §3.6): that one's IVR hold connection is dropped
// without asking, a participant of another session moves into this one
// (decision 2), and callAnswered follows for the new connection. The other
// participant must be answered and either unconnected or on an IVR; else
// the first is asked again with callEvent calledPartyDrop (reason
// connectFailed).
func (s *Server) Connect(ctx context.Context, req ConnectRequest) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	r, err := s.resolve(req.ReplyID)
	if err != nil {
		return err
	}
	p := r.obj.part
	if p == nil {
		return fmt.Errorf("replyId must name a participant (its callEvent's): %w", ErrInvalidState)
	}
	if err := s.checkConnectTarget(p, req.ParticipantID); err != nil {
		return err
	}
	var rec *recording
	if req.CallRecording {
		if rec, err = s.newRecording(req.Filename, "", 1); err != nil {
			return err
		}
	}
	act := Action{Action: ActionConnect, ParticipantID: req.ParticipantID}
	p.session().traceREST("connect", req)
	p.post(func(ss *Session) {
		if rec != nil && ss.addRecording(rec) != nil {
			ss.srv.discard(rec)
		}
		if p.gone() {
			return
		}
		ss.connectWith(p, act)
	})
	return nil
}

// checkConnectTarget validates what can be checked at once (decision 1):
// the target exists, is another SIP participant, and lives on this
// instance (decision 2: else 409).
func (s *Server) checkConnectTarget(p *Participant, targetID string) error {
	if targetID == "" {
		return fmt.Errorf("participantId is required: %w", ErrInvalid)
	}
	if inst, _, _ := strings.Cut(targetID, "-"); inst != s.cfg.InstanceID {
		return fmt.Errorf("participant %s lives on instance %q: %w", targetID, inst, ErrInvalidState)
	}
	target, err := s.participant(targetID)
	if err != nil {
		return err
	}
	if target == p || target.kind == KindIVR || target.kind == KindMonitor || p.kind == KindIVR {
		return fmt.Errorf("cannot connect %s with %s: %w", p.id, target.id, ErrInvalidState)
	}
	return nil
}

// connectWith carries out action connect for p. A target of another
// session is handed over by that session's loop first.
func (ss *Session) connectWith(p *Participant, act Action) {
	if err := ss.srv.checkConnectTarget(p, act.ParticipantID); err != nil {
		ss.connectFailed(p, err)
		return
	}
	target, _ := ss.srv.participant(act.ParticipantID)
	if other := target.session(); other != ss {
		if !other.post(func() { other.handOver(target, ss, p) }) {
			ss.connectFailed(p, fmt.Errorf("participant %s left: %w", target.id, ErrInvalidState))
		}
		return
	}
	ss.attach(p, target)
}

// connectFailed asks the application again about p, whose connect could
// not be carried out. It is posted, never nested, so that an application
// that keeps answering the same impossible connect cannot grow the stack.
func (ss *Session) connectFailed(p *Participant, err error) {
	p.log.Warn("connect failed; asking again", logErr, err)
	ss.post(func() {
		ss.askAbout(p, &CallEventRequest{Event: EventCalledPartyDrop, Reason: "connectFailed"})
	})
}

// connectable reports whether target may be connected: answered, and
// unconnected or on an IVR hold connection.
func connectable(target *Participant) bool {
	if target.gone() || target.state != stateUp || target.calledFor != nil {
		return false
	}
	if c := target.conn; c != nil && c.other(target).kind != KindIVR {
		return false
	}
	return true
}

// handOver runs on the target's session: it detaches target (dropping an
// IVR hold) and moves it to dst, whose loop adopts it and connects it with
// p. When dst ended meanwhile, target stays here and is asked about.
func (ss *Session) handOver(target *Participant, dst *Session, p *Participant) {
	if target.session() != ss || !connectable(target) || target.remoteEnded.Load() {
		dst.post(func() {
			dst.connectFailed(p, fmt.Errorf("participant %s cannot be connected: %w", target.id, ErrInvalidState))
		})
		return
	}
	ss.detach(target)
	delete(ss.parts, target.id)
	if ss.first == target {
		ss.first = nil
	}
	target.log = dst.log.With(logParticipantID, target.id)
	target.sess.Store(dst)
	if !dst.post(func() { dst.adopt(p, target) }) {
		// p's session ended: keep target and let the application decide.
		target.sess.Store(ss)
		target.log = ss.log.With(logParticipantID, target.id)
		ss.parts[target.id] = target
		ss.askAbout(target, &CallEventRequest{Event: EventCalledPartyDrop, Reason: "connectFailed"})
		return
	}
	ss.refreshTap()
	ss.completeIfEmpty()
}

// adopt takes a participant handed over by another session and connects
// it with p.
func (ss *Session) adopt(p, target *Participant) {
	if !target.gone() {
		ss.parts[target.id] = target
		ss.ids = append(ss.ids, target.id)
	}
	ss.attach(p, target)
}

// detach frees target for a new connection: an IVR hold connection is
// dropped silently; a conference membership ends.
func (ss *Session) detach(target *Participant) {
	if c := target.conn; c != nil {
		other := c.other(target)
		ss.dissolve(c)
		if other != nil && other.kind == KindIVR {
			other.release()
			delete(ss.parts, other.id)
		}
	}
	ss.leaveConference(target)
	ss.refreshTap()
}

// attach connects p with target, both in ss now. Whichever left meanwhile,
// the other is asked about.
func (ss *Session) attach(p, target *Participant) {
	switch {
	case p.gone() && target.gone():
		ss.completeIfEmpty()
		return
	case p.gone():
		ss.askAbout(target, &CallEventRequest{Event: EventCalledPartyDrop, Reason: ReasonHangup})
		return
	case target.gone() || !connectable(target):
		ss.connectFailed(p, fmt.Errorf("participant %s cannot be connected: %w", target.id, ErrInvalidState))
		return
	}
	if c := p.conn; c != nil && c.other(p).kind != KindIVR {
		ss.connectFailed(p, fmt.Errorf("participant %s is connected already: %w", p.id, ErrInvalidState))
		return
	}
	ss.detach(target)
	ss.detach(p)
	if q := p.callee; q != nil {
		p.callee, q.calledFor = nil, nil
		ss.hangup(q, ReasonHangup, 0)
	}
	if err := p.answer(); err != nil {
		p.log.Warn("connect: answering failed", logErr, err)
		ss.hangup(p, ReasonHangup, 0)
		ss.askAbout(target, &CallEventRequest{Event: EventCalledPartyDrop, Reason: ReasonHangup})
		return
	}
	caller, callee := p, target
	if target.kind == KindCaller && p.kind != KindCaller {
		caller, callee = target, p
	}
	ss.connect(caller, callee)
}

// PlaceIvrCallResult is the answer to PlaceIvrCall.
type PlaceIvrCallResult struct {
	SessionID string `json:"sessionId"`
}

// PlaceIvrCall calls destAddr in a new session (API.md §3.2): callNotify
// ringing, then on answer an IVR connection (callAnswered) and
// getIvrCommand; a failure gives calledPartyFailed, then
// sessionCompleted. The called party counts as the calling side.
func (s *Server) PlaceIvrCall(ctx context.Context, req PlaceIvrCallRequest) (PlaceIvrCallResult, error) {
	if s.closed.Load() || s.draining.Load() {
		return PlaceIvrCallResult{}, ErrServerClosed
	}
	if req.DestAddr == "" {
		return PlaceIvrCallResult{}, fmt.Errorf("destAddr is required: %w", ErrInvalid)
	}
	var rec *recording
	if req.CallRecording {
		var err error
		if rec, err = s.newRecording(req.Filename, "", 1); err != nil {
			return PlaceIvrCallResult{}, err
		}
	}
	ss := s.newSession(req.SessionReferenceID)
	ss.traceREST("placeivrcall", req)
	p := ss.newParticipant(KindCaller, sip.Address{URI: req.DestAddr, User: userOf(req.DestAddr)})
	p.state = stateCalling
	p.placed = true
	ep, err := s.newEndpoint(p)
	if err != nil {
		ss.finish()
		if rec != nil {
			s.discard(rec)
		}
		return PlaceIvrCallResult{}, fmt.Errorf("no media port: %w", err)
	}
	p.setEndpoint(ep)
	if err := s.startSession(ss); err != nil {
		p.release()
		ss.finish()
		if rec != nil {
			s.discard(rec)
		}
		return PlaceIvrCallResult{}, err
	}
	ss.post(func() {
		if rec != nil {
			_ = ss.addRecording(rec)
		}
		ss.traceSIP(p, false, "INVITE "+req.DestAddr)
		out, err := s.invite(ss, sip.InviteRequest{Target: req.DestAddr, CallerID: req.CallerID, Local: p.localMedia()}, legEvents{p})
		if err != nil {
			code, reason := failureOf(err)
			ss.placedFailed(p, code, reason)
			return
		}
		p.out = out
		p.log = p.log.With(logCallID, out.CallID())
		ss.log.Info("placing an IVR call", "dest", req.DestAddr)
	})
	return PlaceIvrCallResult{SessionID: ss.id}, nil
}

// placedFailed reports a PlaceIvrCall whose callee never answered:
// calledPartyFailed (its answer cannot bring the participant back), then
// sessionCompleted.
func (ss *Session) placedFailed(p *Participant, code int, reason string) {
	p.outcome = reason
	p.release()
	delete(ss.parts, p.id)
	h := ss.srv.handler
	ev := &CallEventRequest{Meta: ss.meta(), Event: EventCalledPartyFailed, ParticipantID: p.id, ReplyID: p.replyID(),
		User: p.user, Reason: reason, SipStatusCode: code}
	act, err := invoke(ss, CallbackCallEvent, nil, true, func(ctx context.Context) (Action, error) { return h.CallEvent(ctx, ev) })
	ss.traceCallback(CallbackCallEvent, ev, act, err)
	ss.completeIfEmpty()
}
