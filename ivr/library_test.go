package ivr

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

var _ Loader = (*Library)(nil)

func newTestLibrary(t *testing.T, cfg LibraryConfig) (*Library, *Store) {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = newTestStore(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
	return NewLibrary(cfg), cfg.Store
}

func putFile(t *testing.T, s *Store, name string, data []byte) {
	t.Helper()
	if _, err := s.Put(t.Context(), name, bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
}

func TestLibraryFile(t *testing.T) {
	lib, s := newTestLibrary(t, LibraryConfig{})
	ctx := t.Context()
	putFile(t, s, "landsa.wav", wavBytes(tone(600, 1600), 8000))
	mp3, err := os.ReadFile("../media/testdata/prompts/tone1k-44k-stereo.mp3")
	if err != nil {
		t.Fatal(err)
	}
	putFile(t, s, "holdmusic.mp3", mp3)
	putFile(t, s, "noext", wavBytes(tone(300, 800), 16000)) // content decides

	p, err := lib.Load(ctx, Phrase{Format: "file", FileName: "landsa"}) // falls back to .wav
	if err != nil || p.Frames() != 10 || media.ToneShare(p.Samples(), 600) < 0.95 {
		t.Fatalf("landsa: %v", err)
	}
	again, _ := lib.Load(ctx, Phrase{Format: "file", FileName: "landsa.wav"})
	if again != p {
		t.Error("the same file decoded twice")
	}
	m, err := lib.Load(ctx, Phrase{Format: "file", FileName: "holdmusic.mp3"})
	if err != nil || m.Duration() < time.Second || media.ToneShare(m.Samples()[2000:6000], 1000) < 0.95 {
		t.Fatalf("holdmusic.mp3: %v", err)
	}
	if p, err := lib.Load(ctx, Phrase{Format: "file", FileName: "noext"}); err != nil || p.Frames() != 3 {
		t.Errorf("noext: %v", err)
	}
}

func TestLibraryFileReplaced(t *testing.T) {
	lib, s := newTestLibrary(t, LibraryConfig{})
	ctx := t.Context()
	putFile(t, s, "menu.wav", wavBytes(tone(600, 800), 8000))
	p1, err := lib.Load(ctx, Phrase{Format: "file", FileName: "menu"})
	if err != nil {
		t.Fatal(err)
	}
	putFile(t, s, "menu.wav", wavBytes(tone(900, 1600), 8000))
	p2, err := lib.Load(ctx, Phrase{Format: "file", FileName: "menu"})
	if err != nil || p2 == p1 || p2.Frames() != 10 {
		t.Fatalf("replaced file not reloaded: %v", err)
	}
	// Same size, new modification time: reloaded too.
	path := filepath.Join(s.Dir(), "menu.wav")
	if err := os.WriteFile(path, wavBytes(tone(1200, 1600), 8000), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	p3, _ := lib.Load(ctx, Phrase{Format: "file", FileName: "menu"})
	if p3 == p2 || media.ToneShare(p3.Samples(), 1200) < 0.95 {
		t.Error("file of the same size with a new mtime not reloaded")
	}
	// A file that now resolves differently ("menu" itself) wins.
	putFile(t, s, "menu", wavBytes(tone(400, 400), 8000))
	if p4, _ := lib.Load(ctx, Phrase{Format: "file", FileName: "menu"}); p4.Frames() != 3 {
		t.Error("the exact name did not win after it appeared")
	}
}

func TestLibraryErrors(t *testing.T) {
	lib, s := newTestLibrary(t, LibraryConfig{MaxFileSize: 1000})
	ctx := t.Context()
	putFile(t, s, "big.wav", wavBytes(make([]int16, 1000), 8000))
	putFile(t, s, "text.wav", []byte("this is not audio"))
	tests := []struct {
		p    Phrase
		want error
	}{
		{Phrase{Format: "file", FileName: "missing"}, ErrNotFound},
		{Phrase{Format: "file", FileName: "../../etc/passwd"}, ErrBadName},
		{Phrase{Format: "file", FileName: ""}, ErrBadName},
		{Phrase{Format: "file", FileName: "big"}, ErrTooLarge},
		{Phrase{Format: "file", FileName: "text"}, media.ErrBadAudio},
		{Phrase{Format: "url"}, ErrBadPhrase},
		{Phrase{Format: "url", URL: "gopher://x"}, ErrBadPhrase},
		{Phrase{Format: "awstts"}, ErrBadPhrase},
		{Phrase{Format: "awstts", TTS: &TTSRequest{Text: " "}}, ErrBadPhrase},
		{Phrase{Format: "awstts", TTS: &TTSRequest{Text: "hello"}}, ErrEngineMissing},
		{Phrase{Format: "googletts"}, ErrUnsupportedFormat},
		{Phrase{Format: ""}, ErrUnsupportedFormat},
		{Phrase{Format: "echo"}, ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		_, err := lib.Load(ctx, tt.p)
		if !errors.Is(err, tt.want) {
			t.Errorf("%+v: err %v, want %v", tt.p, err, tt.want)
		}
	}
	noStore := NewLibrary(LibraryConfig{})
	if _, err := noStore.Load(ctx, Phrase{Format: "file", FileName: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no store: %v", err)
	}
}

func TestLibraryURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(wavBytes(tone(800, 800), 22050))
	}))
	t.Cleanup(srv.Close)
	lib, _ := newTestLibrary(t, LibraryConfig{})
	p, err := lib.Load(t.Context(), Phrase{Format: "URL", URL: srv.URL + "/x.wav"})
	if err != nil || p.Frames() != 2 {
		t.Fatalf("url phrase: %v", err)
	}
}

func TestLibraryTTS(t *testing.T) {
	var localCalls, pollyCalls atomic.Int32
	local := SynthesizerFunc(func(_ context.Context, r TTSRequest) (*media.Prompt, error) {
		localCalls.Add(1)
		return media.NewPrompt(tone(300, 800)), nil
	})
	pollyDown := true
	var mu sync.Mutex
	polly := SynthesizerFunc(func(_ context.Context, r TTSRequest) (*media.Prompt, error) {
		pollyCalls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if pollyDown {
			return nil, errors.New("polly: throttled")
		}
		return media.NewPrompt(tone(500, 1600)), nil
	})
	ctx := t.Context()
	ph := Phrase{Format: "awstts", TTS: &TTSRequest{Text: "Welcome", Voice: "Kendra", Language: "en-US"}}

	onlyLocal, _ := newTestLibrary(t, LibraryConfig{Local: local})
	for range 2 {
		if p, err := onlyLocal.Load(ctx, ph); err != nil || p.Frames() != 5 {
			t.Fatalf("local: %v", err)
		}
	}
	if localCalls.Load() != 1 {
		t.Errorf("local engine called %d times for one text", localCalls.Load())
	}

	both, _ := newTestLibrary(t, LibraryConfig{Local: local, Polly: polly})
	if p, err := both.Load(ctx, ph); err != nil || p.Frames() != 5 || pollyCalls.Load() != 1 {
		t.Fatalf("polly down: %v, %d polly calls: want the local engine's speech", err, pollyCalls.Load())
	}
	mu.Lock()
	pollyDown = false
	mu.Unlock()
	if p, err := both.Load(ctx, ph); err != nil || p.Frames() != 10 {
		t.Fatalf("polly up: %v", err)
	}
	onlyPolly, _ := newTestLibrary(t, LibraryConfig{Polly: polly})
	if p, err := onlyPolly.Load(ctx, ph); err != nil || p.Frames() != 10 {
		t.Fatalf("polly only: %v", err)
	}
}

func TestLibraryEspeakEndToEnd(t *testing.T) {
	e, err := NewEspeak(EspeakConfig{})
	if errors.Is(err, ErrEngineMissing) {
		t.Skip("espeak-ng is not installed")
	}
	lib, _ := newTestLibrary(t, LibraryConfig{Local: e})
	p, err := lib.Load(t.Context(), Phrase{Format: "awstts", TTS: &TTSRequest{Text: "Press one", Voice: "Joanna"}})
	if err != nil || p.Duration() < 300*time.Millisecond {
		t.Fatalf("espeak phrase: %v", err)
	}
}

func TestLibraryConcurrentLoads(t *testing.T) {
	lib, s := newTestLibrary(t, LibraryConfig{})
	putFile(t, s, "a.wav", wavBytes(tone(600, 8000), 44100))
	var wg sync.WaitGroup
	prompts := make([]*media.Prompt, 8)
	for i := range prompts {
		wg.Go(func() {
			p, err := lib.Load(t.Context(), Phrase{Format: "file", FileName: "a"})
			if err != nil {
				t.Error(err)
			}
			prompts[i] = p
		})
	}
	wg.Wait()
	for _, p := range prompts[1:] {
		if p != prompts[0] {
			t.Fatal("concurrent loads decoded the file more than once")
		}
	}
}
