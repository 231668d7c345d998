package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mediaserver-go/mediaserver/sip"
)

// onInvite takes a new inbound call (on a SIP goroutine): it creates the
// session and its first participant, binds media, and queues newCall.
func (s *Server) onInvite(call *sip.InboundCall) sip.DialogHandler {
	if s.closed.Load() {
		_ = call.Reject(503, "Service Unavailable")
		return nil
	}
	if s.full() {
		// Refused before any port is bound or SDP parsed: at capacity a
		// burst of INVITEs costs one response each. startSession checks
		// again under the lock.
		s.atCapacity.Add(1)
		s.log.Info("rejecting call: MaxSessions reached", logCallID, call.CallID(), "maxSessions", s.cfg.MaxSessions)
		_ = call.Reject(503, "Service Unavailable")
		return nil
	}
	ss := s.newSession("")
	p := ss.newParticipant(KindCaller, call.From())
	p.in = call
	p.log = p.log.With(logCallID, call.CallID())
	ep, err := s.newEndpoint(p)
	if err != nil {
		s.log.Warn("rejecting call: no media port", logCallID, call.CallID(), logErr, err)
		_ = call.Reject(503, "Service Unavailable")
		ss.finish()
		return nil
	}
	p.setEndpoint(ep)
	m, err := call.Negotiate(p.localMedia())
	if err != nil {
		code := 488
		if errors.Is(err, sip.ErrBadSDP) {
			code = 400
		}
		s.log.Info("rejecting call: sdp", logCallID, call.CallID(), "status", code, logErr, err)
		_ = call.Reject(code, "")
		p.release()
		ss.finish()
		return nil
	}
	if m.RTP.IsValid() {
		p.applyMedia(m)
	}
	if err := s.startSession(ss); err != nil {
		s.log.Warn("rejecting call", logCallID, call.CallID(), logErr, err)
		_ = call.Reject(503, "Service Unavailable")
		p.release()
		ss.finish()
		return nil
	}
	ss.traceSIP(p, true, "INVITE "+call.RequestURI())
	ss.log.Info("new call", logParticipantID, p.id, logCallID, call.CallID(), "from", p.uri, "to", call.RequestURI())
	ss.post(func() { ss.onNewCall(p) })
	return legEvents{p}
}

func (ss *Session) onNewCall(p *Participant) {
	if p.gone() {
		return
	}
	from := p.in.From()
	req := &NewCallRequest{
		Meta:          ss.meta(),
		SipCallID:     p.in.CallID(),
		ParticipantID: p.id,
		ReplyID:       p.replyID(),
		CallingParty:  from.URI,
		CalledParty:   p.in.RequestURI(),
		User:          from.User,
		DisplayName:   from.DisplayName,
	}
	h := ss.srv.handler
	act, err := invoke(ss, CallbackNewCall, p, true, func(ctx context.Context) (Action, error) { return h.NewCall(ctx, req) })
	ss.traceCallback(CallbackNewCall, req, act, err)
	if err != nil {
		act = fallbackNewCall
	}
	if !p.gone() {
		ss.applyOptions(act)
	}
	ss.apply(p, act)
}

// apply carries out an application's answer about p.
func (ss *Session) apply(p *Participant, act Action) {
	if p.gone() || ss.closing {
		ss.completeIfEmpty()
		return
	}
	switch act.Action {
	case ActionDrop:
		ss.hangup(p, ReasonHangup, int(act.DropReason))
	case ActionCall:
		if err := ss.call(p, act.DestAddr, act.CallerID); err != nil {
			p.log.Warn("action call failed; dropping", logErr, err)
			ss.hangup(p, ReasonHangup, 0)
		}
	case ActionIvr:
		if err := ss.startIVR(p, act.Command); err != nil {
			p.log.Warn("action ivr failed; dropping", logErr, err)
			ss.hangup(p, ReasonHangup, 0)
		}
	case ActionConnect:
		ss.connectWith(p, act)
	case ActionJoinConferenceConnection:
		f, err := ss.srv.conference(act.ConnectionID)
		if err == nil {
			err = ss.join(p, f)
		}
		if err != nil {
			p.log.Warn("joinconferenceconnection failed; dropping", "conference", act.ConnectionID, logErr, err)
			ss.hangup(p, ReasonHangup, 0)
		}
	default:
		p.log.Warn("unknown or unsupported action; dropping", "action", act.Action)
		ss.hangup(p, ReasonHangup, 0)
	}
	ss.refreshTap()
	ss.completeIfEmpty()
}

