package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// udpMTULimit is RFC 3261 §18.1.1: a request larger than 1300 bytes (path
// MTU unknown) must go over a congestion-controlled transport. sipgo
// refuses such a datagram (ErrUDPMTUCongestion, sipgo#206).
const udpMTULimit = 1300

// newVia returns a Via for a new client transaction: our advertised host
// and the listen port of the transport, a fresh branch and rport (RFC 3581).
func (a *Agent) newVia(transport string) *sip.ViaHeader {
	return &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       transport,
		Host:            a.cfg.PublicHost,
		Port:            a.portFor(transport),
		Params: sip.HeaderParams{
			{K: "branch", V: sip.GenerateBranchN(16)},
			{K: "rport", V: ""},
		},
	}
}

// contact returns our Contact for a dialog on transport: over TLS a sips:
// URI for a sips dialog (RFC 3261 §8.1.1.8), else sip: with
// ;transport=tls, on the TLS listener's port.
func (a *Agent) contact(user, transport string, sips bool) *sip.ContactHeader {
	if user == "" || !validUser(user) {
		user = "mediaserver"
	}
	u := sip.Uri{Scheme: "sip", User: user, Host: a.cfg.PublicHost, Port: a.portFor(transport)}
	switch {
	case transport == "TLS" && sips:
		u.Scheme = "sips"
	case transport == "TLS":
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tls"}}
	case transport == "TCP":
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
	}
	return &sip.ContactHeader{Address: u}
}

// route sets the transport and next hop of an outgoing request: forced
// (a trunk proxy, a TCP connection to reuse) or from the Route and
// Request-URI as sipgo computes it. UDP requests leave from our listening
// socket; TCP and TLS connections we open bind their port explicitly
// (streamLaddr).
func (a *Agent) route(req *sip.Request, transport, forced string) {
	req.SetTransport(transport)
	if forced != "" {
		req.SetDestination(forced)
	}
	switch transport {
	case "UDP":
		a.mu.Lock()
		conn := a.udpConn
		a.mu.Unlock()
		if conn != nil {
			ua := conn.LocalAddr().(*net.UDPAddr)
			req.Laddr = sip.Addr{IP: ua.IP, Port: ua.Port}
		}
	default:
		req.Laddr = streamLaddr(req.Destination())
	}
}

// streamLaddr is the local address of a TCP or TLS connection we open to
// dest: the unspecified address of dest's family with port 0, so that the
// dialer binds before it connects. Without the bind, Linux's connect()
// shares an ephemeral port between connections to different peers, and a
// connection of ours could get the port a peer on the same host (a local
// proxy, a test phone) uses for its connection to us. sipgo keys its
// connection pool by remote address and by the local address of the
// connections it opens, so that peer's entry would point at our other
// connection, and our responses to it would go to the wrong peer. A
// bound port is never shared. For a host name (the family is known only
// after sipgo resolves it) the kernel picks the port as before.
func streamLaddr(dest string) sip.Addr {
	host, _, err := net.SplitHostPort(dest)
	if err != nil {
		host = dest
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	switch {
	case err != nil:
		return sip.Addr{}
	case ip.Unmap().Is4():
		return sip.Addr{IP: net.IPv4zero}
	default:
		return sip.Addr{IP: net.IPv6unspecified}
	}
}

// hasConn reports whether sipgo holds an open connection of transport
// (TCP or TLS) to addr.
func (a *Agent) hasConn(transport, addr string) bool {
	c, err := a.tpl.GetConnection(transport, addr)
	if err != nil || c == nil {
		return false
	}
	_, _ = c.TryClose() // GetConnection took a reference
	return true
}

// fitTransport moves a UDP request larger than udpMTULimit to TCP,
// changing its top Via as RFC 3261 §18.1.1 requires.
func (a *Agent) fitTransport(req *sip.Request) {
	if req.Transport() != "UDP" {
		return
	}
	if len(req.String()) <= udpMTULimit {
		return
	}
	if via := req.Via(); via != nil {
		via.Transport = "TCP"
	}
	req.SetTransport("TCP")
	req.Laddr = streamLaddr(req.Destination())
}

// transact sends req in a client transaction and returns its final
// response. For an INVITE the caller must ACK a 2xx. Errors wrap ErrTimeout,
// ErrTransport or ErrClosed.
func (a *Agent) transact(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	a.fitTransport(req)
	a.log.Debug("sip: send request", keyCallID, callIDOf(req), keyMethod, string(req.Method), keyRemoteAddr, req.Destination())
	if !a.sendStart() {
		return nil, errGateClosed
	}
	tx, err := a.txl.Request(ctx, req)
	a.sendDone()
	if err != nil {
		return nil, fmt.Errorf("sip: send %s: %w: %w", req.Method, ErrTransport, err)
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			// A non-2xx final to an INVITE stays with its transaction, which
			// ACKs retransmissions of it; anything else is done.
			if !(req.IsInvite() && !res.IsSuccess()) {
				tx.Terminate()
			}
			return res, nil
		case <-tx.Done():
			return nil, a.txError(req.Method, tx.Err())
		case <-ctx.Done():
			tx.Terminate()
			return nil, fmt.Errorf("sip: %s: %w", req.Method, ErrClosed)
		}
	}
}

func (a *Agent) txError(m sip.RequestMethod, err error) error {
	switch {
	case errors.Is(err, sip.ErrTransactionTimeout):
		return fmt.Errorf("sip: %s: %w", m, ErrTimeout)
	case errors.Is(err, sip.ErrTransactionTransport):
		return fmt.Errorf("sip: %s: %w: %w", m, ErrTransport, err)
	}
	select {
	case <-a.done:
		return fmt.Errorf("sip: %s: %w", m, ErrClosed)
	default:
	}
	return fmt.Errorf("sip: %s: %w: %v", m, ErrTransport, err)
}

