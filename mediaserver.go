package mediaserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
	"github.com/mediaserver-go/mediaserver/sip"
)

// AnswerMode says when an inbound caller is answered for action call
// (decision 11).
type AnswerMode uint8

const (
	// AnswerBeforeCallee answers the caller before calling the callee, as
	// the examples document does; the caller hears ringback, replaced by
	// the callee's early media. The default.
	AnswerBeforeCallee AnswerMode = iota
	// AnswerWithCallee leaves the caller unanswered while the callee rings,
	// passes the callee's 180/183 on, and rejects the caller with the
	// callee's status when a drop answers calledPartyFailed.
	AnswerWithCallee
)

// Config configures a Server. The zero value of each field means its
// default; New copies it and never changes it afterwards.
type Config struct {
	// Handler is the application. Required.
	Handler Handler
	// InstanceID prefixes every ID this server mints (1–16 lowercase letters
	// and digits). Default: random.
	InstanceID string
	// SIPAddr is the host:port the SIP listener binds, UDP and TCP.
	// Default "127.0.0.1:5060"; port 0 picks a free port.
	SIPAddr string
	// PublicIP is the address advertised in SDP and Contact. Default: the
	// SIP listen IP, which then must not be unspecified.
	PublicIP string
	// RTPPortMin and RTPPortMax bound the RTP ports. Default 20000–29999.
	RTPPortMin, RTPPortMax int
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// DecisionTimeout bounds each Handler call (decision 1). Default 5 s.
	DecisionTimeout time.Duration
	// MediaTimeout hangs up a leg that should send and sent nothing for
	// this long (decision 12). Default 60 s; negative disables it.
	MediaTimeout time.Duration
	// NoAnswerTimeout bounds how long a callee may ring. Default 60 s.
	NoAnswerTimeout time.Duration
	// AnswerMode says when the caller is answered. Default AnswerBeforeCallee.
	AnswerMode AnswerMode
	// Trunks are the outbound routes (decision 13).
	Trunks []sip.Trunk
	// ReplySecret signs replyIds. Default: random per process, so replyIds
	// do not survive a restart.
	ReplySecret []byte
	// MaxSessions bounds concurrent sessions; beyond it INVITEs get 503.
	// 0 means unlimited.
	MaxSessions int
	// StrictRTPSource accepts RTP only from the SDP address instead of
	// latching (decision 4).
	StrictRTPSource bool
	// Domain is put in every callback as "domain".
	Domain string
	// APIBaseURL is this instance's REST base URL, put in every callback
	// as "apiBaseUrl" so applications reach the owning instance.
	APIBaseURL string
	// DataDir holds prompt files and recordings; it is created when
	// missing. Default "data" (relative to the working directory).
	DataDir string
	// NotifyDigits sends callNotify "dtmf" for digits pressed by
	// participants that are bridged or in a conference (digits on an IVR
	// go to the IVR). Off by default: the protocol has no such event.
	NotifyDigits bool
	// InbandDTMF detects DTMF tones in the audio of legs that negotiated
	// no telephone-event (decision 14).
	InbandDTMF bool
	// TTS is the local engine for awstts phrases. Default: espeak-ng when
	// installed; without an engine such phrases are skipped with a log
	// line.
	TTS ivr.Synthesizer
	// Polly speaks awstts phrases, with TTS as the fallback. Default:
	// Amazon Polly when AWS credentials are configured (ivr.NewPolly; no
	// network call at start), unless DisablePolly.
	Polly ivr.Synthesizer
	// DisablePolly keeps the default Polly engine off.
	DisablePolly bool
	// Security and admission (decisions 20, 21), passed to package sip.
	//
	// AllowedSources, when not empty, is the only source networks whose
	// out-of-dialog requests are served; others are dropped silently.
	AllowedSources []netip.Prefix
	// TrustedProxies (e.g. a Kamailio in front) are always allowed and
	// exempt from the rate limit and from InboundAuth.
	TrustedProxies []netip.Prefix
	// InviteRateLimit limits new INVITEs per source address (503 with
	// Retry-After beyond it). The zero value is off.
	InviteRateLimit sip.RateLimit
	// RequestRateLimit limits, per source address, the out-of-dialog
	// requests other than INVITE, ACK and CANCEL (OPTIONS, REGISTER,
	// scanner sweeps, garbage): beyond it they are dropped before parsing,
	// without an answer. The zero value means the default, 500 per second
	// with a burst of 1000: far above what a phone sends, and above the
	// keep-alives of thousands of phones behind one proxy that is not in
	// TrustedProxies, while a flood costs at most that many parses a
	// second. A negative Rate turns it off. TrustedProxies are exempt.
	RequestRateLimit sip.RateLimit
	// InboundAuth, when not nil, requires digest authentication of
	// inbound INVITEs, and locks a source that guesses passwords out
	// (InboundAuth.MaxFailures, Lockout).
	InboundAuth *sip.InboundAuth
	// RetryAfter is the Retry-After of every 503. Default 5 s.
	RetryAfter time.Duration
	// TLS enables SIP over TLS on TLSAddr (and sips: targets).
	TLS     *tls.Config
	TLSAddr string
	// SRTP enables SDES-SRTP for calls over TLS (keys only over TLS).
	SRTP sip.SRTPMode
	// Observer receives the server's events for metrics (package metrics).
	Observer Observer
	// TraceRetention keeps the traces (Session.Trace) of completed
	// sessions this long, at most TraceSessions of them. Defaults 10
	// minutes and 1000; a negative TraceSessions keeps none.
	TraceRetention time.Duration
	TraceSessions  int
	// ConferenceIdleTimeout ends a conference nobody joined. Default 10
	// minutes.
	ConferenceIdleTimeout time.Duration
	// HTTPClient fetches url phrases. Default: a client with the fetch
	// limits of ivr.FetchConfig.
	HTTPClient *http.Client
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Handler == nil {
		errs = append(errs, &ConfigError{"Handler", "required"})
	}
	if c.InstanceID == "" {
		c.InstanceID = newInstanceID()
	} else if !validInstanceID(c.InstanceID) {
		errs = append(errs, &ConfigError{"InstanceID", "1-16 lowercase letters and digits"})
	}
	if c.SIPAddr == "" {
		c.SIPAddr = "127.0.0.1:5060"
	}
	host, _, err := net.SplitHostPort(c.SIPAddr)
	if err != nil {
		errs = append(errs, &ConfigError{"SIPAddr", err.Error()})
	}
	if c.PublicIP == "" {
		c.PublicIP = host
	}
	if ip, err := netip.ParseAddr(c.PublicIP); err != nil || ip.IsUnspecified() {
		errs = append(errs, &ConfigError{"PublicIP", "an IP address to advertise is required when SIPAddr binds all interfaces"})
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 20000, 29999
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	switch {
	case c.RequestRateLimit.Rate == 0 && c.RequestRateLimit.Burst == 0:
		c.RequestRateLimit.Rate, c.RequestRateLimit.Burst = 500, 1000
	case c.RequestRateLimit.Rate < 0:
		c.RequestRateLimit = sip.RateLimit{} // off
	}
	if c.TraceRetention <= 0 {
		c.TraceRetention = 10 * time.Minute
	}
	if c.TraceSessions == 0 {
		c.TraceSessions = 1000
	}
	if c.ConferenceIdleTimeout <= 0 {
		c.ConferenceIdleTimeout = 10 * time.Minute
	}
	if c.DecisionTimeout <= 0 {
		c.DecisionTimeout = 5 * time.Second
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 60 * time.Second
	}
	if c.NoAnswerTimeout <= 0 {
		c.NoAnswerTimeout = 60 * time.Second
	}
	if len(c.ReplySecret) == 0 {
		c.ReplySecret = make([]byte, 32)
		_, _ = rand.Read(c.ReplySecret)
	}
	c.Trunks = append([]sip.Trunk(nil), c.Trunks...)
	c.AllowedSources = append([]netip.Prefix(nil), c.AllowedSources...)
	c.TrustedProxies = append([]netip.Prefix(nil), c.TrustedProxies...)
	c.ReplySecret = append([]byte(nil), c.ReplySecret...)
	return c, errors.Join(errs...)
}

// Server is a SIP media server. Create it with New, run it with Serve.
// Its methods are safe for concurrent use, including from inside Handler
// methods.
type Server struct {
	cfg     Config
	log     *slog.Logger
	obs     Observer
	handler handlerSet
	tokens  replyTokens
	agent   *sip.Agent
	clock   *media.Clock
	ports   *media.PortAllocator
	store   *ivr.Store
	library *ivr.Library
	rtpIP   netip.Addr
	pubIP   netip.Addr

	// base is the parent of every session context; cancelled by Close.
	base       context.Context
	cancelBase context.CancelFunc
	// stopping ends when Close begins: it cancels pending decisions and
	// outbound dials, so that Close returns promptly (also when called
	// from inside a Handler).
	stopping     context.Context
	stopStopping context.CancelFunc

	mu       sync.Mutex // guards sessions, objects
	sessions map[string]*Session
	objects  map[string]*object

	draining atomic.Bool
	closed   atomic.Bool
	// atCapacity counts INVITEs refused at MaxSessions.
	atCapacity atomic.Uint64
	served     atomic.Bool
	done       chan struct{}  // closed by Close
	sessWG     sync.WaitGroup // session loops and detached deliveries
	handlers   sync.WaitGroup // Handler goroutines; not awaited by Close
	confs      map[*Conference]struct{}
	finished   finishedSessions // completed sessions kept for their traces
	closeErr   error
	once       sync.Once
}

// New creates a server from cfg. It binds nothing until Serve.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pub, _ := netip.ParseAddr(cfg.PublicIP)
	host, _, _ := net.SplitHostPort(cfg.SIPAddr)
	rtpIP, err := netip.ParseAddr(host)
	if err != nil {
		return nil, &ConfigError{"SIPAddr", "host must be an IP address"}
	}
	ports, err := media.NewPortAllocator(rtpIP, cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return nil, &ConfigError{"RTPPortMin", err.Error()}
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		handler:  newHandlerSet(cfg.Handler),
		obs:      cfg.Observer,
		tokens:   replyTokens{secret: cfg.ReplySecret},
		ports:    ports,
		rtpIP:    rtpIP,
		pubIP:    pub,
		sessions: make(map[string]*Session),
		objects:  make(map[string]*object),
		done:     make(chan struct{}),
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, &ConfigError{"DataDir", err.Error()}
	}
	if s.store, err = ivr.NewStore(cfg.DataDir); err != nil {
		return nil, &ConfigError{"DataDir", err.Error()}
	}
	local, polly := cfg.TTS, cfg.Polly
	if local == nil {
		if e, err := ivr.NewEspeak(ivr.EspeakConfig{}); err == nil {
			local = e
		} else {
			cfg.Logger.Warn("no local text-to-speech: awstts phrases need Amazon Polly credentials", "err", err)
		}
	}
	if polly == nil && !cfg.DisablePolly {
		if p, err := ivr.NewPolly(context.Background(), ivr.PollyConfig{}); err == nil {
			polly = p
			cfg.Logger.Info("awstts phrases are spoken by Amazon Polly")
		}
	}
	s.library = ivr.NewLibrary(ivr.LibraryConfig{
		Store:      s.store,
		HTTPClient: cfg.HTTPClient,
		Local:      local,
		Polly:      polly,
		Logger:     cfg.Logger.With("component", "prompts"),
	})
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.stopping, s.stopStopping = context.WithCancel(context.Background())
	s.confs = make(map[*Conference]struct{})
	s.finished = finishedSessions{max: cfg.TraceSessions, keep: cfg.TraceRetention, onTimer: s.expireTraces}
	s.agent, err = sip.NewAgent(sip.Config{
		ListenAddr:       cfg.SIPAddr,
		PublicHost:       cfg.PublicIP,
		Logger:           cfg.Logger,
		Trunks:           cfg.Trunks,
		NoAnswerTimeout:  cfg.NoAnswerTimeout,
		OnInvite:         s.onInvite,
		Draining:         s.draining.Load,
		AllowedSources:   cfg.AllowedSources,
		TrustedProxies:   cfg.TrustedProxies,
		InviteRateLimit:  cfg.InviteRateLimit,
		RequestRateLimit: cfg.RequestRateLimit,
		InboundAuth:      cfg.InboundAuth,
		RetryAfter:       cfg.RetryAfter,
		TLS:              cfg.TLS,
		TLSAddr:          cfg.TLSAddr,
		SRTP:             cfg.SRTP,
	})
	if err != nil {
		s.cancelBase()
		s.stopStopping()
		_ = s.store.Close()
		return nil, fmt.Errorf("mediaserver: sip agent: %w", err)
	}
	s.clock = media.NewClock(media.ClockConfig{Logger: cfg.Logger.With("component", "media")})
	return s, nil
}

