package sip

import (
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

type callKind uint8

const (
	kindInbound callKind = iota
	kindOutbound
)

type callState uint8

const (
	csEarly     callState = iota // no final response to the INVITE yet
	csAnswered                   // inbound: our 2xx sent, its ACK not yet received
	csConfirmed                  // dialog confirmed
	csEnded
)

// call is the dialog and session state shared by InboundCall and
// OutboundCall. Lock order: call.mu, then serializer.mu or Agent.mu (both
// leaves; Agent.mu is never held while taking call.mu). No lock is held
// while a handler runs or a message is sent.
type call struct {
	a        *Agent
	log      *slog.Logger
	kind     callKind
	callID   string
	localTag string
	key      string
	ev       serializer
	started  time.Time

	mu      sync.Mutex // guards every field below
	state   callState
	byUs    bool // ended by our own Hangup, Reject or Close: no OnEnd
	handler DialogHandler

	// Dialog state (RFC 3261 §12).
	remoteTag    string
	localHdr     sip.FromHeader // our name-addr, without tag
	remoteHdr    sip.ToHeader   // the peer's name-addr, without tag
	remoteTarget sip.Uri
	routeSet     []sip.Uri
	localCSeq    uint32
	remoteCSeq   uint32
	transport    string // "UDP", "TCP" or "TLS"
	sips         bool   // the dialog is sips: (RFC 3261 §19.1): our Contact is sips too
	dest         string // forced next hop (trunk proxy, TCP connection), or ""
	trunk        *Trunk // the trunk of an outbound call, nil otherwise
	auth         *authCache

	// Media.
	local     LocalMedia
	lsdp      localSDP
	remote    Media
	haveLocal bool // local is set (Negotiate called, or outbound)
	srtp      srtpPolicy

	// Inbound INVITE.
	inv        *sip.Request
	invTx      *sip.ServerTx
	offer      *sessionDesc // the INVITE's offer; nil when offerless
	answered   bool         // Negotiate produced our answer
	answerRest string       // that answer, after o=
	authUser   string       // the digest user that authenticated the INVITE

	// A 2xx we sent (INVITE or re-INVITE) waiting for its ACK.
	pend     *pending2xx
	byeOnAck bool // Hangup came before the ACK (RFC 3261 §15)

	// UAC re-INVITE or UPDATE in progress (glare, RFC 3261 §14.2).
	uacPending bool
	lastACK    *sip.Request // our last ACK to a 2xx, resent on retransmission

	st sessionTimer
	o  *outState // outbound calls only
}

func (a *Agent) newCall(kind callKind, callID, localTag string) *call {
	c := &call{
		a:        a,
		kind:     kind,
		callID:   callID,
		localTag: localTag,
		key:      dialogKey(callID, localTag),
		started:  a.clk.Now(),
	}
	c.log = a.log.With(keyCallID, callID)
	c.ev.log = c.log
	return c
}

// emit queues an event for the call's handler unless the call has ended,
// and delivers it (and whatever is queued) outside any lock.
func (c *call) emit(f func(h DialogHandler)) {
	c.mu.Lock()
	if c.state == csEnded {
		c.mu.Unlock()
		return
	}
	c.pushLocked(f)
	c.mu.Unlock()
	c.ev.run()
}

func (c *call) pushLocked(f func(h DialogHandler)) {
	c.ev.push(func() {
		c.mu.Lock()
		h := c.handler
		c.mu.Unlock()
		if h != nil {
			f(h)
		}
	})
}

// end moves the call to csEnded once. With notify the handler gets
// OnEnd(reason); otherwise the call was ended by us. It reports whether this
// call ended the call.
func (c *call) end(reason EndReason, notify bool) bool {
	c.mu.Lock()
	if c.state == csEnded {
		c.mu.Unlock()
		return false
	}
	c.state = csEnded
	c.byUs = !notify
	c.stopTimersLocked()
	if notify {
		c.pushLocked(func(h DialogHandler) { h.OnEnd(reason) })
	}
	c.mu.Unlock()
	c.a.removeDialog(c)
	if notify {
		c.log.Info("sip: call ended", keyCause, reason.Cause.String(), "duration", c.a.clk.Now().Sub(c.started).Round(time.Millisecond))
	} else {
		c.log.Info("sip: call ended by us", "duration", c.a.clk.Now().Sub(c.started).Round(time.Millisecond))
	}
	c.ev.run()
	return true
}

func (c *call) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == csEnded
}

func (c *call) stopTimersLocked() {
	if c.pend != nil {
		c.pend.stop()
	}
	c.st.stop()
	if c.o != nil {
		c.o.stopTimers()
	}
}

// shutdown ends the call for Agent.Close, politely and without callbacks.
func (c *call) shutdown() {
	c.mu.Lock()
	state, kind := c.state, c.kind
	c.mu.Unlock()
	switch {
	case state == csEnded:
	case kind == kindInbound && state == csEarly:
		c.mu.Lock()
		inv, tx := c.inv, c.invTx
		c.mu.Unlock()
		if c.end(EndReason{}, false) {
			_ = c.a.respond(tx, inv, 503, "Service Unavailable", nil, c.localTag)
		}
	case kind == kindOutbound && state == csEarly:
		c.hangupOutbound()
	default:
		c.hangupConfirmed()
	}
}

// String names an end cause for logs.
func (e EndCause) String() string {
	switch e {
	case EndBye:
		return "bye"
	case EndCancel:
		return "cancel"
	case EndAckTimeout:
		return "ackTimeout"
	case EndSessionExpired:
		return "sessionExpired"
	case EndTransport:
		return "transport"
	case EndNegotiation:
		return "negotiation"
	}
	return "unknown"
}

// pending2xx is a 2xx we retransmit until its ACK (RFC 3261 §13.3.1.4).
type pending2xx struct {
	res      *sip.Response
	tx       *sip.ServerTx
	cseq     uint32
	offer    bool          // the 2xx carried our offer: the ACK carries the answer
	interval time.Duration // next retransmission interval
	retx     stopper
	timeout  stopper
	acked    chan struct{} // closed when the ACK arrived or the wait ended
}

func (p *pending2xx) stopped() bool {
	select {
	case <-p.acked:
		return true
	default:
		return false
	}
}

func (p *pending2xx) stop() {
	if p.retx != nil {
		p.retx.Stop()
	}
	if p.timeout != nil {
		p.timeout.Stop()
	}
	select {
	case <-p.acked:
	default:
		close(p.acked)
	}
}
