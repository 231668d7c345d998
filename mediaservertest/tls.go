package mediaservertest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// listenTLS binds the TLS listener on a free port of 127.0.0.1 when
// PhoneConfig.TLS is set. The handshake runs on sipgo's reader goroutine of
// each connection, at its first read.
func (p *Phone) listenTLS() error {
	if p.cfg.TLS == nil {
		return nil
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("mediaservertest: listen tls: %w", err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	p.tlsAddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	p.tlsLn = tls.NewListener(ln, p.cfg.TLS)
	return nil
}

// closeListeners closes the phone's SIP sockets.
func (p *Phone) closeListeners() error {
	err := errors.Join(p.udpConn.Close(), p.tcpLn.Close())
	if p.tlsLn != nil {
		err = errors.Join(err, p.tlsLn.Close())
	}
	return err
}

// TLSURI returns the phone's SIP URI over TLS,
// sips:<User>@127.0.0.1:<TLS port>, or "" without PhoneConfig.TLS. The
// same address with sip: and ";transport=tls" reaches it too.
func (p *Phone) TLSURI() string {
	if p.tlsLn == nil {
		return ""
	}
	return "sips:" + p.cfg.User + "@" + p.tlsAddr.String()
}

// TLSAddr returns the address of the phone's SIP over TLS listener, or the
// zero value without PhoneConfig.TLS.
func (p *Phone) TLSAddr() netip.AddrPort { return p.tlsAddr }

// transportOf returns the phone's name of a sipgo transport: "udp", "tcp"
// or "tls".
func transportOf(sipgoTransport string) string {
	switch sipgoTransport {
	case "TLS":
		return "tls"
	case "TCP":
		return "tcp"
	}
	return "udp"
}