// InstanceID returns the instance ID that prefixes every ID of this server.
func (s *Server) InstanceID() string { return s.cfg.InstanceID }

// Serve listens for SIP and serves calls. It blocks until ctx is done,
// Shutdown or Close is called, or the listener fails, and returns
// ErrServerClosed in the first cases. When ctx ends, Serve closes the
// server.
func (s *Server) Serve(ctx context.Context) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("mediaserver: Serve called twice")
	}
	s.log.Info("mediaserver starting", "instance", s.cfg.InstanceID, "sipAddr", s.cfg.SIPAddr)
	errc := make(chan error, 1)
	go func() { errc <- s.agent.Serve(s.base) }()
	select {
	case <-ctx.Done():
		_ = s.Close()
		<-errc
		return ErrServerClosed
	case <-s.done:
		<-errc
		return ErrServerClosed
	case err := <-errc:
		_ = s.Close()
		if errors.Is(err, sip.ErrClosed) || s.closed.Load() {
			return ErrServerClosed
		}
		return fmt.Errorf("mediaserver: sip: %w", err)
	}
}

// Ready is closed once the SIP listeners are bound.
func (s *Server) Ready() <-chan struct{} { return s.agent.Ready() }

// Draining reports whether Shutdown or Close began: new calls get 503.
func (s *Server) Draining() bool { return s.draining.Load() }

