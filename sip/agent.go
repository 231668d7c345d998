package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Agent lifecycle states.
const (
	stateNew = iota
	stateServing
	stateClosing // Close began: no new calls; ending the current ones
	stateClosed  // sockets closing; no new goroutines
)

// Agent is a SIP user agent on UDP, TCP and (with Config.TLS) TLS: it
// receives calls (OnInvite),
// places calls (Invite) and runs their dialogs. Create it with NewAgent, run
// it with Serve and stop it with Close. Its methods are safe for concurrent
// use.
type Agent struct {
	cfg Config
	log *slog.Logger

	// Test knobs, set only before Serve: the clock of our own timers and the
	// base timers of the TU (2xx retransmission starts at t1 and doubles up
	// to t2; the ACK wait and the give-up after CANCEL last 64*t1).
	clk       clock
	t1, t2    time.Duration
	closeWait time.Duration // bound on Close waiting for BYE/CANCEL transactions

	parser *sip.Parser
	tpl    *sip.TransportLayer
	txl    *sip.TransactionLayer

	stats   agentStats
	limiter *rateLimiter // nil when InviteRateLimit is off
	reqLim  *rateLimiter // nil when RequestRateLimit is off

	udpSources sourceRing // the last UDP requests' sources (closepool.go)

	// Sends to sipgo pass sendStart: after Close shut it, nothing new is
	// handed to sipgo, which would otherwise open a fresh socket (and a
	// reader goroutine nobody closes) for a message to a destination whose
	// pooled connection Close already removed.
	sendMu     sync.Mutex // guards sendClosed
	sendClosed bool
	sends      sync.WaitGroup
	digest     *digestServer // nil without InboundAuth

	ready  chan struct{} // closed once bound
	done   chan struct{} // closed when Close begins
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // every goroutine the agent starts

	mu       sync.Mutex // guards the fields below
	state    int
	dialogs  map[string]*call // by dialogKey
	udpConn  net.PacketConn
	tcpLn    net.Listener
	tlsLn    net.Listener // nil without TLSAddr
	udpAddr  netip.AddrPort
	tcpAddr  netip.AddrPort
	tlsAddr  netip.AddrPort
	bgActive int           // background transactions running
	bgIdle   chan struct{} // closed when bgActive drops to 0, while Close waits
}

