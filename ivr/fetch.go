package ivr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// FetchConfig configures a Fetcher. The zero value is ready to use.
type FetchConfig struct {
	// Client makes the requests. Default: a client with Timeout.
	Client *http.Client
	// Timeout bounds one fetch, body included. Default 15 s.
	Timeout time.Duration
	// MaxBytes bounds a download; a larger answer is abandoned with
	// ErrTooLarge. Default 20 MiB.
	MaxBytes int64
	// Freshness is how long a fetched prompt is used without asking the
	// server again; after it the next use revalidates (ETag,
	// Last-Modified). Default 30 s; negative revalidates on every use.
	Freshness time.Duration
	// CacheEntries and CacheBytes bound the cache of decoded URLs.
	// Defaults 64 URLs and 64 MiB.
	CacheEntries int
	CacheBytes   int64
	// Logger logs a stale prompt served when revalidation failed.
	// Default slog.Default().
	Logger *slog.Logger

	now func() time.Time // tests; default time.Now
}

// Fetcher downloads the audio of url phrases: WAV or MP3 recognised by
// content, decoded once and cached in memory (bounded, keyed by URL).
// A cached prompt is revalidated with If-None-Match / If-Modified-Since
// at most once per Freshness: a 304 keeps the decoded audio. When
// revalidation fails (network error, 5xx) the cached prompt is served
// and the failure logged. Concurrent fetches of one URL share one
// download. A Fetcher is safe for concurrent use.
//
// URLs come from the application; the Fetcher does not restrict the
// addresses they name beyond the http and https schemes, so deployments
// that distrust their application should give it a Client whose
// Transport dials only where it may.
type Fetcher struct {
	client    *http.Client
	timeout   time.Duration
	maxBytes  int64
	freshness time.Duration
	cache     *lru[string, urlEntry]
	flights   flightGroup[string, *media.Prompt]
	log       *slog.Logger
	now       func() time.Time
}

type urlEntry struct {
	prompt       *media.Prompt
	etag         string
	lastModified string
	checked      time.Time
}

// NewFetcher returns a fetcher configured by cfg.
func NewFetcher(cfg FetchConfig) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 20 << 20
	}
	if cfg.Freshness == 0 {
		cfg.Freshness = 30 * time.Second
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 64
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &Fetcher{
		client:    cfg.Client,
		timeout:   cfg.Timeout,
		maxBytes:  cfg.MaxBytes,
		freshness: cfg.Freshness,
		cache:     newLRU[string, urlEntry](cfg.CacheEntries, cfg.CacheBytes),
		log:       cfg.Logger,
		now:       cfg.now,
	}
}

// Fetch returns the prompt at rawURL, from the cache when fresh. It
// blocks until done, Timeout passes or ctx ends. Errors name the URL
// (without its password) and wrap ErrBadPhrase (not an http or https
// URL), *HTTPError (ErrHTTPStatus), ErrNotAudio, ErrTooLarge,
// media.ErrBadAudio, or the network or context error.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*media.Prompt, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ivr: url phrase: %w: not an http(s) url", ErrBadPhrase)
	}
	if e, ok := f.cache.get(rawURL); ok && f.now().Sub(e.checked) < f.freshness {
		return e.prompt, nil
	}
	return f.flights.do(ctx, rawURL, func(ctx context.Context) (*media.Prompt, error) {
		return f.fetch(ctx, rawURL, u.Redacted())
	})
}

func (f *Fetcher) fetch(ctx context.Context, rawURL, shown string) (*media.Prompt, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	cached, have := f.cache.get(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("ivr: fetch %s: %w", shown, err)
	}
	req.Header.Set("Accept", "audio/wav, audio/x-wav, audio/mpeg, audio/*;q=0.9, */*;q=0.1")
	if have {
		if cached.etag != "" {
			req.Header.Set("If-None-Match", cached.etag)
		}
		if cached.lastModified != "" {
			req.Header.Set("If-Modified-Since", cached.lastModified)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if have && ctx.Err() == nil {
			return f.stale(ctx, rawURL, shown, cached, err), nil
		}
		return nil, fmt.Errorf("ivr: fetch %s: %w", shown, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && have:
		cached.checked = f.now()
		f.cache.add(rawURL, cached, cached.prompt.Size())
		return cached.prompt, nil
	case resp.StatusCode == http.StatusOK:
	case have && resp.StatusCode >= 500:
		return f.stale(ctx, rawURL, shown, cached, &HTTPError{URL: shown, StatusCode: resp.StatusCode}), nil
	default:
		return nil, &HTTPError{URL: shown, StatusCode: resp.StatusCode}
	}
	ct := resp.Header.Get("Content-Type")
	if textual(ct) {
		return nil, fmt.Errorf("ivr: fetch %s: %w: content type %q", shown, ErrNotAudio, ct)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, fmt.Errorf("ivr: fetch %s: %w: %d bytes, limit %d", shown, ErrTooLarge, resp.ContentLength, f.maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ivr: fetch %s: %w", shown, err)
	}
	if int64(len(data)) > f.maxBytes {
		return nil, fmt.Errorf("ivr: fetch %s: %w: more than %d bytes", shown, ErrTooLarge, f.maxBytes)
	}
	if !media.IsWAV(data) && !media.IsMP3(data) {
		return nil, fmt.Errorf("ivr: fetch %s: %w: content looks like %s", shown, ErrNotAudio, http.DetectContentType(data))
	}
	pcm, err := media.DecodeAudio(data)
	if err != nil {
		return nil, fmt.Errorf("ivr: fetch %s: %w", shown, err)
	}
	p := media.NewPrompt(pcm)
	f.cache.add(rawURL, urlEntry{
		prompt:       p,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		checked:      f.now(),
	}, p.Size())
	return p, nil
}

// stale serves a cached prompt whose revalidation failed, and tries again
// after the next Freshness.
func (f *Fetcher) stale(ctx context.Context, rawURL, shown string, e urlEntry, err error) *media.Prompt {
	f.log.LogAttrs(ctx, slog.LevelWarn, "url prompt revalidation failed, playing the cached audio",
		slog.String("url", shown), slog.Any("err", err))
	e.checked = f.now()
	f.cache.add(rawURL, e, e.prompt.Size())
	return e.prompt
}

// textual reports a content type that cannot be audio: HTML error pages,
// JSON, XML, text.
func textual(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), mt == "application/json", mt == "application/xml",
		mt == "application/xhtml+xml", strings.HasSuffix(mt, "+json"):
		return true
	}
	return false
}
