package ivr

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mediaserver-go/mediaserver/media"
)

// LibraryConfig configures a Library. Only Store is needed for file
// phrases; the zero value of every other field is a working default.
type LibraryConfig struct {
	// Store holds the prompt files of format "file". Without it, file
	// phrases fail with ErrNotFound.
	Store *Store
	// HTTPClient fetches phrases of format "url"; nil gets a client of
	// its own with Fetch.Timeout. Ignored when Fetch.Client is set.
	HTTPClient *http.Client
	// Fetch bounds URL downloads and their cache (see FetchConfig).
	Fetch FetchConfig
	// Local is the default TTS engine for format "awstts", normally an
	// *Espeak. It speaks when Polly is nil, and when Polly fails.
	Local Synthesizer
	// Polly, when not nil, speaks awstts phrases (normally a *Polly,
	// configured only when AWS credentials exist).
	Polly Synthesizer
	// TTSCache bounds the cache of each TTS engine (its Name is set by the
	// library: "local" and "polly").
	TTSCache TTSCacheConfig
	// MaxFileSize bounds a prompt file the library reads. Default 64 MiB.
	MaxFileSize int64
	// CacheEntries and CacheBytes bound the cache of decoded prompt
	// files. Defaults 256 files and 128 MiB (about 70 minutes of audio).
	CacheEntries int
	CacheBytes   int64
	// Logger logs what the library recovers from (a Polly failure spoken
	// by the local engine, a stale URL served). Default slog.Default().
	Logger *slog.Logger
}

// Library turns phrases into prompts (it implements Loader): format
// "file" plays a prompt file of the Store, "url" an HTTP(S) WAV or MP3
// (see Fetcher), "awstts" speaks through Polly when configured, else the
// local engine. Decoded files are cached by (resolved name, size,
// modification time) and the file is checked again on every use, so a
// replaced file plays its new audio (decision 22). Speech is cached by
// text and voice (TTSCache). Concurrent loads of the same thing share one
// decode, fetch or synthesis.
//
// Every error names the phrase and wraps a sentinel (ErrNotFound,
// ErrBadName, ErrTooLarge, ErrUnsupportedFormat, ErrBadPhrase,
// ErrEngineMissing, ErrNotAudio, ErrHTTPStatus, media.ErrBadAudio) or the
// context's error, so the caller logs one line and skips the phrase. A
// Library is safe for concurrent use.
type Library struct {
	store   *Store
	fetcher *Fetcher
	local   Synthesizer
	polly   Synthesizer
	maxFile int64
	files   *lru[string, fileEntry]
	flights flightGroup[fileKey, *media.Prompt]
	log     *slog.Logger
	stats   libraryCounters
}

// LibraryStats count what the library served from its caches. Counters
// only grow.
type LibraryStats struct {
	// FileHits and FileMisses count file phrases served from the decoded
	// cache, or read and decoded.
	FileHits, FileMisses uint64
	// TTSHits and TTSMisses count speech served from the TTS caches, or
	// synthesized.
	TTSHits, TTSMisses uint64
	// Failures counts phrases that could not be loaded.
	Failures uint64
}

type libraryCounters struct {
	fileHits, fileMisses, failures atomic.Uint64
}

// Stats returns the library's counters.
func (l *Library) Stats() LibraryStats {
	st := LibraryStats{
		FileHits:   l.stats.fileHits.Load(),
		FileMisses: l.stats.fileMisses.Load(),
		Failures:   l.stats.failures.Load(),
	}
	for _, s := range []Synthesizer{l.local, l.polly} {
		if c, ok := s.(*TTSCache); ok {
			h, m := c.Counts()
			st.TTSHits += h
			st.TTSMisses += m
		}
	}
	return st
}

// fileKey is a prompt file's identity for the cache (decision 22).
type fileKey struct {
	name  string
	size  int64
	mtime int64
}

type fileEntry struct {
	key    fileKey
	prompt *media.Prompt
}

// NewLibrary returns a library over cfg.
func NewLibrary(cfg LibraryConfig) *Library {
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 64 << 20
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = 256
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 128 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fetch.Client == nil {
		cfg.Fetch.Client = cfg.HTTPClient
	}
	if cfg.Fetch.Logger == nil {
		cfg.Fetch.Logger = cfg.Logger
	}
	l := &Library{
		store:   cfg.Store,
		fetcher: NewFetcher(cfg.Fetch),
		maxFile: cfg.MaxFileSize,
		files:   newLRU[string, fileEntry](cfg.CacheEntries, cfg.CacheBytes),
		log:     cfg.Logger,
	}
	if cfg.Local != nil {
		c := cfg.TTSCache
		c.Name = "local"
		l.local = NewTTSCache(cfg.Local, c)
	}
	if cfg.Polly != nil {
		c := cfg.TTSCache
		c.Name = "polly"
		l.polly = NewTTSCache(cfg.Polly, c)
	}
	return l
}

// Load returns the prompt of phrase p. It blocks on disk, network or a
// TTS engine until done or ctx ends. Repeat and RepeatPause are for the
// player and ignored here.
func (l *Library) Load(ctx context.Context, p Phrase) (*media.Prompt, error) {
	pr, err := l.load(ctx, p)
	if err != nil {
		l.stats.failures.Add(1)
	}
	return pr, err
}

