package sip

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"time"
)

// tlsHandshakeTimeout bounds the handshake of an inbound TLS connection.
const tlsHandshakeTimeout = 10 * time.Second

// guardPacketConn is the UDP listener handed to sipgo: every datagram is
// screened first (screen.go). sipgo reads it from a single goroutine.
type guardPacketConn struct {
	net.PacketConn
	a       *Agent
	started func() // called at the first read: sipgo has pooled the socket
}

// ReadFrom returns the next datagram that may be parsed, dropping those
// that Config.AllowedSources refuses and answering the unparsable ones
// statelessly.
func (g *guardPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if g.started != nil {
		g.started()
		g.started = nil
	}
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || n == 0 {
			return n, addr, err
		}
		data := b[:n]
		if len(bytes.Trim(data, "\r\n\x00")) == 0 {
			return n, addr, nil // keep-alive, sipgo ignores it
		}
		// A datagram is a whole message: tolerate a missing empty line.
		if !bytes.Contains(data, crlfcrlf) && n+4 <= len(b) {
			if bytes.HasSuffix(data, []byte("\r\n")) {
				n += copy(b[n:], "\r\n")
			} else {
				n += copy(b[n:], crlfcrlf)
			}
			data = b[:n]
		}
		if !g.a.admitRaw(data, netAddrIP(addr)) {
			continue
		}
		code, reason := screenMessage(data, true)
		if code == 0 {
			return n, addr, nil
		}
		g.a.stats.invalid.Add(1)
		if unmetered(data) && !g.a.takeRequestToken(netAddrIP(addr)) {
			continue // a stateless answer costs a token, whatever the method
		}
		g.a.log.Debug("sip: rejected unparsable datagram", keyStatus, code, keyRemoteAddr, addr.String())
		if reply := statelessReply(data, code, reason); reply != nil {
			if _, err := g.PacketConn.WriteTo(reply, addr); err != nil {
				g.a.log.Debug("sip: stateless reply failed", keyErr, err)
			}
		}
	}
}

// guardListener is the TCP or TLS listener handed to sipgo; it wraps every
// accepted connection in a guardConn (over a TLS server connection when
// tls is set).
type guardListener struct {
	net.Listener
	a       *Agent
	started func()      // called at the first Accept
	tls     *tls.Config // nil for plain TCP
}

// Accept wraps the next connection.
func (g *guardListener) Accept() (net.Conn, error) {
	if g.started != nil {
		g.started()
		g.started = nil
	}
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardConn{Conn: c, a: g.a, rbuf: make([]byte, 4096), src: netAddrIP(c.RemoteAddr())}
	if g.tls != nil {
		gc.tlsConn = tls.Server(c, g.tls)
		gc.Conn = gc.tlsConn
	}
	return gc, nil
}

// guardConn frames the SIP messages of a TCP stream by Content-Length and
// screens each before sipgo's stream parser sees it. Only sipgo's reader
// goroutine calls Read; writes pass straight to the connection.
type guardConn struct {
	net.Conn
	a       *Agent
	src     netip.Addr // the peer's address
	tlsConn *tls.Conn  // the TLS connection under Conn, until its handshake is done
	in      []byte     // received, not yet framed
	out     []byte     // framed, not yet read by sipgo
	rbuf    []byte
	err     error // sticky: returned once in and out are drained
}

// handshake completes the TLS handshake within tlsHandshakeTimeout, so
// that a silent peer cannot hold the connection's reader forever.
func (g *guardConn) handshake() error {
	tc := g.tlsConn
	g.tlsConn = nil
	_ = tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	err := tc.Handshake()
	_ = tc.SetDeadline(time.Time{})
	if err != nil {
		g.a.stats.tlsHandshakeFailed.Add(1)
		g.a.log.Debug("sip: tls handshake failed", keyRemoteAddr, g.RemoteAddr().String(), keyErr, err)
		return io.EOF // sipgo closes the connection quietly
	}
	return nil
}

// Read returns framed, screened bytes.
func (g *guardConn) Read(p []byte) (int, error) {
	if g.tlsConn != nil {
		if err := g.handshake(); err != nil {
			g.err = err
			return 0, err
		}
	}
	for len(g.out) == 0 {
		if g.frame() {
			continue
		}
		if g.err != nil {
			return 0, g.err
		}
		n, err := g.Conn.Read(g.rbuf)
		g.in = append(g.in, g.rbuf[:n]...)
		if err != nil {
			g.err = err
			if n == 0 {
				return 0, err
			}
		}
		if len(g.in) > maxMessageSize && !bytes.Contains(g.in, crlfcrlf) {
			g.reject(g.in, 400, "Bad Request (message too large)")
			g.in = nil
			g.err = io.EOF
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// frame moves one unit (a keep-alive CRLF run or one message) from in to
// out, or answers and drops one bad message. It reports whether it did.
func (g *guardConn) frame() bool {
	if len(g.in) == 0 {
		return false
	}
	if g.in[0] == '\r' {
		if len(g.in) < 2 {
			return false
		}
		if g.in[1] == '\n' {
			n := 2
			if len(g.in) >= 4 && g.in[2] == '\r' && g.in[3] == '\n' {
				n = 4
			}
			g.out = append(g.out[:0], g.in[:n]...)
			g.consume(n)
			return true
		}
	}
	i := bytes.Index(g.in, crlfcrlf)
	if i < 0 {
		return false
	}
	hdrEnd := i + 4
	count, cl, ok := scanContentLength(g.in[:i])
	isResponse := bytes.HasPrefix(g.in, []byte("SIP/"))
	switch {
	case count > 1 || !ok:
		// No way to find where the message ends: answer and hang up.
		g.reject(g.in[:hdrEnd], 400, "Bad Request (bad Content-Length)")
		g.in = nil
		g.err = io.EOF
		return true
	case count == 0:
		// RFC 3261 §18.3: mandatory on streams. Assume an empty body.
		if !isResponse {
			g.reject(g.in[:hdrEnd], 400, "Bad Request (missing Content-Length)")
		}
		g.consume(hdrEnd)
		return true
	}
	total := hdrEnd + cl
	if total > maxMessageSize {
		g.reject(g.in[:hdrEnd], 400, "Bad Request (message too large)")
		g.in = nil
		g.err = io.EOF
		return true
	}
	if len(g.in) < total {
		return false
	}
	msg := g.in[:total]
	if !g.a.admitRaw(msg, g.src) {
		g.consume(total)
		return true
	}
	if code, reason := screenMessage(msg, false); code != 0 {
		g.reject(msg, code, reason)
	} else {
		g.out = append(g.out[:0], msg...)
	}
	g.consume(total)
	return true
}

func (g *guardConn) consume(n int) { g.in = append(g.in[:0], g.in[n:]...) }

func (g *guardConn) reject(msg []byte, code int, reason string) {
	if !g.a.allowedAddr(g.src) {
		g.a.stats.notAllowed.Add(1)
		return // no answer to a source we do not talk to
	}
	g.a.stats.invalid.Add(1)
	g.a.log.Debug("sip: rejected unparsable stream message", keyStatus, code, keyRemoteAddr, g.RemoteAddr().String())
	if bytes.HasPrefix(msg, []byte("SIP/")) {
		return // never answer a response
	}
	if unmetered(msg) && !g.a.takeRequestToken(g.src) {
		return // a stateless answer costs a token, whatever the method
	}
	if reply := statelessReply(msg, code, reason); reply != nil {
		if _, err := g.Conn.Write(reply); err != nil {
			g.a.log.Debug("sip: stateless reply failed", keyErr, err)
		}
	}
}
