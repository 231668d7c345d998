package callback

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Handler. The zero value of each field means its
// default; NewHandler copies it and never changes it afterwards.
type Config struct {
	// BaseURL is the application's callback base URL: callbacks are POSTed
	// to BaseURL + "/newCall", "/callNotify", "/callEvent", "/callAnswered",
	// "/getIvrCommand", "/sessionCompleted" and "/recordingReady". Required;
	// http or https.
	BaseURL string
	// FallbackURL, when set, receives a callback that BaseURL did not take
	// (no connection, a timeout, 5xx, 408 or 429), at once and with the
	// same body. With a FallbackURL the primary gets two thirds of each
	// attempt's time budget and the fallback what is left.
	FallbackURL string

	// SigningKey signs every callback RS256 (decision 17): header
	// "Authorization: Bearer <JWT>". Applications check it with Verify
	// and the public key.
	SigningKey *rsa.PrivateKey
	// Secret signs every callback HS256 instead, when SigningKey is nil.
	// With neither, callbacks are not signed.
	Secret []byte
	// Issuer is the iss claim. Default "mediaserver".
	Issuer string
	// Domain, when set, is the domain claim.
	Domain string
	// TokenLifetime is exp minus iat of callback tokens. Default 5 minutes.
	TokenLifetime time.Duration
	// APIBaseURL is sent in the X-Mediaserver-Api-Base-Url header of every
	// callback, so the application's REST calls reach the instance that
	// owns the session. Default: the request's apiBaseUrl field (which the
	// server fills from mediaserver.Config.APIBaseURL); no header when both
	// are empty.
	APIBaseURL string

	// DecisionTimeout bounds newCall, callEvent and getIvrCommand, fallback
	// included. Default 5 s. Keep it below mediaserver.Config.DecisionTimeout
	// so that the server logs this package's error rather than its own
	// timeout.
	DecisionTimeout time.Duration
	// NotifyTimeout bounds the single attempt of callNotify and
	// callAnswered (decision 16). Default 2 s.
	NotifyTimeout time.Duration
	// DeliveryTimeout bounds each attempt of sessionCompleted and
	// recordingReady. Default 5 s.
	DeliveryTimeout time.Duration
	// Retries is how often sessionCompleted and recordingReady are retried
	// after a failed first attempt (decision 16). Default 3; negative
	// means no retry.
	Retries int
	// RetryBackoff is the wait before the first retry; it doubles for each
	// further one. Default 1 s.
	RetryBackoff time.Duration
	// QueueSize bounds the sessionCompleted and recordingReady callbacks
	// waiting for delivery; beyond it they are dropped with ErrQueueFull.
	// Default 4096.
	QueueSize int
	// Workers is the number of delivery goroutines of that queue. Callbacks
	// of one session always go to the same worker, in order. Default 4.
	Workers int
	// MaxAnswerSize bounds the body of an answer. Default 64 KiB; a longer
	// answer to a decision callback is a failure.
	MaxAnswerSize int64

	// HTTPClient posts the callbacks. Default: a client that connects
	// within 5 s, keeps 256 idle connections per host and follows no
	// redirects.
	HTTPClient *http.Client
	// Logger receives delivery failures of the queued callbacks. Default
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = "mediaserver"
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = 5 * time.Minute
	}
	if c.DecisionTimeout <= 0 {
		c.DecisionTimeout = 5 * time.Second
	}
	if c.NotifyTimeout <= 0 {
		c.NotifyTimeout = 2 * time.Second
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 5 * time.Second
	}
	switch {
	case c.Retries == 0:
		c.Retries = 3
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = time.Second
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Workers > c.QueueSize {
		c.Workers = c.QueueSize
	}
	if c.MaxAnswerSize <= 0 {
		c.MaxAnswerSize = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.FallbackURL = strings.TrimRight(c.FallbackURL, "/")
	c.Secret = append([]byte(nil), c.Secret...)
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("callback: config BaseURL: required"))
	} else if err := checkURL(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("callback: config BaseURL: %w", err))
	}
	if c.FallbackURL != "" {
		if err := checkURL(c.FallbackURL); err != nil {
			errs = append(errs, fmt.Errorf("callback: config FallbackURL: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: a base URL takes no query or fragment", s)
	}
	return nil
}

// newTransport is the default transport of decision 16: connect within
// 5 s, at least 256 idle connections per host.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