// NewAgent validates cfg and creates an agent. It binds nothing: Serve
// does. Invalid fields are reported as *ConfigError values joined with
// errors.Join.
func NewAgent(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &Agent{
		cfg:       cfg,
		log:       log.With("component", "sip"),
		clk:       realClock{},
		t1:        500 * time.Millisecond,
		t2:        4 * time.Second,
		closeWait: 2 * time.Second,
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		dialogs:   make(map[string]*call),
		limiter:   newRateLimiter(cfg.InviteRateLimit),
		reqLim:    newRateLimiter(cfg.RequestRateLimit),
		digest:    newDigestServer(cfg.InboundAuth),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	sgLog := newSipgoLogger(a.log)
	a.parser = sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	// The TLS config dials outbound TLS connections (sipgo sets ServerName
	// per connection when it is empty).
	a.tpl = sip.NewTransportLayer(net.DefaultResolver, a.parser, cfg.TLS,
		sip.WithTransportLayerLogger(sgLog))
	// Our pre-handler runs before the transaction layer's (handlers run in
	// registration order, synchronously in the read loop).
	a.tpl.OnMessage(a.preprocess)
	a.txl = sip.NewTransactionLayer(a.tpl,
		sip.WithTransactionLayerLogger(sgLog),
		sip.WithTransactionLayerUnhandledResponseHandler(a.onStrayResponse))
	a.txl.OnRequest(a.onRequest)
	return a, nil
}

// Serve binds UDP and TCP on Config.ListenAddr (the same port number for
// both) and TLS on Config.TLSAddr when set, closes Ready, and serves until
// ctx ends, Close is called or a listener fails. It then closes the agent and returns ErrClosed, or the
// listener's error (wrapping ErrTransport). It returns at once with an
// error if the listeners cannot be bound or Serve was already called.
func (a *Agent) Serve(ctx context.Context) error {
	a.mu.Lock()
	if a.state != stateNew {
		st := a.state
		a.mu.Unlock()
		if st >= stateClosing {
			return ErrClosed
		}
		return errors.New("sip: Serve called twice")
	}
	a.state = stateServing
	a.mu.Unlock()

	udp, tcp, err := listenPair(a.cfg.ListenAddr)
	if err != nil {
		_ = a.Close()
		return fmt.Errorf("sip: listen %s: %w", a.cfg.ListenAddr, err)
	}
	var tlsLn net.Listener
	if a.cfg.TLSAddr != "" {
		if tlsLn, err = net.Listen("tcp", a.cfg.TLSAddr); err != nil {
			_ = udp.Close()
			_ = tcp.Close()
			_ = a.Close()
			return fmt.Errorf("sip: listen tls %s: %w", a.cfg.TLSAddr, err)
		}
	}
	a.mu.Lock()
	a.udpConn, a.tcpLn, a.tlsLn = udp, tcp, tlsLn
	a.udpAddr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	a.tcpAddr = tcp.Addr().(*net.TCPAddr).AddrPort()
	if tlsLn != nil {
		a.tlsAddr = tlsLn.Addr().(*net.TCPAddr).AddrPort()
	}
	a.mu.Unlock()

	failed := make(chan error, 3)
	serve := func(f func() error) {
		a.goFunc(func() {
			err := f()
			if err == nil {
				err = net.ErrClosed
			}
			failed <- err
		})
	}
	// Ready waits until sipgo reads both sockets: only then is the UDP
	// socket in sipgo's pool, where our requests must find it.
	var started sync.WaitGroup
	started.Add(2)
	serve(func() error { return a.tpl.ServeUDP(&guardPacketConn{PacketConn: udp, a: a, started: started.Done}) })
	serve(func() error { return a.tpl.ServeTCP(&guardListener{Listener: tcp, a: a, started: started.Done}) })
	if tlsLn != nil {
		started.Add(1)
		serve(func() error {
			return a.tpl.ServeTLS(&guardListener{Listener: tlsLn, a: a, started: started.Done, tls: a.cfg.TLS})
		})
	}
	started.Wait()
	if tlsLn != nil {
		a.log.Info("sip: serving", "udp", a.UDPAddr().String(), "tcp", a.TCPAddr().String(), "tls", a.TLSAddr().String())
	} else {
		a.log.Info("sip: serving", "udp", a.UDPAddr().String(), "tcp", a.TCPAddr().String())
	}
	close(a.ready)

	var serveErr error
	select {
	case <-ctx.Done():
	case <-a.done:
	case err := <-failed:
		select {
		case <-a.done:
		default:
			a.log.Error("sip: listener failed", keyErr, err)
			serveErr = fmt.Errorf("sip: listener: %w: %w", ErrTransport, err)
		}
	}
	_ = a.Close()
	if serveErr != nil {
		return serveErr
	}
	return ErrClosed
}

// listenPair binds UDP, then TCP on the same port. With port 0 the kernel
// picks the UDP port; if that port is taken for TCP it retries a few times.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lastErr error
	for range 8 {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, itoa(p)))
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		lastErr = err
		if port != 0 {
			break
		}
	}
	return nil, nil, lastErr
}

// Ready is closed once Serve has bound the UDP and TCP listeners. It is
// never closed if Serve fails to bind or is not called.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// UDPAddr is the bound UDP address; the zero value before Ready.
func (a *Agent) UDPAddr() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.udpAddr
}

// TCPAddr is the bound TCP address; the zero value before Ready.
func (a *Agent) TCPAddr() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tcpAddr
}

// TLSAddr is the bound TLS address; the zero value before Ready and
// without Config.TLSAddr.
func (a *Agent) TLSAddr() netip.AddrPort {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tlsAddr
}

// Close ends every call without calling its handler (BYE for answered
// calls, CANCEL for ringing outbound calls, 503 for unanswered inbound
// calls), waits up to two seconds for those transactions, then closes the
// listeners and connections, terminates all transactions and waits for
// every goroutine the agent started. It is idempotent and returns nil.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.close() })
	return a.closeErr
}

