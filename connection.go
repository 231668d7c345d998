package mediaserver

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// Connection links two participants of a session, a caller side and a
// callee side. (Conferences, which belong to no session, are Conference.)
// Its exported methods are safe for concurrent use.
type Connection struct {
	id      string
	ss      *Session
	created time.Time
	gen     atomic.Uint32
	dead    atomic.Bool

	// Owned by the session loop.
	caller, callee *Participant
}

// ID returns the connection ID.
func (c *Connection) ID() string { return c.id }

// SessionID returns the ID of the connection's session.
func (c *Connection) SessionID() string { return c.ss.id }

func (c *Connection) replyID() string {
	return c.ss.srv.tokens.sign(c.ss.id, c.id, c.gen.Load())
}

// kind returns the connection's kind for the Observer.
func (c *Connection) kind() string {
	if c.caller.kind == KindIVR || c.callee.kind == KindIVR {
		return ConnectionIVR
	}
	return ConnectionBridge
}

// other returns the participant on the other side of p.
func (c *Connection) other(p *Participant) *Participant {
	if c.caller == p {
		return c.callee
	}
	return c.caller
}

// connect links caller and callee, wires their media and sends
// callAnswered.
func (ss *Session) connect(caller, callee *Participant) *Connection {
	id := newID(ss.srv.cfg.InstanceID, kindConnection)
	c := &Connection{id: id, ss: ss, created: time.Now(), caller: caller, callee: callee}
	c.gen.Store(1)
	ss.conns[id] = c
	ss.srv.register(id, &object{conn: c})
	ss.ids = append(ss.ids, id)
	for _, p := range []*Participant{caller, callee} {
		p.conn = c
		p.curConn.Store(c)
	}
	ss.wire(c)
	ss.traceNote(map[string]string{ConnectionIVR: "connected to the IVR", ConnectionBridge: "media bridged"}[c.kind()], caller, callee)
	ss.srv.obs.ConnectionStarted(c.kind())
	ss.log.Info("connected", logConnectionID, id, "caller", caller.id, "callee", callee.id)
	if h := ss.srv.handler.answered; h != nil {
		req := &CallAnsweredRequest{
			Meta:                ss.meta(),
			ConnectionID:        id,
			ReplyID:             c.replyID(),
			CallerParticipantID: caller.id,
			CalleeParticipantID: callee.id,
			CallerUser:          caller.user,
			CalleeUser:          callee.user,
			IVR:                 callee.kind == KindIVR,
			CallRecording:       len(ss.recs) > 0,
		}
		ss.notify(CallbackCallAnswered, req, func(ctx context.Context) error { return h.CallAnswered(ctx, req) })
	}
	ss.refreshTap()
	ss.startMonitor()
	return c
}

// wire connects the media of c's participants.
func (ss *Session) wire(c *Connection) {
	a, b := c.caller, c.callee
	switch {
	case b.kind == KindIVR:
		ss.wireIVR(a, b)
	case a.kind == KindIVR:
		ss.wireIVR(b, a)
	case a.ep != nil && b.ep != nil:
		media.Bridge(a.ep, b.ep)
	}
}

// dissolve ends c: its participants are left unconnected, on silence.
func (ss *Session) dissolve(c *Connection) {
	if c.dead.Load() {
		return
	}
	c.dead.Store(true)
	c.gen.Add(1)
	delete(ss.conns, c.id)
	ss.srv.obs.ConnectionEnded(c.kind())
	ss.traceNote("connection dissolved", c.caller, c.callee)
	switch {
	case c.callee.kind == KindIVR:
		ss.unwireIVR(c.caller, c.callee)
	case c.caller.kind == KindIVR:
		ss.unwireIVR(c.callee, c.caller)
	}
	for _, p := range []*Participant{c.caller, c.callee} {
		if p.conn == c {
			p.conn = nil
			p.curConn.Store(nil)
			p.silence()
		}
	}
}

// silence leaves p on silence: no relay in or out.
func (p *Participant) silence() {
	if p.ep == nil {
		return
	}
	p.ep.Isolate()
	p.ep.SetSource(nil)
}

// newRingback returns the ringback a caller hears while its callee rings.
func newRingback() media.FrameSource {
	rb := media.NewRingbackETSI()
	return &rb
}
