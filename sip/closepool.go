package sip

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Requests that outlive Close.
//
// sipgo handles each request on a goroutine of its own. To answer a UDP
// request it looks up its connection pool under the request's source
// address, where the listener's reader put our listener. When the listener
// closes, that reader deletes its entries, and the transport's Close
// clears the pool. A request read before that and handled after finds no
// entry, and sipgo opens a socket of its own (bound to 0.0.0.0), pools it
// and starts a reader on it; the pool was already cleared, so nothing
// closes that socket or ends its reader. A request of ours sent that late
// would likewise bind a new socket to our listener's address.
//
// So Close puts a closed stand-in for the listener in the pool, under the listener's address and
// under the sources of the last UDP requests (plugUDPPool): a late request
// finds it, and its answer fails instead. A request from a source the ring
// forgot still gets a socket of sipgo's, and dropAfterClose closes that one
// when sipgo hands the request to us.

// sourceRing remembers the sources of the last UDP requests.
type sourceRing struct {
	mu   sync.Mutex
	last [256]string
	n    int
}

// add records src, unless it is the latest already (one busy peer).
func (r *sourceRing) add(src string) {
	r.mu.Lock()
	if r.n == 0 || r.last[(r.n-1)%len(r.last)] != src {
		r.last[r.n%len(r.last)] = src
		r.n++
	}
	r.mu.Unlock()
}

// all returns the remembered sources.
func (r *sourceRing) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.last[:min(r.n, len(r.last))]...)
}

// closedListener returns the stand-in for the closed listener in sipgo's
// UDP pool. It must be a *sip.UDPConnection: sipgo's createConnection
// returns whatever the pool holds under its key and asserts that type (a
// request that missed the pool just before Close plugged it would panic
// on anything else). As a listener, sipgo's reference counting never
// closes it, and its writes fail.
func closedListener(laddr net.Addr) *sip.UDPConnection {
	return &sip.UDPConnection{PacketConn: closedPacketConn{laddr}, PacketAddr: laddr.String(), Listener: true}
}

// closedPacketConn is a socket that is already closed.
type closedPacketConn struct{ laddr net.Addr }

func (closedPacketConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, net.ErrClosed }
func (closedPacketConn) WriteTo([]byte, net.Addr) (int, error)  { return 0, net.ErrClosed }
func (closedPacketConn) Close() error                           { return nil }
func (c closedPacketConn) LocalAddr() net.Addr                  { return c.laddr }
func (closedPacketConn) SetDeadline(time.Time) error            { return nil }
func (closedPacketConn) SetReadDeadline(time.Time) error        { return nil }
func (closedPacketConn) SetWriteDeadline(time.Time) error       { return nil }

// plugUDPPool puts closedListener in sipgo's UDP pool under the
// listener's address and the recent sources. Close calls it once the listener no
// longer serves, and again after each time the pool is cleared.
func (a *Agent) plugUDPPool(udp net.PacketConn) {
	pool := a.tpl.Pool("udp")
	if pool == nil || udp == nil {
		return
	}
	dead := closedListener(udp.LocalAddr())
	pool.Add(dead.PacketAddr, dead)
	for _, src := range a.udpSources.all() {
		pool.Add(src, dead)
	}
}

// dropAfterClose ends, unanswered, a request that reaches us after Close
// closed the listeners, and reports whether it did. It also closes the
// connection sipgo made to answer it: a UDP socket of sipgo's own (see
// above), or a TCP or TLS connection it dialled because the request's own
// was gone. Before Close, our UDP requests are always answered through the
// listener; a socket of sipgo's then is logged as a warning and closed too.
func (a *Agent) dropAfterClose(req *sip.Request, tx *sip.ServerTx) bool {
	conn := tx.Connection()
	udp, isUDP := conn.(*sip.UDPConnection)
	stray := isUDP && !udp.Listener
	closed := a.isClosed() // also whenever the pool was plugged
	if !stray && !closed {
		return false
	}
	if stray {
		lvl := slog.LevelDebug
		if !closed {
			lvl = slog.LevelWarn
		}
		a.log.Log(a.ctx, lvl, "sip: closing a UDP socket sipgo opened to answer a request",
			keyMethod, string(req.Method), keyRemoteAddr, req.Source(), "local", udp.LocalAddr().String())
	} else {
		a.log.Debug("sip: request after Close dropped", keyMethod, string(req.Method), keyRemoteAddr, req.Source())
	}
	tx.Terminate()
	switch {
	case stray:
		// Leave it one reference, which its reader takes when it ends, so
		// that sipgo seldom warns of a negative count (a second request on
		// the same socket, or a Clear at the same time, still can).
		udp.Ref(1 - udp.Ref(0))
		_ = udp.PacketConn.Close()
	case closed && !isUDP && conn != nil:
		_ = conn.Close()
	}
	return true
}

// isClosed reports whether Close has closed, or is closing, the sockets.
func (a *Agent) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state >= stateClosed
}