// applyOptions takes the recording and monitor options of a newCall or
// callEvent answer (API.md §4.3, §6).
func (ss *Session) applyOptions(act Action) {
	if act.MonitorDestAddr != "" && ss.monitorAddr == "" {
		ss.monitorAddr = act.MonitorDestAddr
	}
	if act.CallRecording && act.Action != ActionDrop && act.Action != ActionConnect {
		if err := ss.startRecording(act.Filename, "", act.RecordingChannels); err != nil {
			ss.log.Warn("recording not started", "filename", act.Filename, logErr, err)
		}
	}
}

// answer answers an inbound caller that is still ringing.
func (p *Participant) answer() error {
	if p.in == nil || p.state != stateNew {
		return nil
	}
	if err := p.in.Answer(); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	p.session().traceSIP(p, false, "200 OK")
	p.state = stateUp
	return nil
}

// call creates a callee participant for p and invites dest.
func (ss *Session) call(p *Participant, dest, callerID string) error {
	if dest == "" {
		return fmt.Errorf("call without destAddr: %w", ErrInvalid)
	}
	if ss.srv.cfg.AnswerMode == AnswerBeforeCallee {
		if err := p.answer(); err != nil {
			return err
		}
	}
	if p.callee != nil {
		ss.hangup(p.callee, ReasonHangup, 0)
	}
	p.silence()
	q := ss.newParticipant(KindCallee, sip.Address{URI: dest, User: userOf(dest)})
	q.state = stateCalling
	q.calledFor = p
	p.callee = q
	ep, err := ss.srv.newEndpoint(q)
	if err != nil {
		q.log.Warn("no media port for the callee", logErr, err)
		ss.post(func() { ss.failCallee(q, 503, ReasonUnreachable) })
		return nil
	}
	q.setEndpoint(ep)
	if callerID == "" {
		callerID = p.user
	}
	ss.traceSIP(q, false, "INVITE "+dest) // before: its answer may be traced first otherwise
	out, err := ss.srv.invite(ss, sip.InviteRequest{
		Target:   dest,
		CallerID: callerID,
		Local:    q.localMedia(),
	}, legEvents{q})
	if err != nil {
		q.log.Info("invite failed", "dest", dest, logErr, err)
		code, reason := failureOf(err)
		// Posted, not nested: an application that answers every failure
		// with another impossible call must not grow the stack.
		ss.post(func() { ss.failCallee(q, code, reason) })
		return nil
	}
	q.out = out
	q.log = q.log.With(logCallID, out.CallID())
	q.log.Info("calling", "dest", dest, "for", p.id)
	return nil
}

// onProgress handles 180/183 of a callee.
func (ss *Session) onProgress(q *Participant, code int, early bool) {
	if q.placed && q.state == stateCalling {
		event := NotifyRinging
		if code == 183 {
			event = NotifySessionProgress
		}
		ss.callNotify(q, event, code)
		return
	}
	p := q.calledFor
	if q.gone() || p == nil || p.gone() {
		return
	}
	switch {
	case early && q.ep != nil && p.ep != nil:
		// The callee's early media replaces our ringback (decision 11).
		q.earlyMedia = true
		q.ep.ForwardTo(p.ep)
	case !q.earlyMedia && p.answered() && p.ep != nil:
		p.ep.SetSource(newRingback())
	}
	if p.state == stateNew && p.in != nil {
		ss.traceSIP(p, false, statusLine(code))
		if err := p.in.Progress(code, early); err != nil {
			p.log.Debug("passing progress on", logErr, err)
		}
	}
	event := NotifyRinging
	if code == 183 {
		event = NotifySessionProgress
	}
	ss.callNotify(q, event, code)
}

func (ss *Session) callNotifyDigit(p *Participant, digit byte) {
	h := ss.srv.handler.notify
	if h == nil {
		return
	}
	req := &CallNotifyRequest{Meta: ss.meta(), Event: NotifyDTMF, ReplyID: p.replyID(), ParticipantID: p.id, User: p.user, Digit: string(digit)}
	ss.notify(CallbackCallNotify, req, func(ctx context.Context) error { return h.CallNotify(ctx, req) })
}

