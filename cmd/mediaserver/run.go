package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/metrics"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Bounds of the shutdown steps after the drain.
const (
	callbackDrainTimeout = 15 * time.Second
	httpShutdownTimeout  = 5 * time.Second
)

// run is the command: it returns when ctx ends (a signal) and everything
// has shut down, or at once on a configuration error.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "mediaserver:", err)
		return exitUsage
	}
	log, err := o.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mediaserver:", err)
		return exitUsage
	}
	if err := serve(ctx, o, log); err != nil {
		log.Error("mediaserver failed", "err", err)
		return exitError
	}
	return exitOK
}

// server is the wired-up command: SIP server, webhook adapter, REST API.
type server struct {
	log   *slog.Logger
	media *mediaserver.Server
	hooks *callback.Handler
	api   *callback.API
	http  *http.Server
	ln    net.Listener
}

// build creates every part and binds the API's TCP listener.
func build(o options, log *slog.Logger) (*server, error) {
	hcfg := callback.Config{
		BaseURL:         o.callbackURL,
		FallbackURL:     o.fallbackURL,
		Secret:          []byte(o.callbackSecret),
		Domain:          o.domain,
		DecisionTimeout: o.callbackTimeout,
		Logger:          log.With("component", "callback"),
	}
	if o.signingKey != "" {
		k, err := loadPrivateKey(o.signingKey)
		if err != nil {
			return nil, fmt.Errorf("-callback-signing-key: %w", err)
		}
		hcfg.SigningKey = k
	}
	peers, err := o.peerMap()
	if err != nil {
		return nil, err
	}
	acfg := callback.APIConfig{Token: o.apiToken, Domain: o.domain, Peers: peers, Logger: log}
	if o.apiJWTKey != "" {
		k, err := loadPublicKey(o.apiJWTKey)
		if err != nil {
			return nil, fmt.Errorf("-api-jwt-key: %w", err)
		}
		acfg.JWTPublicKey = k
	}
	if hcfg.SigningKey == nil && len(hcfg.Secret) == 0 {
		log.Warn("callbacks are not signed: set -callback-signing-key or -callback-secret so the application can verify them")
	}
	lo, hi, _ := o.ports()
	sec, err := o.security()
	if err != nil {
		return nil, err
	}
	obs, metricsHandler, err := metrics.Standalone(metrics.Config{})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	acfg.Metrics = metricsHandler
	hooks, err := callback.NewHandler(hcfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.apiAddr)
	if err != nil {
		_ = hooks.Close()
		return nil, fmt.Errorf("-api-addr: %w", err)
	}
	base := o.apiBaseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	media, err := mediaserver.New(mediaserver.Config{
		Handler:    hooks,
		InstanceID: o.instanceID,
		SIPAddr:    o.sipAddr,
		PublicIP:   o.publicIP,
		RTPPortMin: lo, RTPPortMax: hi,
		Logger:      log,
		MaxSessions: o.maxSessions,
		Domain:      o.domain,
		APIBaseURL:  base,
		DataDir:     o.dataDir,
		// The adapter's own timeout fires first, so the log says why.
		DecisionTimeout:  o.callbackTimeout + time.Second,
		Observer:         obs,
		InbandDTMF:       o.inbandDTMF,
		TLS:              sec.tls,
		TLSAddr:          sec.tlsAddr,
		SRTP:             sec.srtp,
		AllowedSources:   sec.allowSources,
		TrustedProxies:   sec.trustedProxies,
		InviteRateLimit:  sec.rate,
		RequestRateLimit: sec.requestRate,
		InboundAuth:      sec.auth,
		RetryAfter:       o.retryAfter,
	})
	if err != nil {
		_ = ln.Close()
		_ = hooks.Close()
		return nil, err
	}
	if err := obs.Attach(media); err != nil {
		_ = ln.Close()
		_ = hooks.Close()
		_ = media.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	acfg.Server = media
	api, err := callback.NewAPI(acfg)
	if err != nil {
		_ = ln.Close()
		_ = hooks.Close()
		_ = media.Close()
		return nil, err
	}
	s := &server{log: log, media: media, hooks: hooks, api: api, ln: ln}
	s.http = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// serve runs the server until ctx ends, then drains.
func serve(ctx context.Context, o options, log *slog.Logger) error {
	s, err := build(o, log)
	if err != nil {
		return err
	}
	sipDone := make(chan error, 1)
	go func() { sipDone <- s.media.Serve(context.Background()) }()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Serve(s.ln) }()

	select {
	case <-s.media.Ready():
		log.Info("serving", "sipAddr", s.media.SIPAddr().String(), "sipTcpAddr", s.media.SIPTCPAddr().String(),
			"apiAddr", s.ln.Addr().String(), "callbackUrl", o.callbackURL, "instanceId", s.media.InstanceID())
	case err := <-sipDone:
		return s.abort(fmt.Errorf("sip: %w", err), httpDone)
	}

	var failed error
	select {
	case <-ctx.Done():
		// Readiness off before the log line says so (shutdown repeats it).
		s.api.Drain()
		log.Info("shutting down: draining calls", "drainTimeout", o.drainTimeout, "sessions", s.media.Sessions())
	case err := <-sipDone:
		failed = fmt.Errorf("sip: %w", err)
		sipDone <- err
	case err := <-httpDone:
		failed = fmt.Errorf("api: %w", err)
		httpDone <- err
	}
	return errors.Join(failed, s.shutdown(o.drainTimeout, sipDone, httpDone))
}

// abort stops what was started when the SIP side failed to start.
func (s *server) abort(err error, httpDone chan error) error {
	_ = s.http.Close()
	<-httpDone
	return errors.Join(err, s.hooks.Close())
}

// shutdown drains in order: readiness off, calls (bounded by drain), the
// callback queue, then the HTTP server, which stays up meanwhile for the
// application's REST calls. A second signal cuts the drain short.
func (s *server) shutdown(drain time.Duration, sipDone, httpDone chan error) error {
	s.api.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	second := make(chan os.Signal, 1)
	signal.Notify(second, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(second)
	go func() {
		select {
		case <-second:
			s.log.Warn("second signal: hanging up now")
			cancel()
		case <-ctx.Done():
		}
	}()
	var errs []error
	if err := s.media.Shutdown(ctx); err != nil && !errors.Is(err, mediaserver.ErrServerClosed) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("sip shutdown: %w", err))
	}
	if err := <-sipDone; err != nil && !errors.Is(err, mediaserver.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("sip: %w", err))
	}
	cctx, ccancel := context.WithTimeout(context.Background(), callbackDrainTimeout)
	defer ccancel()
	if err := s.hooks.Shutdown(cctx); err != nil {
		errs = append(errs, err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer hcancel()
	if err := s.http.Shutdown(hctx); err != nil {
		errs = append(errs, fmt.Errorf("api shutdown: %w", err))
		_ = s.http.Close()
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("api: %w", err))
	}
	if len(errs) == 0 {
		s.log.Info("shutdown complete")
	}
	return errors.Join(errs...)
}