// writeRequest sends a request outside any transaction (an ACK to a 2xx).
func (a *Agent) writeRequest(req *sip.Request) error {
	a.fitTransport(req)
	if !a.sendStart() {
		return errGateClosed
	}
	defer a.sendDone()
	if err := a.tpl.WriteMsg(req); err != nil {
		return fmt.Errorf("sip: send %s: %w: %w", req.Method, ErrTransport, err)
	}
	return nil
}

// newResponse builds a response to req with our To tag (unless 100 or tag
// is empty), Server header and extra headers; a 503 gets Retry-After
// unless hdrs has one. For a request whose From or
// To could not be parsed, their raw values are copied.
func (a *Agent) newResponse(req *sip.Request, code int, reason string, body []byte, tag string, hdrs ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	// sipgo copies the request's version: a 505 to "SIP/7.0" would claim
	// 7.0 itself (found by FuzzAgent over TCP, where the raw screening of
	// datagrams does not answer it first).
	res.SipVersion = "SIP/2.0"
	if req.From() == nil {
		sip.CopyHeaders("From", req, res)
	}
	if req.To() == nil {
		sip.CopyHeaders("To", req, res)
	}
	if to := res.To(); to != nil && req.To() != nil && code > 100 && tag != "" && !req.To().Params.Has("tag") {
		to.Params.Add("tag", tag)
	}
	res.AppendHeader(sip.NewHeader("Server", a.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if code == 503 && !hasHeader(hdrs, "Retry-After") {
		res.AppendHeader(a.retryAfter(0)) // decision 20: every 503
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(body)
	return res
}

// respond sends a response in tx; errors are logged at Debug and returned.
func (a *Agent) respond(tx *sip.ServerTx, req *sip.Request, code int, reason string, body []byte, tag string, hdrs ...sip.Header) error {
	if tx == nil || req == nil {
		return nil
	}
	res := a.newResponse(req, code, reason, body, tag, hdrs...)
	return a.sendResponse(tx, res)
}

func (a *Agent) sendResponse(tx *sip.ServerTx, res *sip.Response) error {
	a.log.Debug("sip: send response", keyCallID, callIDOf(res), keyStatus, res.StatusCode, keyRemoteAddr, res.Destination())
	if !a.sendStart() {
		return errGateClosed
	}
	err := tx.Respond(res)
	a.sendDone()
	if err != nil {
		a.log.Debug("sip: response not sent", keyCallID, callIDOf(res), keyStatus, res.StatusCode, keyErr, err)
		return fmt.Errorf("sip: respond %d: %w: %w", res.StatusCode, ErrTransport, err)
	}
	if res.StatusCode >= 300 && tx.Origin().IsInvite() {
		a.absorbAck(tx)
	}
	return nil
}

// absorbAck takes the ACK to a non-2xx final response of an INVITE
// transaction. Without a reader sipgo parks a goroutine per such ACK until
// Timer I (5 s over UDP) ends the transaction (the trap of sipgo#349); this
// one ends with the ACK.
func (a *Agent) absorbAck(tx *sip.ServerTx) {
	a.goFunc(func() {
		select {
		case <-tx.Acks():
		case <-tx.Done():
		case <-a.done:
		}
	})
}

func callIDOf(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func tagOf(params sip.HeaderParams) string {
	t, _ := params.Get("tag")
	return t
}

// addressOf converts a name-addr to our Address.
func addressOf(name string, u sip.Uri) Address {
	host := u.Host
	if u.Port > 0 {
		host = net.JoinHostPort(u.Host, itoa(u.Port))
	}
	if u.Scheme != "" && u.Scheme != "sip" && u.Scheme != "sips" {
		host = ""
	}
	return Address{DisplayName: name, URI: u.String(), User: u.User, Host: host}
}

// headerParam returns the value of a ;name=value parameter of a header
// value such as Session-Expires, and the part before the first ';'.
func headerParam(v, name string) (head, val string, ok bool) {
	head, rest, _ := strings.Cut(v, ";")
	for _, p := range strings.Split(rest, ";") {
		k, pv, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(head), strings.TrimSpace(pv), true
		}
	}
	return strings.TrimSpace(head), "", false
}

// init raises sipgo's UDP size limit, a package global of sipgo, once at
// program start (before any goroutine can read it). sipgo applies its
// 1300-byte rule (RFC 3261 §18.1.1) to responses too, so a long request
// received over UDP (RFC 4475 §3.1.1.7) could not be answered at all: its
// headers alone, echoed, exceed the limit. Requests keep the RFC rule:
// fitTransport moves ours to TCP. This is the only sipgo global we touch;
// it affects every sipgo user in the process, which can then send larger
// datagrams instead of failing.
func init() {
	if sip.UDPMTUSize < 65535 {
		sip.UDPMTUSize = 65535
	}
}

// sendStart admits one hand-over of a message to sipgo; it is false once
// Close has shut the gate. A true return must be paired with sendDone.
func (a *Agent) sendStart() bool {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	if a.sendClosed {
		return false
	}
	a.sends.Add(1)
	return true
}

func (a *Agent) sendDone() { a.sends.Done() }

// errGateClosed is what a send after Close returns (wrapped in ErrClosed).
var errGateClosed = fmt.Errorf("sip: agent closed: %w", ErrClosed)