func (ss *Session) callNotify(q *Participant, event string, code int) {
	h := ss.srv.handler.notify
	if h == nil {
		return
	}
	req := &CallNotifyRequest{
		Meta:          ss.meta(),
		Event:         event,
		ReplyID:       q.replyID(),
		ParticipantID: q.id,
		User:          q.user,
		SipStatusCode: code,
	}
	ss.notify(CallbackCallNotify, req, func(ctx context.Context) error { return h.CallNotify(ctx, req) })
}

// onAnswer connects an answered callee with the participant it was called
// for.
func (ss *Session) onAnswer(q *Participant) {
	if q.gone() {
		return
	}
	if q.placed && q.state == stateCalling {
		q.state = stateUp
		if err := ss.startIVR(q, nil); err != nil {
			q.log.Warn("placeivrcall: IVR failed; hanging up", logErr, err)
			ss.hangup(q, ReasonHangup, 0)
		}
		return
	}
	q.state = stateUp
	p := q.calledFor
	q.calledFor = nil
	if p == nil || p.gone() {
		ss.hangup(q, ReasonHangup, 0)
		ss.completeIfEmpty()
		return
	}
	p.callee = nil
	if p.remoteEnded.Load() {
		ss.hangup(q, ReasonHangup, 0) // the caller's CANCEL crossed the callee's 200
		ss.leave(p, ReasonHangup)
		return
	}
	if err := p.answer(); err != nil {
		p.log.Warn("answering caller failed", logErr, err)
		ss.hangup(p, ReasonHangup, 0)
		ss.hangup(q, ReasonHangup, 0)
		return
	}
	ss.connect(p, q)
}

// onFail reports a callee that failed before answer.
func (ss *Session) onFail(q *Participant, err error) {
	if q.gone() {
		return
	}
	code, reason := failureOf(err)
	q.log.Info("callee failed", "status", code, "reason", reason, logErr, err)
	if q.placed && q.state == stateCalling && q.calledFor == nil {
		ss.placedFailed(q, code, reason)
		return
	}
	ss.failCallee(q, code, reason)
}

// failCallee removes a callee that never answered and asks the application
// about the participant it was called for (calledPartyFailed).
func (ss *Session) failCallee(q *Participant, code int, reason string) {
	p := q.calledFor
	q.calledFor = nil
	q.outcome = reason
	q.release()
	delete(ss.parts, q.id)
	if p == nil || p.gone() || ss.closing {
		ss.completeIfEmpty()
		return
	}
	p.callee = nil
	p.endCode = code
	ss.askAbout(p, &CallEventRequest{Event: EventCalledPartyFailed, Reason: reason, SipStatusCode: code})
}

// failureOf maps an outbound failure to the protocol's reason and a SIP
// status (decision 13).
func failureOf(err error) (int, string) {
	var se *sip.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 486, 600:
			return se.Code, ReasonBusy
		case 408, 480:
			return se.Code, ReasonNoAnswer
		case 403, 603:
			return se.Code, ReasonRejected
		}
		return se.Code, ReasonUnreachable
	}
	switch {
	case errors.Is(err, sip.ErrNoAnswer):
		return 408, ReasonNoAnswer // our no-answer timer
	case errors.Is(err, sip.ErrTimeout):
		return 408, ReasonUnreachable // Timer B: nothing answered at all
	}
	return 503, ReasonUnreachable
}

// askAbout sends a callEvent about p, which waits on silence for the
// answer, and carries the answer out.
func (ss *Session) askAbout(p *Participant, ev *CallEventRequest) {
	if p.gone() || ss.closing {
		ss.completeIfEmpty()
		return
	}
	if p.remoteEnded.Load() {
		// It hung up meanwhile; its end is queued. Nobody to ask about.
		ss.leave(p, ReasonHangup)
		return
	}
	p.silence()
	ev.Meta = ss.meta()
	ev.ParticipantID = p.id
	ev.ReplyID = p.replyID()
	if p.kind != KindIVR {
		ev.User = p.user
	}
	h := ss.srv.handler
	act, err := invoke(ss, CallbackCallEvent, p, true, func(ctx context.Context) (Action, error) { return h.CallEvent(ctx, ev) })
	ss.traceCallback(CallbackCallEvent, ev, act, err)
	if err != nil {
		act = fallbackCallEvent
	}
	if act.Action == ActionDrop && act.DropReason == 0 && p.state == stateNew && p.endCode != 0 {
		act.DropReason = SIPStatus(p.endCode) // decision 11: reject with the callee's status
	}
	if !p.gone() {
		ss.applyOptions(act)
	}
	ss.apply(p, act)
}

