package ivr

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mediaserver-go/mediaserver/media"
)

// tone returns n samples of a sine of freq Hz at 8 kHz.
func tone(freq float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return out
}

// wavBytes encodes 16-bit mono PCM at rate Hz as a WAV file.
func wavBytes(pcm []int16, rate int) []byte {
	le := binary.LittleEndian
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(2*rate))
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(2*len(pcm)))
	for _, s := range pcm {
		b = le.AppendUint16(b, uint16(s))
	}
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// countingSynth synthesizes a tone whose length depends on the text and
// counts its calls.
type countingSynth struct {
	calls atomic.Int32
}

func (s *countingSynth) Synthesize(_ context.Context, req TTSRequest) (*media.Prompt, error) {
	s.calls.Add(1)
	return media.NewPrompt(tone(440, media.FrameSamples*len(req.Text))), nil
}

func TestTTSCacheKeys(t *testing.T) {
	s := &countingSynth{}
	c := NewTTSCache(s, TTSCacheConfig{})
	ctx := t.Context()
	base := TTSRequest{Text: "hello", Voice: "Joanna", Language: "en-US"}
	p1, err := c.Synthesize(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := c.Synthesize(ctx, base)
	if p1 != p2 || s.calls.Load() != 1 {
		t.Fatalf("second identical request synthesized again (%d calls)", s.calls.Load())
	}
	// "text" and "" are the same text type.
	withType := base
	withType.TextType = "TEXT"
	if _, _ = c.Synthesize(ctx, withType); s.calls.Load() != 1 {
		t.Error(`TextType "TEXT" and "" cached apart`)
	}
	for _, r := range []TTSRequest{
		{Text: "hello!", Voice: "Joanna", Language: "en-US"},
		{Text: "hello", Voice: "Kendra", Language: "en-US"},
		{Text: "hello", Voice: "Joanna", Language: "en-GB"},
		{Text: "hello", Voice: "Joanna", Language: "en-US", TextType: "ssml"},
		{Text: "hello", Voice: "Joanna", Language: "en-US", Engine: "neural"},
	} {
		before := s.calls.Load()
		if _, err := c.Synthesize(ctx, r); err != nil || s.calls.Load() != before+1 {
			t.Errorf("%+v: served from another request's cache entry", r)
		}
	}
	if c.Len() != 6 {
		t.Errorf("%d entries, want 6", c.Len())
	}
}

func TestTTSCacheBounds(t *testing.T) {
	s := &countingSynth{}
	c := NewTTSCache(s, TTSCacheConfig{MaxEntries: 2})
	ctx := t.Context()
	for _, text := range []string{"a", "b", "c", "a"} {
		if _, err := c.Synthesize(ctx, TTSRequest{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if s.calls.Load() != 4 || c.Len() != 2 {
		t.Errorf("%d calls, %d entries: want a evicted by c", s.calls.Load(), c.Len())
	}
	// A byte bound: each prompt of text "xx" is 2 frames = 1280 bytes.
	c = NewTTSCache(s, TTSCacheConfig{MaxBytes: 3000})
	for _, text := range []string{"xx", "yy", "zz"} {
		_, _ = c.Synthesize(ctx, TTSRequest{Text: text})
	}
	if c.Len() != 2 {
		t.Errorf("%d entries under a 3000-byte bound, want 2", c.Len())
	}
	// A prompt larger than the bound is returned but not kept.
	p, err := c.Synthesize(ctx, TTSRequest{Text: "a long text that does not fit"})
	if err != nil || p == nil || c.Len() != 2 {
		t.Errorf("oversized prompt: %v, %d entries", err, c.Len())
	}
}

func TestTTSCacheErrorsNotCached(t *testing.T) {
	var calls atomic.Int32
	boom := errors.New("engine down")
	c := NewTTSCache(SynthesizerFunc(func(context.Context, TTSRequest) (*media.Prompt, error) {
		calls.Add(1)
		return nil, boom
	}), TTSCacheConfig{})
	for range 2 {
		if _, err := c.Synthesize(t.Context(), TTSRequest{Text: "x"}); !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls: an error was cached", calls.Load())
	}
}

func TestTTSCacheSingleflight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var calls atomic.Int32
	c := NewTTSCache(SynthesizerFunc(func(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
		calls.Add(1)
		started <- struct{}{}
		<-release
		return media.NewPrompt(tone(300, 800)), nil
	}), TTSCacheConfig{})
	const n = 8
	var wg sync.WaitGroup
	results := make([]*media.Prompt, n)
	for i := range n {
		wg.Go(func() {
			p, err := c.Synthesize(t.Context(), TTSRequest{Text: "same"})
			if err != nil {
				t.Error(err)
			}
			results[i] = p
		})
	}
	<-started
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d syntheses for %d identical concurrent requests", calls.Load(), n)
	}
	for _, p := range results {
		if p != results[0] {
			t.Fatal("callers got different prompts")
		}
	}
}

func TestTTSCacheCancelledWaiters(t *testing.T) {
	// When every caller has gone, the shared synthesis is cancelled, and
	// a later caller starts a new one instead of joining a dead flight.
	synthCtx := make(chan context.Context, 2)
	c := NewTTSCache(SynthesizerFunc(func(ctx context.Context, req TTSRequest) (*media.Prompt, error) {
		synthCtx <- ctx
		<-ctx.Done()
		return nil, ctx.Err()
	}), TTSCacheConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() {
		_, err := c.Synthesize(ctx, TTSRequest{Text: "slow"})
		errc <- err
	}()
	sctx := <-synthCtx
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	<-sctx.Done() // the synthesis was told to stop

	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() {
		_, err := c.Synthesize(ctx2, TTSRequest{Text: "slow"})
		errc <- err
	}()
	sctx2 := <-synthCtx
	if sctx2 == sctx {
		t.Fatal("joined the cancelled flight")
	}
	cancel2()
	<-errc
	<-sctx2.Done()
}
