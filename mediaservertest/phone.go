package mediaservertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Timeouts of Close.
const (
	// closeHangupTimeout bounds the BYEs and CANCELs Close sends.
	closeHangupTimeout = time.Second
	// maxIncoming bounds the queue of inbound calls nobody took with Incoming.
	maxIncoming = 1000
)

// Phone is a SIP user agent on 127.0.0.1, a test phone: it listens for SIP on
// one port over UDP and TCP (and on another over TLS when PhoneConfig.TLS is
// set), places calls with Dial and answers calls as its PhoneConfig says.
// Each call has its own RTP socket(s).
//
// A Phone is safe for concurrent use. It owns its goroutines: sipgo's
// listeners, one sender and one or two RTP readers per call; Close ends them
// all and waits for them.
type Phone struct {
	tb   testing.TB
	cfg  PhoneConfig
	log  *slog.Logger
	logw *tbWriter // nil when cfg.Logger is set
	wav  []int16
	addr netip.AddrPort // SIP address, the same port for UDP and TCP

	ua        *sipgo.UserAgent
	udpClient *sipgo.Client // sends from the UDP listening socket
	tcpClient *sipgo.Client
	udpConn   net.PacketConn
	tcpLn     net.Listener
	tlsLn     net.Listener   // nil without PhoneConfig.TLS
	tlsAddr   netip.AddrPort // the TLS listener's address, zero without

	// ctx is done once Close has hung up the calls; everything the phone
	// waits on ends with it. It is the phone's root context.
	ctx    context.Context //nolint:containedctx // the phone's lifetime, see above
	cancel context.CancelFunc

	mu       sync.Mutex // guards closed, calls, incoming, arrived
	closed   bool
	calls    map[callKey]*Call
	incoming []*Call
	arrived  chan struct{} // closed and replaced when incoming grows

	wg        sync.WaitGroup // serve and dial goroutines
	handlers  sync.WaitGroup // running SIP request handlers
	closeOnce sync.Once
	closeErr  error

	// sipMu is read-locked by refuse while it answers a request that came in
	// during Close, and write-locked by Close to set sipDown before it closes
	// the SIP listeners.
	sipMu   sync.RWMutex
	sipDown bool // the SIP listeners are closed or closing; guarded by sipMu
}

// callKey finds a call from a request in its dialog: the Call-ID and this
// phone's tag, which is the To tag of every request the remote side sends.
type callKey struct {
	callID   string
	localTag string
}

// NewPhone starts a phone listening on 127.0.0.1 and registers its Close with
// tb.Cleanup. It fails the test with tb.Fatal if cfg is invalid or a socket
// cannot be opened, so call it from the test goroutine.
func NewPhone(tb testing.TB, cfg PhoneConfig) *Phone {
	tb.Helper()
	p, err := newPhone(tb, cfg)
	if err != nil {
		tb.Fatalf("mediaservertest.NewPhone: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Logf("mediaservertest: closing phone %s: %v", p.URI(), err)
		}
	})
	return p
}