// leave handles a participant that is gone from the far end (BYE, CANCEL,
// timeouts) or that we hung up: its connection dissolves and the other
// party is asked what to do (callingPartyDrop / calledPartyDrop).
func (ss *Session) leave(p *Participant, reason string) {
	if p.gone() {
		return
	}
	p.log.Info("participant left", "reason", reason)
	c := p.conn
	if c != nil {
		ss.dissolve(c) // unwires media before p's media is released
	}
	ss.leaveConference(p)
	p.release()
	delete(ss.parts, p.id)
	ss.refreshTap()
	if q := p.callee; q != nil {
		p.callee = nil
		q.calledFor = nil
		ss.hangup(q, ReasonHangup, 0)
	}
	if q := p.calledFor; q != nil {
		q.callee = nil
	}
	if c != nil {
		other := c.other(p)
		event := EventCalledPartyDrop
		if c.caller == p {
			event = EventCallingPartyDrop
		}
		switch {
		case other == nil || other.gone() || ss.closing:
		case other.kind == KindIVR:
			// An IVR whose caller left has nobody to serve; a message it
			// was recording is reported first (voicemail).
			if rec := other.player.FinishRecording(); rec != nil {
				ss.finalIvrReport(other, c, rec)
			}
			ss.leave(other, reason)
		default:
			ss.askAbout(other, &CallEventRequest{Event: event, Reason: reason, ConnectionID: c.id})
		}
	}
	ss.completeIfEmpty()
}

// hangup ends p from our side and lets the rest of the session react.
func (ss *Session) hangup(p *Participant, reason string, code int) {
	if p.gone() {
		return
	}
	p.sipHangup(code)
	ss.leave(p, reason)
}

func (ss *Session) onMediaTimeout(p *Participant) {
	if p.kind == KindMonitor {
		if ss.monitor == p {
			ss.dropMonitor(408)
		}
		return
	}
	if p.gone() {
		return
	}
	p.log.Warn("media timeout: hanging up")
	ss.hangup(p, ReasonMediaTimeout, 408)
}

// crossSourceWindow: the same digit from another source within this time
// is the same press (a phone sending in-band tones and INFO both).
const crossSourceWindow = 500 * time.Millisecond

// digitSource is how a participant sends its digits.
type digitSource uint8

const (
	digitRTP digitSource = iota + 1
	digitINFO
	digitInband
)

// onDigit receives a DTMF digit of p (RFC 4733, INFO or in-band). Relayed
// legs pass RFC 4733 on in the media plane; IVRs collect digits. Each
// digit counts once (decision 14): after the first RFC 4733 event, INFO
// digits of that leg are ignored and vice versa; in-band detection only
// runs while no telephone-event was negotiated or received.
func (ss *Session) onDigit(p *Participant, digit byte, src digitSource) {
	if p.gone() {
		return
	}
	now := time.Now()
	if digit == p.lastDigit && src != p.lastDigitSrc && now.Sub(p.lastDigitAt) < crossSourceWindow {
		return // the same press seen through a second source
	}
	p.lastDigit, p.lastDigitSrc, p.lastDigitAt = digit, src, now
	switch {
	case src == digitInband && p.dtmfFrom != 0 && p.dtmfFrom != digitInband:
		return // the leg signals its digits; tones in its audio are echoes of them
	case src == digitINFO && p.dtmfFrom == digitRTP, src == digitRTP && p.dtmfFrom == digitINFO:
		p.log.Debug("digit ignored: this leg sends its digits another way", "digit", string(digit))
		return
	case src == digitINFO && p.dtmfFrom == digitInband:
		p.dtmfFrom = src // INFO wins over in-band detection from now on
	case p.dtmfFrom == 0:
		p.dtmfFrom = src
	}
	p.log.Debug("digit", "digit", string(digit))
	if c := p.conn; c != nil {
		if v := c.other(p); v != nil && v.kind == KindIVR && v.player != nil {
			v.player.Digit(digit)
			return
		}
	}
	if ss.srv.cfg.NotifyDigits && (p.conn != nil || p.conf != nil) {
		ss.callNotifyDigit(p, digit)
	}
}

// userOf returns the user part of a SIP URI or the bare number itself.
func userOf(addr string) string {
	u, err := parseUser(addr)
	if err != nil {
		return ""
	}
	return u
}
