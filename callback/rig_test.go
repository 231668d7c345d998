package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// rig is a real *mediaserver.Server on loopback whose Handler is this
// package's webhook Handler posting to a fake application, with the REST
// API served on httptest and a client that validates every exchange
// against the OpenAPI document.
type rig struct {
	t      *testing.T
	spec   *spec
	app    *fakeApp
	h      *Handler
	srv    *mediaserver.Server
	api    *API
	http   *httptest.Server
	client *http.Client
	logs   *syncBuffer
	auth   string // Authorization header of do
}

type rigOptions struct {
	api     func(*APIConfig)
	handler func(*Config)
	server  func(*mediaserver.Config)
}

func newRig(t *testing.T, answer answerFunc, opts rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, spec: loadSpec(t), logs: &syncBuffer{}}
	r.app = newFakeApp(t, r.spec, answer)
	r.app.strict = true
	r.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.api.ServeHTTP(w, req) }))
	t.Cleanup(r.http.Close)
	r.client = r.spec.client(t)
	r.h = newTestHandler(t, r.app.URL(), func(c *Config) {
		c.DecisionTimeout = 2 * time.Second
		if opts.handler != nil {
			opts.handler(c)
		}
	})
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(r.logs, testLogWriter()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := mediaserver.Config{
		Handler:         r.h,
		SIPAddr:         "127.0.0.1:0",
		RTPPortMin:      47000,
		RTPPortMax:      47499,
		Logger:          logger,
		DecisionTimeout: 3 * time.Second,
		DataDir:         t.TempDir(),
		Domain:          "tenant.example.com",
		APIBaseURL:      r.http.URL,
		DisablePolly:    true,
	}
	if opts.server != nil {
		opts.server(&cfg)
	}
	srv, err := mediaserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, mediaserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	acfg := APIConfig{Server: srv, Logger: logger, Domain: "tenant.example.com"}
	if opts.api != nil {
		opts.api(&acfg)
	}
	if r.api, err = NewAPI(acfg); err != nil {
		t.Fatal(err)
	}
	return r
}

// testLogWriter shows the server's log with MEDIASERVER_TEST_LOG set.
func testLogWriter() io.Writer {
	if os.Getenv("MEDIASERVER_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// reply is an answer of the REST API.
type reply struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// docValid reports whether the request matched the OpenAPI document.
func (r reply) docValid() bool { return r.header.Get(headerRequestInvalid) == "" }

func (r reply) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

// do sends a request to the API through the validating client. body is a
// string sent as JSON, []byte sent raw, or nil.
func (r *rig) do(method, path string, body any, header ...string) reply {
	r.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "audio/wav"
	case nil:
	default:
		js, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequestWithContext(r.t.Context(), method, r.http.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	out := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.json); err != nil {
			r.t.Errorf("%s %s: answer is not JSON: %s", method, path, raw)
		}
	}
	if resp.Header.Get("Access-Control-Allow-Origin") == "" {
		r.t.Errorf("%s %s: answer %d without Access-Control-Allow-Origin", method, path, resp.StatusCode)
	}
	return out
}

// must sends a request that must succeed with 200 {"success":true}.
func (r *rig) must(method, path string, body any) reply {
	r.t.Helper()
	rep := r.do(method, path, body)
	if rep.status != http.StatusOK || rep.json["success"] != true {
		r.t.Fatalf("%s %s: %d %s", method, path, rep.status, rep.raw)
	}
	if !rep.docValid() {
		r.t.Errorf("%s %s: request does not match the document: %s", method, path, rep.header.Get(headerRequestInvalid))
	}
	return rep
}

func (r *rig) phone(user string, hz float64) *mediaservertest.Phone {
	r.t.Helper()
	return mediaservertest.NewPhone(r.t, mediaservertest.PhoneConfig{User: user, ToneHz: hz, Logger: slog.New(slog.NewTextHandler(testLogWriter(), nil))})
}

func (r *rig) uri(user string) string { return fmt.Sprintf("sip:%s@%s", user, r.srv.SIPAddr()) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// toneWAV is a WAV of a sine tone at 8 kHz.
func toneWAV(freq float64, d time.Duration) []byte {
	pcm := make([]int16, int(d.Seconds()*8000))
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return mediaservertest.EncodeWAV(pcm)
}

// script answers callbacks by name with JSON built by a function of the
// callback's body.
type script map[string]func(body map[string]any) string

func (s script) answer(_ *http.Request, name string, body []byte) (int, string) {
	f := s[name]
	if f == nil {
		return 200, `{}`
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return 200, f(m)
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// inOrder checks that want occur in got in this order (others may be
// between them).
func inOrder(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("callbacks %v\n do not contain in order %v", got, want)
	}
}