func (a *Agent) close() error {
	a.mu.Lock()
	a.state = stateClosing
	calls := make([]*call, 0, len(a.dialogs))
	for _, c := range a.dialogs {
		calls = append(calls, c)
	}
	a.mu.Unlock()
	close(a.done)

	for _, c := range calls {
		c.shutdown()
	}
	a.waitBackground(a.closeWait)

	a.mu.Lock()
	a.state = stateClosed
	udp, tcp, tlsLn := a.udpConn, a.tcpLn, a.tlsLn
	a.dialogs = map[string]*call{}
	a.mu.Unlock()

	a.cancel()
	a.sendMu.Lock()
	a.sendClosed = true
	a.sendMu.Unlock()
	// A send can block: a TCP peer that stopped reading (sipgo sets no
	// write deadline), or a dial. Closing the transports below ends those,
	// so the wait is bounded.
	sent := make(chan struct{})
	go func() { a.sends.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(a.closeWait):
		a.log.Warn("sip: Close did not wait for sends still blocked", "after", a.closeWait)
	}
	a.txl.Close()
	// From here on the listener no longer answers (closepool.go).
	a.plugUDPPool(udp)
	var errs []error
	for _, ln := range []net.Listener{tcp, tlsLn} {
		if ln == nil {
			continue
		}
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if udp != nil {
		if err := udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := a.tpl.Close(); err != nil {
		a.log.Debug("sip: transport close", keyErr, err)
	}
	a.plugUDPPool(udp)
	a.wg.Wait()
	// sipgo handles each message on a goroutine of its own; one still
	// running may have opened a connection to answer (its socket's pool
	// entries are gone): close what is left once more.
	_ = a.tpl.Close()
	a.plugUDPPool(udp)
	a.log.Info("sip: closed")
	return errors.Join(errs...)
}

// goFunc runs f on a goroutine counted by Close, unless the agent is
// closed; it reports whether f was started.
func (a *Agent) goFunc(f func()) bool {
	a.mu.Lock()
	if a.state >= stateClosed {
		a.mu.Unlock()
		return false
	}
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		f()
	}()
	return true
}

// goBackground runs a background transaction (BYE, CANCEL, refresh) that
// Close waits for, up to closeWait.
func (a *Agent) goBackground(f func()) bool {
	a.mu.Lock()
	if a.state >= stateClosed {
		a.mu.Unlock()
		return false
	}
	a.wg.Add(1)
	a.bgActive++
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			a.bgActive--
			if a.bgActive == 0 && a.bgIdle != nil {
				close(a.bgIdle)
				a.bgIdle = nil
			}
			a.mu.Unlock()
		}()
		f()
	}()
	return true
}

func (a *Agent) waitBackground(d time.Duration) {
	a.mu.Lock()
	if a.bgActive == 0 {
		a.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	a.bgIdle = idle
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// afterFunc runs f after d on the agent's clock, unless the agent is closed
// by then; a running f is waited for by Close.
func (a *Agent) afterFunc(d time.Duration, f func()) stopper {
	return a.clk.AfterFunc(d, func() {
		a.mu.Lock()
		if a.state >= stateClosed {
			a.mu.Unlock()
			return
		}
		a.wg.Add(1)
		a.mu.Unlock()
		defer a.wg.Done()
		f()
	})
}

// accepting reports whether new calls may start.
func (a *Agent) accepting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state == stateServing
}

func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

// addDialog registers c; false when the agent is closing.
func (a *Agent) addDialog(c *call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateServing {
		return false
	}
	a.dialogs[c.key] = c
	return true
}

func (a *Agent) removeDialog(c *call) {
	a.mu.Lock()
	if a.dialogs[c.key] == c {
		delete(a.dialogs, c.key)
	}
	a.mu.Unlock()
}

func (a *Agent) findDialog(callID, localTag string) *call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dialogs[dialogKey(callID, localTag)]
}

// listenPort is the port of the UDP and TCP listeners.
func (a *Agent) listenPort() int { return int(a.UDPAddr().Port()) }

// portFor is our port for transport: the TLS listener's for TLS (0 without
// one: sipgo then puts the connection's port in Via), else listenPort.
func (a *Agent) portFor(transport string) int {
	if transport == "TLS" {
		return int(a.TLSAddr().Port())
	}
	return a.listenPort()
}

func itoa(n int) string { return strconv.Itoa(n) }