// SIPTLSAddr returns the bound SIP TLS address, if TLS is configured.
func (s *Server) SIPTLSAddr() netip.AddrPort { return s.agent.TLSAddr() }

// SIPAddr returns the bound SIP UDP address (valid after Ready).
func (s *Server) SIPAddr() netip.AddrPort { return s.agent.UDPAddr() }

// SIPTCPAddr returns the bound SIP TCP address (valid after Ready).
func (s *Server) SIPTCPAddr() netip.AddrPort { return s.agent.TCPAddr() }

// Sessions returns the number of active sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown stops taking new calls (503 with Retry-After, decision 20),
// lets active calls run until they end or ctx is done, then hangs up the
// rest (BYE), delivers their sessionCompleted, and closes the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	idle := make(chan struct{})
	go func() {
		s.sessWG.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
	}
	return s.Close()
}

// Close hangs up every call at once, delivers sessionCompleted for each
// session, stops listening and waits for every goroutine of the server. It
// is idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.draining.Store(true)
		s.stopStopping()
		s.mu.Lock()
		s.closed.Store(true) // under mu: startSession cannot add after this
		live := make([]*Session, 0, len(s.sessions))
		for _, ss := range s.sessions {
			live = append(live, ss)
		}
		s.mu.Unlock()
		for _, ss := range live {
			ss.post(func() { ss.shutdown() })
		}
		s.sessWG.Wait()
		for _, f := range s.conferences() {
			f.end() // never joined, or left running: their recordings finish
		}
		s.sessWG.Wait() // detached recordingReady deliveries
		s.cancelBase()
		s.mu.Lock()
		s.finished.stop()
		s.mu.Unlock()
		s.closeErr = errors.Join(s.agent.Close(), s.clock.Close(), s.store.Close())
		close(s.done)
	})
	return s.closeErr
}

// object is a registry entry: what an ID names, for validating Server
// method calls from any goroutine.
type object struct {
	session *Session
	part    *Participant
	conn    *Connection
	conf    *Conference
}

// owner returns the session an object belongs to now (nil for
// conferences, which belong to the instance).
func (o *object) owner() *Session {
	switch {
	case o.part != nil:
		return o.part.session()
	case o.conn != nil:
		return o.conn.ss
	}
	return o.session
}

func (s *Server) register(id string, o *object) {
	s.mu.Lock()
	s.objects[id] = o
	s.mu.Unlock()
}

func (s *Server) lookup(id string) (*object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[id]
	return o, ok
}
