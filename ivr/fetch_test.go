package ivr

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// fakeClock is a settable time for freshness tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// audioServer serves one WAV with an ETag and a Last-Modified date and
// counts full answers and 304s.
type audioServer struct {
	*httptest.Server
	mu        sync.Mutex
	body      []byte
	etag      string
	modified  time.Time
	status    int // forced status when not 0
	full, not atomic.Int32
}

func newAudioServer(t *testing.T) *audioServer {
	t.Helper()
	s := &audioServer{body: wavBytes(tone(1000, 1600), 8000), etag: `"v1"`, modified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, etag, mod, status := s.body, s.etag, s.modified, s.status
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", mod.Format(http.TimeFormat))
		if r.Header.Get("If-None-Match") == etag {
			s.not.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.full.Add(1)
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *audioServer) set(body []byte, etag string, status int) {
	s.mu.Lock()
	s.body, s.etag, s.status = body, etag, status
	s.mu.Unlock()
}

func newTestFetcher(t *testing.T, cfg FetchConfig) (*Fetcher, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg.now = clk.now
	if cfg.Client == nil {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		cfg.Client = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	return NewFetcher(cfg), clk
}

func TestFetchRevalidation(t *testing.T) {
	srv := newAudioServer(t)
	f, clk := newTestFetcher(t, FetchConfig{Freshness: 10 * time.Second})
	ctx := t.Context()
	p1, err := f.Fetch(ctx, srv.URL+"/a.wav")
	if err != nil {
		t.Fatal(err)
	}
	if p1.Frames() != 10 || media.ToneShare(p1.Samples(), 1000) < 0.95 {
		t.Fatalf("%d frames, want the 200 ms tone", p1.Frames())
	}
	// Fresh: no request at all.
	p2, _ := f.Fetch(ctx, srv.URL+"/a.wav")
	if p2 != p1 || srv.full.Load() != 1 || srv.not.Load() != 0 {
		t.Fatalf("fresh fetch asked the server (%d full, %d 304)", srv.full.Load(), srv.not.Load())
	}
	// Stale: revalidated, 304 keeps the decoded prompt.
	clk.advance(11 * time.Second)
	p3, err := f.Fetch(ctx, srv.URL+"/a.wav")
	if err != nil || p3 != p1 || srv.full.Load() != 1 || srv.not.Load() != 1 {
		t.Fatalf("revalidation: %v, same %v, %d full, %d 304", err, p3 == p1, srv.full.Load(), srv.not.Load())
	}
	// Fresh again after the 304.
	_, _ = f.Fetch(ctx, srv.URL+"/a.wav")
	if srv.not.Load() != 1 {
		t.Error("a 304 did not renew freshness")
	}
	// Changed on the server: the new audio is fetched and decoded.
	srv.set(wavBytes(tone(500, 800), 8000), `"v2"`, 0)
	clk.advance(11 * time.Second)
	p4, err := f.Fetch(ctx, srv.URL+"/a.wav")
	if err != nil || p4 == p1 || p4.Frames() != 5 || srv.full.Load() != 2 {
		t.Fatalf("changed file: %v, %d frames, %d full", err, p4.Frames(), srv.full.Load())
	}
}

func TestFetchLastModifiedOnly(t *testing.T) {
	var sawIMS atomic.Value
	mod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Format(http.TimeFormat)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ims := r.Header.Get("If-Modified-Since"); ims != "" {
			sawIMS.Store(ims)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Last-Modified", mod)
		_, _ = w.Write(wavBytes(tone(700, 800), 8000))
	}))
	t.Cleanup(srv.Close)
	f, _ := newTestFetcher(t, FetchConfig{Freshness: -1})
	p1, err := f.Fetch(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.Fetch(t.Context(), srv.URL)
	if err != nil || p2 != p1 || sawIMS.Load() != mod {
		t.Errorf("If-Modified-Since %v, same prompt %v (%v)", sawIMS.Load(), p2 == p1, err)
	}
}

func TestFetchErrors(t *testing.T) {
	mp3, err := os.ReadFile("../media/testdata/prompts/tone440-16k-mono-id3.mp3")
	if err != nil {
		t.Fatal(err)
	}
	big := wavBytes(make([]int16, 3000), 8000)
	mux := http.NewServeMux()
	mux.HandleFunc("/missing.wav", http.NotFound)
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html><body>login</body></html>"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		_, _ = w.Write([]byte(`{"error":"x"}`))
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("\x00\x01\x02 definitely not audio"))
	})
	mux.HandleFunc("/badwav", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("RIFF\x00\x00\x00\x00WAVEjunk"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(big) // with Content-Length
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 1000 {
			_, _ = w.Write(big[i:min(i+1000, len(big))])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/song.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(mp3)))
		_, _ = w.Write(mp3)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f, _ := newTestFetcher(t, FetchConfig{MaxBytes: 5000})
	tests := []struct {
		path string
		want error
	}{
		{"/missing.wav", ErrHTTPStatus},
		{"/html", ErrNotAudio},
		{"/json", ErrNotAudio},
		{"/garbage", ErrNotAudio},
		{"/badwav", media.ErrBadAudio},
		{"/big", ErrTooLarge},
		{"/big-chunked", ErrTooLarge},
	}
	for _, tt := range tests {
		_, err := f.Fetch(t.Context(), srv.URL+tt.path)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.path, err, tt.want)
		}
	}
	var he *HTTPError
	if _, err := f.Fetch(t.Context(), srv.URL+"/missing.wav"); !errors.As(err, &he) || he.StatusCode != 404 {
		t.Errorf("404: %v", err)
	}
	p, err := f.Fetch(t.Context(), srv.URL+"/song.mp3")
	if err != nil || media.ToneShare(p.Samples()[1000:3000], 440) < 0.9 {
		t.Errorf("mp3: %v", err)
	}
	for _, u := range []string{"", "ftp://x/y.wav", "file:///etc/passwd", "http://", "::"} {
		if _, err := f.Fetch(t.Context(), u); !errors.Is(err, ErrBadPhrase) {
			t.Errorf("%q: err %v, want ErrBadPhrase", u, err)
		}
	}
}

