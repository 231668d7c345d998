package mediaserver

import (
	"context"
	"fmt"

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
// (decision 2), and callAnswered follows for the new connection.
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
	target, err := s.participant(req.ParticipantID)
	if err != nil {
		return err
	}
	if target == p || target.kind == KindIVR || target.kind == KindMonitor {
		return fmt.Errorf("cannot connect %s with %s: %w", p.id, target.id, ErrInvalidState)
	}
	act := Action{Action: ActionConnect, ParticipantID: target.id, CallRecording: req.CallRecording, Filename: req.Filename}
	p.post(func(ss *Session) {
		if p.gone() {
			return
		}
		ss.connectWith(p, act)
	})
	return nil
}

// connectWith carries out action connect for p (unconnected, or on an
// IVR): it fetches the target, dropping its IVR hold connection, and
// connects them. A target in another session is handed over by its own
// loop first.
func (ss *Session) connectWith(p *Participant, act Action) {
	target, err := ss.srv.participant(act.ParticipantID)
	if err != nil || target == p || target.kind == KindIVR || target.kind == KindMonitor {
		p.log.Warn("connect: no such participant to connect with; asking again", "target", act.ParticipantID, logErr, err)
		ss.askAbout(p, &CallEventRequest{Event: EventCalledPartyDrop, Reason: ReasonHangup})
		return
	}
	if act.CallRecording {
		if err := ss.startRecording(act.Filename, "", act.RecordingChannels); err != nil {
			p.log.Warn("connect: recording not started", logErr, err)
		}
	}
	if other := target.session(); other != ss {
		// Decision 2: the target moves into this session. Its own loop
		// releases it; ours adopts it.
		other.post(func() { other.handOver(target, ss, p) })
		return
	}
	ss.attach(p, target)
}

// handOver runs on the target's old session: it detaches target (dropping
// an IVR hold) and moves it to dst, where attach connects it with p.
func (ss *Session) handOver(target *Participant, dst *Session, p *Participant) {
	if target.gone() || target.session() != ss {
		dst.post(func() { dst.attach(p, target) })
		return
	}
	ss.detach(target)
	delete(ss.parts, target.id)
	if ss.first == target {
		ss.first = nil
	}
	target.sess.Store(dst)
	target.log = dst.log.With(logParticipantID, target.id)
	dst.post(func() {
		dst.parts[target.id] = target
		dst.attach(p, target)
	})
	ss.refreshTap()
	ss.completeIfEmpty()
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
	if q := target.callee; q != nil {
		target.callee = nil
		q.calledFor = nil
		ss.hangup(q, ReasonHangup, 0)
	}
}

// attach connects p with target, both in ss now.
func (ss *Session) attach(p, target *Participant) {
	if p.gone() {
		ss.completeIfEmpty()
		return
	}
	if target.gone() {
		p.log.Info("connect: the other participant left; asking again")
		ss.askAbout(p, &CallEventRequest{Event: EventCalledPartyDrop, Reason: ReasonHangup})
		return
	}
	ss.detach(target)
	ss.detach(p)
	if err := p.answer(); err != nil {
		p.log.Warn("connect: answering failed", logErr, err)
		ss.hangup(p, ReasonHangup, 0)
		return
	}
	caller, callee := p, target
	if target.kind == KindCaller && p.kind != KindCaller {
		caller, callee = target, p
	}
	ss.connect(caller, callee)
	ss.refreshTap()
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
	ss := s.newSession(req.SessionReferenceID)
	p := ss.newParticipant(KindCaller, sip.Address{URI: req.DestAddr, User: userOf(req.DestAddr)})
	p.state = stateCalling
	p.placed = true
	ep, err := s.newEndpoint(p)
	if err != nil {
		ss.finish()
		return PlaceIvrCallResult{}, fmt.Errorf("no media port: %w", err)
	}
	p.setEndpoint(ep)
	if err := s.startSession(ss); err != nil {
		p.release()
		ss.finish()
		return PlaceIvrCallResult{}, err
	}
	ss.post(func() {
		if req.CallRecording {
			if err := ss.startRecording(req.Filename, "", 1); err != nil {
				ss.log.Warn("placeivrcall: recording not started", logErr, err)
			}
		}
		out, err := s.agent.Invite(ss.ctx, sip.InviteRequest{Target: req.DestAddr, CallerID: req.CallerID, Local: p.localMedia()}, legEvents{p})
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
	p.release()
	delete(ss.parts, p.id)
	h := ss.srv.handler
	ev := &CallEventRequest{Meta: ss.meta(), Event: EventCalledPartyFailed, ParticipantID: p.id, ReplyID: p.replyID(),
		User: p.user, Reason: reason, SipStatusCode: code}
	_, _ = invoke(ss, "callEvent", nil, func(ctx context.Context) (Action, error) { return h.CallEvent(ctx, ev) })
	ss.completeIfEmpty()
}
