package mediaserver

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
	"github.com/mediaserver-go/mediaserver/sip"
)

// ParticipantKind says what a participant is.
type ParticipantKind uint8

// Participant kinds.
const (
	// KindCaller is an inbound SIP leg, or the called party of PlaceIvrCall
	// (which counts as the calling side).
	KindCaller ParticipantKind = iota + 1
	// KindCallee is an outbound SIP leg created by action call.
	KindCallee
	// KindIVR is an IVR participant.
	KindIVR
	// KindMonitor is a listen-only monitor leg.
	KindMonitor
)

func (k ParticipantKind) String() string {
	switch k {
	case KindCaller:
		return "caller"
	case KindCallee:
		return "callee"
	case KindIVR:
		return "ivr"
	case KindMonitor:
		return "monitor"
	}
	return "unknown"
}

// pstate is a participant's life cycle.
type pstate uint8

const (
	stateNew     pstate = iota // inbound, not answered yet
	stateCalling               // outbound, INVITE sent
	stateUp                    // answered
	stateGone                  // left
)

// Participant is one party of a session: a SIP leg or an IVR. Its exported
// methods are safe for concurrent use.
type Participant struct {
	id      string
	srv     *Server
	sess    atomic.Pointer[Session] // its session; changes when connect moves it
	kind    ParticipantKind
	uri     string
	user    string
	display string
	log     *slog.Logger
	created time.Time

	gen     atomic.Uint32              // replyId generation (decision 3)
	dead    atomic.Bool                // left the session
	curConn atomic.Pointer[Connection] // for validating Server calls
	// abortDecision cancels a Handler call about this participant when it
	// leaves (set while the call runs).
	abortDecision atomic.Pointer[context.CancelCauseFunc]
	endpoint      atomic.Pointer[media.Endpoint] // ep, for MediaStats
	// remoteEnded is set by SIP goroutines as soon as the far end hung up,
	// before the loop handles it, so the loop asks no one about it.
	remoteEnded  atomic.Bool
	inConference atomic.Pointer[Conference] // conf, for Server calls

	// Owned by the session loop.
	state        pstate
	conn         *Connection
	in           *sip.InboundCall
	out          *sip.OutboundCall
	ep           *media.Endpoint
	player       *ivr.Player // IVR participants
	dtmfFrom     digitSource // how this leg sends digits (decision 14)
	lastDigit    byte        // the last digit, for cross-source de-duplication
	lastDigitSrc digitSource
	lastDigitAt  time.Time
	placed       bool        // created by PlaceIvrCall
	outcome      string      // how a failed leg ended, for the Observer
	conf         *Conference // the conference it is in
	member       *media.MixerMember
	callee       *Participant // the leg being called for this participant
	calledFor    *Participant // on a callee: whom it is being called for
	endCode      int          // SIP status that ended a failed callee
	// earlyMedia is set on a callee that sent 183 with SDP.
	earlyMedia bool
}

// ID returns the participant ID.
func (p *Participant) ID() string { return p.id }

// Kind returns what the participant is.
func (p *Participant) Kind() ParticipantKind { return p.kind }

// User returns the user part of the participant's SIP address ("" for IVRs).
func (p *Participant) User() string { return p.user }

// URI returns the participant's SIP address.
func (p *Participant) URI() string { return p.uri }

// SessionID returns the ID of the participant's session.
func (p *Participant) SessionID() string { return p.session().id }

// session returns the participant's current session.
func (p *Participant) session() *Session { return p.sess.Load() }

// post queues f on the event loop of p's current session. f runs only
// while p belongs to that session: when connect moved p meanwhile, f
// follows it to its new session. Work for a participant whose session
// ended is dropped.
func (p *Participant) post(f func(ss *Session)) {
	for range 4 { // a participant moves rarely; a few tries always suffice
		ss := p.session()
		if ss.post(func() {
			if p.session() != ss {
				p.post(f)
				return
			}
			f(ss)
		}) {
			return
		}
		if p.session() == ss {
			return
		}
	}
}

// MediaStats returns the counters of the participant's RTP endpoint: packets
// and bytes each way, malformed and foreign packets dropped, loss and
// jitter. It is zero for participants without media.
func (p *Participant) MediaStats() media.Stats {
	if ep := p.endpoint.Load(); ep != nil {
		return ep.Stats()
	}
	return media.Stats{}
}