func newPhone(tb testing.TB, cfg PhoneConfig) (*Phone, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Phone{tb: tb, cfg: cfg, calls: map[callKey]*Call{}, arrived: make(chan struct{})}
	sipLog := cfg.Logger
	if sipLog == nil {
		p.logw = &tbWriter{tb: tb}
		p.log = slog.New(slog.NewTextHandler(p.logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
		sipLog = slog.New(slog.NewTextHandler(p.logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	} else {
		p.log = cfg.Logger
		sipLog = slog.New(minLevel{Handler: cfg.Logger.Handler(), min: slog.LevelWarn})
	}
	if cfg.WAV != "" {
		w, err := ReadWAV(cfg.WAV)
		if err != nil {
			return nil, err
		}
		if w.SampleRate != SampleRate {
			return nil, &ConfigError{Field: "WAV", Reason: fmt.Sprintf("sample rate %d, want 8000", w.SampleRate)}
		}
		p.wav = w.Channels[0]
	}
	if err := p.listen(); err != nil {
		return nil, err
	}
	if err := p.listenTLS(); err != nil {
		_ = p.udpConn.Close()
		_ = p.tcpLn.Close()
		return nil, err
	}
	p.log = p.log.With("phone", p.URI())
	if err := p.startSIP(sipLog.With("phone", p.URI())); err != nil {
		_ = p.closeListeners()
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if p.tlsLn != nil {
		p.wg.Go(func() { _ = p.ua.TransportLayer().ServeTLS(p.tlsLn) })
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_ = p.ua.TransportLayer().ServeUDP(p.udpConn)
	}()
	go func() {
		defer p.wg.Done()
		_ = p.ua.TransportLayer().ServeTCP(p.tcpLn)
	}()
	if err := p.waitReady(); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// waitReady waits until sipgo serves the UDP socket, so that requests are
// sent from it: until then sipgo would try to bind the port a second time.
func (p *Phone) waitReady() error {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	tl := p.ua.TransportLayer()
	err := waitFor(ctx, time.Millisecond, func() bool {
		return tl.Pool("udp").Size() > 0 && len(tl.ListenPorts("tcp")) > 0 &&
			(p.tlsLn == nil || len(tl.ListenPorts("tls")) > 0)
	})
	if err != nil {
		return fmt.Errorf("mediaservertest: sipgo did not start serving: %w", err)
	}
	return nil
}

// listen binds UDP and TCP on the same free port of 127.0.0.1, so that the
// phone's one URI works for both.
func (p *Phone) listen() error {
	var lastErr error
	for range 50 {
		uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("mediaservertest: listen udp: %w", err)
		}
		ap := uc.LocalAddr().(*net.UDPAddr).AddrPort()
		tl, err := net.Listen("tcp4", netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String())
		if err != nil {
			lastErr = err
			_ = uc.Close()
			continue
		}
		p.udpConn, p.tcpLn = uc, tl
		p.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		return nil
	}
	return fmt.Errorf("mediaservertest: no port free for both udp and tcp: %w", lastErr)
}

// startSIP builds the sipgo user agent, clients and request handlers.
func (p *Phone) startSIP(log *slog.Logger) error {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("mediaservertest"),
		sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgenTLSConfig(p.cfg.TLS), // nil: sipgo's default, never used without TLS
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(log),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	)
	if err != nil {
		return fmt.Errorf("mediaservertest: sipgo user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err == nil {
		p.udpClient, err = sipgo.NewClient(ua, sipgo.WithClientLogger(log),
			sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(p.addr.String()))
	}
	if err == nil {
		p.tcpClient, err = sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname("127.0.0.1"))
	}
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("mediaservertest: sipgo: %w", err)
	}
	p.ua = ua
	srv.OnInvite(p.handler(p.onInvite))
	srv.OnAck(p.handler(p.onAck))
	srv.OnBye(p.handler(p.onBye))
	srv.OnInfo(p.handler(p.onInfo))
	srv.OnCancel(p.handler(p.onCancel))
	srv.OnOptions(p.handler(p.onOptions))
	srv.OnNoRoute(p.handler(p.onNoRoute))
	return nil
}

// URI returns the phone's SIP URI, sip:<User>@127.0.0.1:<port>. Dial it over
// UDP, or over TCP by appending ";transport=tcp". TLSURI is the one for TLS.
func (p *Phone) URI() string {
	return "sip:" + p.cfg.User + "@" + p.addr.String()
}

// Addr returns the phone's SIP address; UDP and TCP use the same port.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Incoming returns the next inbound call once its INVITE got its final
// response: answered (Answered is closed), or rejected or cancelled (Ended is
// closed). Calls are queued in order of arrival until taken. It blocks until
// a call is there, ctx is done (returning ctx.Err()) or the phone is closed
// (ErrPhoneClosed).
func (p *Phone) Incoming(ctx context.Context) (*Call, error) {
	for {
		p.mu.Lock()
		if len(p.incoming) > 0 {
			c := p.incoming[0]
			p.incoming[0] = nil
			p.incoming = p.incoming[1:]
			p.mu.Unlock()
			return c, nil
		}
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPhoneClosed
		}
		arrived := p.arrived
		p.mu.Unlock()
		select {
		case <-arrived:
		case <-p.ctx.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// deliver queues an inbound call for Incoming.
func (p *Phone) deliver(c *Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.incoming) >= maxIncoming {
		p.incoming = p.incoming[1:]
	}
	p.incoming = append(p.incoming, c)
	close(p.arrived)
	p.arrived = make(chan struct{})
}

// register makes c findable by requests in its dialog. It fails once the
// phone is closing.
func (p *Phone) register(c *Call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPhoneClosed
	}
	p.calls[c.key] = c
	return nil
}

func (p *Phone) unregister(c *Call) {
	p.mu.Lock()
	if p.calls[c.key] == c {
		delete(p.calls, c.key)
	}
	p.mu.Unlock()
}

// lookup returns the call of an in-dialog request, or nil.
func (p *Phone) lookup(req *sip.Request) *Call {
	cid, to := req.CallID(), req.To()
	if cid == nil || to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[callKey{callID: cid.Value(), localTag: tag}]
}

// goFunc runs f on a goroutine the phone waits for in Close. It returns
// false, without running f, once the phone is closing.
func (p *Phone) goFunc(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// handler wraps a request handler so that Close waits for it, and so that
// requests arriving while the phone closes are refused (refuse).
func (p *Phone) handler(f func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			p.refuse(req, tx)
			return
		}
		p.handlers.Add(1)
		p.mu.Unlock()
		defer p.handlers.Done()
		f(req, tx)
	}
}

// client returns the sipgo client for a transport ("udp", "tcp" or "tls").
// The TCP client serves TLS too: sipgo picks the transport of each request.
func (p *Phone) client(transport string) *sipgo.Client {
	if transport == "tcp" || transport == "tls" {
		return p.tcpClient
	}
	return p.udpClient
}

// contact returns the Contact header for a dialog over transport. Over TLS
// it is a sips: URI in a sips: dialog (RFC 3261 section 8.1.1.8), else
// sip: with ;transport=tls.
func (p *Phone) contact(transport string, sips bool) sip.ContactHeader {
	uri := sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}
	switch {
	case transport == "tls" && sips:
		uri.Scheme, uri.Port = "sips", int(p.tlsAddr.Port())
	case transport == "tls" || transport == "tcp":
		if transport == "tls" {
			uri.Port = int(p.tlsAddr.Port())
		}
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: uri}
}

// String returns the phone's URI.
func (p *Phone) String() string { return p.URI() }

// newTag returns a random SIP tag or Call-ID of n characters.
func newTag(n int) string { return sip.GenerateTagN(n) }

// reasonPhrases are the reason phrases of the codes a phone is likely to send.
var reasonPhrases = map[int]string{
	180: "Ringing", 183: "Session Progress", 200: "OK",
	301: "Moved Permanently", 302: "Moved Temporarily", 403: "Forbidden", 404: "Not Found",
	408: "Request Timeout", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
	486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
	503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
}

// statusText returns the reason phrase for code.
func statusText(code int) string {
	if s, ok := reasonPhrases[code]; ok {
		return s
	}
	return "Status " + strconv.Itoa(code)
}
