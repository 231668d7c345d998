package ivr

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/mediaserver-go/mediaserver/media"
)

// TTSRequest is text to speak, with the parameters of an awstts phrase
// (API.md §5.3 awsTTSParameters) in engine-neutral names.
type TTSRequest struct {
	// Text is what to say: plain text, or SSML when TextType is "ssml".
	Text string
	// TextType is "text" (the default when empty) or "ssml".
	TextType string
	// Voice is a voice name: a Polly VoiceId such as "Joanna"; the local
	// engine maps well-known Polly voices to a language and gender.
	Voice string
	// Language is a BCP 47 language code such as "en-US" or "sv-SE".
	Language string
	// Engine is Polly's engine ("standard", "neural", ...); the local
	// engine ignores it.
	Engine string
}

// isSSML reports whether the request's text is SSML.
func (r TTSRequest) isSSML() bool { return strings.EqualFold(r.TextType, "ssml") }

// Synthesizer turns text into audio. Synthesize returns the speech as a
// media.Prompt: 8 kHz mono, pre-encoded, ready to play and to cache. It
// may block on a process or the network until ctx ends. Implementations
// are safe for concurrent use. Errors wrap ErrEngineMissing when the
// engine cannot run at all, ErrBadPhrase for empty text, and ErrTooLarge
// for text or audio over the engine's limits.
type Synthesizer interface {
	Synthesize(ctx context.Context, req TTSRequest) (*media.Prompt, error)
}

// SynthesizerFunc adapts a function to Synthesizer.
type SynthesizerFunc func(ctx context.Context, req TTSRequest) (*media.Prompt, error)

// Synthesize calls f(ctx, req).
func (f SynthesizerFunc) Synthesize(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
	return f(ctx, req)
}

// TTSCacheConfig bounds a TTSCache. The zero value is ready to use.
type TTSCacheConfig struct {
	// Name names the engine in the cache key, so that caches of two
	// engines never mix. Default "tts".
	Name string
	// MaxEntries bounds the number of cached prompts. Default 512.
	MaxEntries int
	// MaxBytes bounds the memory of cached prompts (media.Prompt.Size).
	// Default 32 MiB (about 17 minutes of speech).
	MaxBytes int64
}

// ttsKey identifies one synthesis.
type ttsKey struct {
	engine, text, textType, voice, language, pollyEngine string
}

// TTSCache is a Synthesizer that remembers what another one said: results
// are kept in a least-recently-used cache keyed by (engine name, text,
// text type, voice, language, engine), and concurrent identical requests
// share one synthesis. A shared synthesis runs until it finishes or every
// caller waiting for it has gone (their contexts ended). Errors are not
// cached. A TTSCache is safe for concurrent use.
type TTSCache struct {
	s       Synthesizer
	name    string
	cache   *lru[ttsKey, *media.Prompt]
	flights flightGroup[ttsKey, *media.Prompt]
	hits    atomic.Uint64
	misses  atomic.Uint64
}

// NewTTSCache returns a cache in front of s.
func NewTTSCache(s Synthesizer, cfg TTSCacheConfig) *TTSCache {
	if cfg.Name == "" {
		cfg.Name = "tts"
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 512
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 32 << 20
	}
	return &TTSCache{s: s, name: cfg.Name, cache: newLRU[ttsKey, *media.Prompt](cfg.MaxEntries, cfg.MaxBytes)}
}

// Synthesize returns the cached prompt for req, or synthesizes, caches and
// returns it.
func (c *TTSCache) Synthesize(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
	textType := "text"
	if req.isSSML() {
		textType = "ssml"
	}
	k := ttsKey{c.name, req.Text, textType, req.Voice, req.Language, req.Engine}
	if p, ok := c.cache.get(k); ok {
		c.hits.Add(1)
		return p, nil
	}
	c.misses.Add(1)
	return c.flights.do(ctx, k, func(ctx context.Context) (*media.Prompt, error) {
		p, err := c.s.Synthesize(ctx, req)
		if err != nil {
			return nil, err
		}
		c.cache.add(k, p, p.Size())
		return p, nil
	})
}

// Counts returns how many requests the cache answered (hits) and passed
// on to its engine (misses).
func (c *TTSCache) Counts() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Len returns the number of cached prompts.
func (c *TTSCache) Len() int { return c.cache.len() }
