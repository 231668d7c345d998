package mediaserver

import (
	"context"
	"time"

	"github.com/mediaserver-go/mediaserver/sip"
)

// The monitor (API.md §8.3): after the first callAnswered the session calls
// monitorDestAddr, offered a=sendonly (decision 18), and sends it the mix
// of all its participants, following transfers and conferences. It is
// listen-only: its audio is never mixed in. Its failure never affects the
// call; callNotify monitorConnected / monitorDropped report it.

// startMonitor calls the monitor once, after the first connection.
func (ss *Session) startMonitor() {
	if ss.monitorAddr == "" || ss.monitorTried || ss.closing {
		return
	}
	ss.monitorTried = true
	m := &Participant{
		id:      newID(ss.srv.cfg.InstanceID, kindParticipant),
		srv:     ss.srv,
		kind:    KindMonitor,
		uri:     ss.monitorAddr,
		user:    userOf(ss.monitorAddr),
		created: time.Now(),
		state:   stateCalling,
	}
	m.log = ss.log.With(logParticipantID, m.id, "role", "monitor")
	m.gen.Store(1)
	m.sess.Store(ss)
	ss.srv.obs.ParticipantStarted(KindMonitor)
	ep, err := ss.srv.newEndpoint(m)
	if err != nil {
		m.log.Warn("monitor not called: no media port", logErr, err)
		ss.monitorNotify(m, NotifyMonitorDropped, 503)
		return
	}
	m.setEndpoint(ep)
	ss.monitor = m
	ss.refreshTap()
	ep.SetSource(ss.tap)
	ss.traceSIP(m, false, "INVITE "+ss.monitorAddr+" (monitor)")
	out, err := ss.srv.invite(ss, sip.InviteRequest{Target: ss.monitorAddr, CallerID: "monitor", Local: m.localMedia()}, monitorEvents{m})
	if err != nil {
		code, _ := failureOf(err)
		m.log.Info("monitor call failed", logErr, err)
		ss.dropMonitor(code)
		return
	}
	m.out = out
	m.log.Info("calling the monitor", "dest", ss.monitorAddr)
}

// dropMonitor ends the monitor leg and reports it.
func (ss *Session) dropMonitor(code int) {
	m := ss.monitor
	if m == nil {
		return
	}
	ss.monitor = nil
	m.sipHangup(0)
	m.release()
	ss.refreshTap()
	ss.monitorNotify(m, NotifyMonitorDropped, code)
}

func (ss *Session) monitorNotify(m *Participant, event string, code int) {
	h := ss.srv.handler.notify
	if h == nil {
		return
	}
	req := &CallNotifyRequest{Meta: ss.meta(), Event: event, ParticipantID: m.id, User: m.user, SipStatusCode: code}
	ss.notify(CallbackCallNotify, req, func(ctx context.Context) error { return h.CallNotify(ctx, req) })
}

// monitorEvents are the SIP events of the monitor leg.
type monitorEvents struct{ m *Participant }

func (e monitorEvents) OnAck()                     {}
func (e monitorEvents) OnDTMF(byte, time.Duration) {}
func (e monitorEvents) OnProgress(int, *sip.Media) {}
func (e monitorEvents) OnMedia(med sip.Media)      { e.m.applyMedia(med) }
func (e monitorEvents) OnEnd(sip.EndReason)        { e.post(func(ss *Session) { ss.dropMonitor(0) }) }
func (e monitorEvents) OnFail(err error) {
	code, _ := failureOf(err)
	e.post(func(ss *Session) { ss.dropMonitor(code) })
}

func (e monitorEvents) OnAnswer(med sip.Media) {
	e.m.applyMedia(med)
	e.post(func(ss *Session) {
		e.m.state = stateUp
		ss.monitorNotify(e.m, NotifyMonitorConnected, 200)
	})
}

// post runs f on the session loop while m is still its monitor.
func (e monitorEvents) post(f func(ss *Session)) {
	e.m.post(func(ss *Session) {
		if ss.monitor == e.m {
			f(ss)
		}
	})
}