func TestFetchRedactsPassword(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	f, _ := newTestFetcher(t, FetchConfig{})
	u := "http://user:s3cret@" + srv.Listener.Addr().String() + "/x.wav"
	_, err := f.Fetch(t.Context(), u)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v shows the password", err)
	}
}

func TestFetchTimeout(t *testing.T) {
	// The server answers only when the client has given up.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	f, _ := newTestFetcher(t, FetchConfig{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := f.Fetch(t.Context(), srv.URL)
	if err == nil {
		t.Fatal("a hanging server did not time out")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %v", d)
	}
}

func TestFetchServesStaleOnServerError(t *testing.T) {
	srv := newAudioServer(t)
	f, clk := newTestFetcher(t, FetchConfig{Freshness: time.Second})
	p1, err := f.Fetch(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv.set(nil, "", http.StatusServiceUnavailable)
	clk.advance(2 * time.Second)
	p2, err := f.Fetch(t.Context(), srv.URL)
	if err != nil || p2 != p1 {
		t.Errorf("stale not served on 503: %v", err)
	}
	// Not cached at all: the 503 is an error.
	if _, err := f.Fetch(t.Context(), srv.URL+"/other"); !errors.Is(err, ErrHTTPStatus) {
		t.Errorf("uncached 503: %v", err)
	}
}

func TestFetchSingleflight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		_, _ = w.Write(wavBytes(tone(900, 800), 8000))
	}))
	t.Cleanup(srv.Close)
	f, _ := newTestFetcher(t, FetchConfig{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := f.Fetch(t.Context(), srv.URL); err != nil {
				t.Error(err)
			}
		})
	}
	<-arrived // callers that come after the download find it cached
	close(release)
	wg.Wait()
	if hits.Load() != 1 {
		t.Errorf("%d downloads for 6 concurrent fetches", hits.Load())
	}
}