func (ss *Session) newParticipant(kind ParticipantKind, addr sip.Address) *Participant {
	id := newID(ss.srv.cfg.InstanceID, kindParticipant)
	p := &Participant{
		id:      id,
		srv:     ss.srv,
		kind:    kind,
		uri:     addr.URI,
		user:    addr.User,
		display: addr.DisplayName,
		log:     ss.log.With(logParticipantID, id),
		created: time.Now(),
	}
	p.gen.Store(1)
	p.sess.Store(ss)
	ss.srv.obs.ParticipantStarted(kind)
	ss.parts[id] = p
	if ss.first == nil {
		ss.first = p
	}
	ss.srv.register(id, &object{part: p})
	ss.ids = append(ss.ids, id)
	return p
}

// replyID returns the participant-scoped replyId of the current generation.
func (p *Participant) replyID() string {
	return p.srv.tokens.sign(p.session().id, p.id, p.gen.Load())
}

func (p *Participant) gone() bool { return p.state == stateGone }

func (p *Participant) answered() bool { return p.state == stateUp }

// newEndpoint binds the participant's RTP endpoint.
func (s *Server) newEndpoint(p *Participant) (*media.Endpoint, error) {
	mt := s.cfg.MediaTimeout
	if mt < 0 {
		mt = 0
	}
	return media.NewEndpoint(media.EndpointConfig{
		Ports:        s.ports,
		Clock:        s.clock,
		Logger:       p.log,
		Events:       mediaEvents{p},
		StrictSource: s.cfg.StrictRTPSource,
		MediaTimeout: mt,
		InbandDTMF:   s.cfg.InbandDTMF,
	})
}

func (p *Participant) setEndpoint(ep *media.Endpoint) {
	p.ep = ep
	p.endpoint.Store(ep)
}

// localMedia describes our side of p's stream.
func (p *Participant) localMedia() sip.LocalMedia {
	lm := sip.LocalMedia{Addr: p.srv.pubIP, Port: p.ep.Port()}
	if p.kind == KindMonitor {
		lm.Direction = sip.SendOnly
	}
	return lm
}

// applyMedia hands a negotiated description to the endpoint. It runs on
// SIP goroutines as well as the loop: the endpoint is safe for that.
func (p *Participant) applyMedia(m sip.Media) {
	if p.ep == nil {
		return
	}
	if err := p.ep.SetRemote(remoteOf(m)); err != nil {
		// Unusable SRTP keys: never fall back to plain RTP.
		p.log.Warn("media: cannot apply the negotiated keys; hanging up", logErr, err)
		p.post(func(ss *Session) { ss.hangup(p, ReasonHangup, 488) })
	}
}

func remoteOf(m sip.Media) media.Remote {
	r := media.Remote{
		RTP:            m.RTP,
		RTCP:           m.RTCP,
		RTCPMux:        m.RTCPMux,
		Codec:          media.CodecForPayloadType(m.Codec.PayloadType),
		TelephoneEvent: m.TelephoneEvent,
		Send:           m.CanSend(),
	}
	if k := m.SRTP; k != nil {
		r.SRTP = &media.SRTP{Tag80: k.Suite != sip.SRTPSuite32, Local: k.Local, Remote: k.Remote}
	}
	valid := m.RTP.IsValid() && m.RTP.Port() != 0 && !m.RTP.Addr().IsUnspecified()
	// Only a sendrecv leg "should send" for the media timeout (decision
	// 12): a phone that holds us (sendonly, inactive, c=0.0.0.0) may stay
	// silent for as long as the hold lasts, as many do without music.
	r.Receive = valid && m.Direction == sip.SendRecv
	if !r.RTCP.IsValid() && valid {
		r.RTCP = netip.AddrPortFrom(m.RTP.Addr(), m.RTP.Port()+1)
	}
	return r
}

// release ends the participant's media and registry entry.
func (p *Participant) release() {
	if p.state == stateGone {
		return
	}
	outcome := p.outcome
	switch {
	case outcome != "":
	case p.state == stateUp:
		outcome = OutcomeCompleted
	case p.remoteEnded.Load():
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeRejected
	}
	p.srv.obs.ParticipantEnded(p.kind, outcome)
	p.state = stateGone
	p.dead.Store(true)
	p.curConn.Store(nil)
	if p.ep != nil {
		if err := p.ep.Close(); err != nil {
			p.log.Debug("closing endpoint", logErr, err)
		}
	}
	if p.player != nil {
		if err := p.player.Close(); err != nil {
			p.log.Warn("closing IVR player", logErr, err)
		}
	}
}