func (l *Library) load(ctx context.Context, p Phrase) (*media.Prompt, error) {
	switch strings.ToLower(p.Format) {
	case "file":
		pr, err := l.loadFile(ctx, p.FileName)
		if err != nil {
			return nil, fmt.Errorf("ivr: file phrase %q: %w", p.FileName, err)
		}
		return pr, nil
	case "url":
		if p.URL == "" {
			return nil, fmt.Errorf("ivr: url phrase: %w: no url", ErrBadPhrase)
		}
		return l.fetcher.Fetch(ctx, p.URL)
	case "awstts":
		pr, err := l.speak(ctx, p.TTS)
		if err != nil {
			return nil, fmt.Errorf("ivr: awstts phrase %s: %w", describeTTS(p.TTS), err)
		}
		return pr, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedFormat, p.Format)
}

func describeTTS(r *TTSRequest) string {
	if r == nil {
		return "(no parameters)"
	}
	text := r.Text
	if len(text) > 40 {
		text = text[:40] + "..."
	}
	return fmt.Sprintf("%q (voice %q, language %q)", text, r.Voice, r.Language)
}

func (l *Library) loadFile(ctx context.Context, name string) (*media.Prompt, error) {
	if l.store == nil {
		return nil, fmt.Errorf("%w: no prompt store configured", ErrNotFound)
	}
	_, fi, err := l.store.Resolve(name)
	if err != nil {
		return nil, err
	}
	k := fileKey{fi.Name(), fi.Size(), fi.ModTime().UnixNano()}
	if e, ok := l.files.get(k.name); ok && e.key == k {
		l.stats.fileHits.Add(1)
		return e.prompt, nil
	}
	l.stats.fileMisses.Add(1)
	if fi.Size() > l.maxFile {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, fi.Size(), l.maxFile)
	}
	return l.flights.do(ctx, k, func(ctx context.Context) (*media.Prompt, error) {
		return l.readFile(ctx, k.name)
	})
}

// readFile reads and decodes the file called exactly name and caches it
// under the identity of the file it read.
func (l *Library) readFile(ctx context.Context, name string) (*media.Prompt, error) {
	f, fi, err := l.store.openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, l.maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	if int64(len(data)) > l.maxFile {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.maxFile)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pcm, err := media.DecodeAudio(data)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	p := media.NewPrompt(pcm)
	l.files.add(name, fileEntry{fileKey{name, fi.Size(), fi.ModTime().UnixNano()}, p}, p.Size())
	return p, nil
}

// speak synthesizes r with Polly when configured, else (or when Polly
// fails) with the local engine.
func (l *Library) speak(ctx context.Context, r *TTSRequest) (*media.Prompt, error) {
	if r == nil || strings.TrimSpace(r.Text) == "" {
		return nil, fmt.Errorf("%w: no text", ErrBadPhrase)
	}
	if l.polly != nil {
		p, err := l.polly.Synthesize(ctx, *r)
		if err == nil || l.local == nil || ctx.Err() != nil {
			return p, err
		}
		l.log.LogAttrs(ctx, slog.LevelWarn, "polly failed, speaking with the local engine", slog.Any("err", err))
	}
	if l.local == nil {
		return nil, fmt.Errorf("%w: no tts engine configured (espeak-ng not installed?)", ErrEngineMissing)
	}
	return l.local.Synthesize(ctx, *r)
}

// lru is a least-recently-used cache bounded by entries and bytes, safe
// for concurrent use. A value larger than the byte bound is not kept.
type lru[K comparable, V any] struct {
	mu         sync.Mutex // guards ll, m, bytes
	ll         *list.List
	m          map[K]*list.Element
	bytes      int64
	maxEntries int
	maxBytes   int64
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	size int64
}

func newLRU[K comparable, V any](maxEntries int, maxBytes int64) *lru[K, V] {
	return &lru[K, V]{ll: list.New(), m: make(map[K]*list.Element), maxEntries: maxEntries, maxBytes: maxBytes}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[K, V]) add(k K, v V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(k)
	if size > c.maxBytes {
		return
	}
	c.m[k] = c.ll.PushFront(&lruEntry[K, V]{k, v, size})
	c.bytes += size
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.removeLocked(c.ll.Back().Value.(*lruEntry[K, V]).key)
	}
}

func (c *lru[K, V]) removeLocked(k K) {
	if el, ok := c.m[k]; ok {
		c.bytes -= el.Value.(*lruEntry[K, V]).size
		c.ll.Remove(el)
		delete(c.m, k)
	}
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// flightGroup runs one call per key at a time and hands its result to
// every caller waiting for it (singleflight). The call runs on its own
// goroutine with a context detached from any one caller: it ends when
// the call returns, or is cancelled once every waiter has left.
type flightGroup[K comparable, V any] struct {
	mu sync.Mutex // guards m and the waiters of its calls
	m  map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done    chan struct{}
	val     V
	err     error
	waiters int
	cancel  context.CancelFunc
}

func (g *flightGroup[K, V]) do(ctx context.Context, k K, fn func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[K]*flightCall[V])
	}
	c, ok := g.m[k]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &flightCall[V]{done: make(chan struct{}), cancel: cancel}
		g.m[k] = c
		go func() {
			defer cancel()
			v, err := fn(fctx)
			g.mu.Lock()
			c.val, c.err = v, err
			if g.m[k] == c {
				delete(g.m, k)
			}
			g.mu.Unlock()
			close(c.done)
		}()
	}
	c.waiters++
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			if g.m[k] == c {
				delete(g.m, k) // a later caller starts afresh
			}
		}
		g.mu.Unlock()
		var zero V
		return zero, ctx.Err()
	}
}