// sipHangup ends p's SIP leg from our side: reject an unanswered caller
// with code (480 when 0), cancel or BYE a callee.
func (p *Participant) sipHangup(code int) {
	var err error
	ss := p.session()
	switch {
	case p.in != nil && p.state == stateNew:
		if code < 300 || code > 699 {
			code = 480
		}
		ss.traceSIP(p, false, statusLine(code))
		err = p.in.Reject(code, "")
	case p.in != nil:
		ss.traceSIP(p, false, "BYE")
		err = p.in.Hangup()
	case p.out != nil && p.state == stateUp:
		ss.traceSIP(p, false, "BYE")
		err = p.out.Hangup()
	case p.out != nil:
		ss.traceSIP(p, false, "CANCEL")
		err = p.out.Hangup()
	}
	if err != nil && !errors.Is(err, sip.ErrCallEnded) {
		p.log.Debug("hanging up", logErr, err)
	}
}

// invite starts an outbound leg. Only the dial (DNS, TCP connect) is bound
// to the context given to the agent, so it gets a limit of its own and
// ends when the server begins to close.
func (s *Server) invite(ss *Session, req sip.InviteRequest, h sip.OutboundHandler) (*sip.OutboundCall, error) {
	ctx, cancel := context.WithTimeout(s.stopping, dialTimeout)
	defer cancel()
	return s.agent.Invite(ctx, req, h)
}

// dialTimeout bounds connecting to a callee (a TCP connect or DNS lookup).
const dialTimeout = 10 * time.Second

// legEvents turns a SIP dialog's events into work on the session loop.
type legEvents struct{ p *Participant }

var _ sip.OutboundHandler = legEvents{}

func (l legEvents) OnAck() { l.p.session().traceSIP(l.p, true, "ACK") }

func (l legEvents) OnMedia(m sip.Media) {
	l.p.applyMedia(m)
	l.p.session().traceSIP(l.p, true, "re-INVITE ("+m.Direction.String()+")")
}

func (l legEvents) OnDTMF(digit byte, _ time.Duration) {
	l.p.session().traceSIP(l.p, true, "INFO dtmf "+string(digit))
	l.p.post(func(ss *Session) { ss.onDigit(l.p, digit, digitINFO) })
}

func (l legEvents) OnEnd(r sip.EndReason) {
	l.p.remoteEnded.Store(true)
	ss := l.p.session()
	switch r.Cause {
	case sip.EndBye:
		ss.traceSIP(l.p, true, "BYE")
	case sip.EndCancel:
		ss.traceSIP(l.p, true, "CANCEL")
	default:
		ss.traceNote("SIP dialog ended: "+r.Cause.String(), l.p)
	}
	l.p.abort()
	l.p.post(func(ss *Session) { ss.leave(l.p, ReasonHangup) })
}

// abort cancels a Handler call that is deciding about p, which has left.
func (p *Participant) abort() {
	if f := p.abortDecision.Load(); f != nil {
		(*f)(errParticipantLeft)
	}
}

func (l legEvents) OnProgress(code int, early *sip.Media) {
	l.p.session().traceSIP(l.p, true, statusLine(code))
	if early != nil {
		l.p.applyMedia(*early)
	}
	l.p.post(func(ss *Session) { ss.onProgress(l.p, code, early != nil) })
}

func (l legEvents) OnAnswer(m sip.Media) {
	l.p.applyMedia(m)
	ss := l.p.session()
	ss.traceSIP(l.p, true, "200 OK")
	ss.traceSIP(l.p, false, "ACK")
	l.p.post(func(ss *Session) { ss.onAnswer(l.p) })
}

func (l legEvents) OnFail(err error) {
	code, _ := failureOf(err)
	l.p.session().traceSIP(l.p, true, statusLine(code))
	l.p.post(func(ss *Session) { ss.onFail(l.p, err) })
}

// mediaEvents turns an endpoint's events into work on the session loop.
type mediaEvents struct{ p *Participant }

func (m mediaEvents) MediaEvent(ev media.Event) {
	switch ev.Kind {
	case media.EventDTMF:
		src := digitRTP
		if ev.Source == media.DigitInband {
			src = digitInband
		}
		m.p.post(func(ss *Session) { ss.onDigit(m.p, ev.Digit, src) })
	case media.EventMediaTimeout:
		m.p.post(func(ss *Session) { ss.onMediaTimeout(m.p) })
	}
}
