package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/internal/flows"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// startWebhookApp runs examples/webhookapp as a process, verifying
// callbacks with testSecret, and returns its URL.
func startWebhookApp(t *testing.T, dir, sales, support string) (*proc, string) {
	t.Helper()
	p := startProc(t, "webhookapp", dir, binary(t, "webhookapp"),
		"-listen", "127.0.0.1:0", "-secret", testSecret, "-sales", sales, "-support", support)
	re := regexp.MustCompile(`listening url=(http://\S+)`)
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return p, m[1]
		}
		select {
		case <-tick.C:
		case <-p.done:
		case <-deadline.C:
			t.Fatalf("webhookapp did not say where it listens:\n%s", p.output())
		}
		if p.exited() && re.FindStringSubmatch(p.output()) == nil {
			t.Fatalf("webhookapp exited (%v) before listening:\n%s", p.err, p.output())
		}
	}
}

// tap is a reverse proxy between the server and a webhook application in
// another process: it records each callback's name, checks the exchange
// against the OpenAPI document (and the signature), and passes it on
// unchanged.
type tap struct {
	srv       *httptest.Server
	mu        sync.Mutex // guards names, bySession
	names     []string
	bySession map[string][]string
	notify    chan struct{}
}

func newTap(t *testing.T, target string, apiBase *atomic.Value) *tap {
	t.Helper()
	tp := &tap{notify: make(chan struct{}, 1), bySession: map[string][]string{}}
	in := &inspector{t: t, spec: theSpec(t), apiBase: func() string { s, _ := apiBase.Load().(string); return s }}
	tp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Errorf("tap: %v", err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		ex := flows.Exchange{Name: path.Base(r.URL.Path), Header: r.Header, Body: body, Status: resp.StatusCode, Answer: answer}
		in.check(ex)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the webhook application answered %s with %d %s", ex.Name, resp.StatusCode, answer)
		}
		tp.add(ex.Name, body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(tp.srv.Close)
	return tp
}

func (tp *tap) add(name string, body []byte) {
	var m struct{ Event, SessionID string }
	_ = json.Unmarshal(body, &m)
	if name == "callEvent" || name == "callNotify" {
		name += ":" + m.Event
	}
	tp.mu.Lock()
	tp.names = append(tp.names, name)
	tp.bySession[m.SessionID] = append(tp.bySession[m.SessionID], name)
	tp.mu.Unlock()
	select {
	case tp.notify <- struct{}{}:
	default:
	}
}

func (tp *tap) Names() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.names)
}

// Sessions returns the callbacks' names per session.
func (tp *tap) Sessions() map[string][]string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make(map[string][]string, len(tp.bySession))
	for k, v := range tp.bySession {
		out[k] = slices.Clone(v)
	}
	return out
}

// wait waits for a callback called name (full name or prefix before ":").
func (tp *tap) wait(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	tp.waitN(ctx, t, name, 0)
}

// waitN waits for the n-th (0-based) callback called name.
func (tp *tap) waitN(ctx context.Context, t *testing.T, name string, n int) {
	t.Helper()
	for {
		seen := 0
		for _, got := range tp.Names() {
			if got == name || strings.HasPrefix(got, name+":") {
				if seen == n {
					return
				}
				seen++
			}
		}
		select {
		case <-tp.notify:
		case <-ctx.Done():
			t.Fatalf("no %s callback #%d; callbacks %v", name, n+1, tp.Names())
		}
	}
}

// flowWant returns the callback sequence of a flow of the table.
func flowWant(t *testing.T, name string) []string {
	t.Helper()
	for _, f := range flows.Table() {
		if f.Name == name {
			return f.Want
		}
	}
	t.Fatalf("no flow %q", name)
	return nil
}

// webhookStack is the two programs of the webhook style: cmd/mediaserver
// and examples/webhookapp, with a tap between them.
type webhookStack struct {
	ms  *mediaserverProc
	app *proc
	tap *tap
}

func startWebhookStack(t *testing.T, dir, sales, support string) *webhookStack {
	t.Helper()
	app, url := startWebhookApp(t, dir, sales, support)
	var apiBase atomic.Value
	tp := newTap(t, url, &apiBase)
	ms := startMediaserver(t, dir, tp.srv.URL)
	apiBase.Store(ms.api)
	return &webhookStack{ms: ms, app: app, tap: tp}
}

// TestWebhookApp runs examples/webhookapp and cmd/mediaserver as two
// processes, the way the example's README shows them: a test phone calls,
// hears the spoken greeting, presses 2 and talks to support. The callbacks
// must be the auto-attendant flow's of the shared table, each exchange
// valid against the OpenAPI document; both programs exit 0 on SIGTERM.
func TestWebhookApp(t *testing.T) {
	binary(t, "webhookapp")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), flows.Timeout)
	defer cancel()
	support := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "support", ToneHz: flows.HzB})
	sales := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "sales", ToneHz: flows.HzC})
	alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice", ToneHz: flows.HzA})
	st := startWebhookStack(t, dir, sales.URI(), support.URI())

	call, err := alice.Dial(ctx, "sip:attendant@"+st.ms.sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if espeak() {
		waitSpeech(ctx, t, "alice", call)
	} else {
		t.Log("espeak-ng is not installed: the greeting is silent, not checked")
		st.tap.wait(ctx, t, "getIvrCommand")
	}
	if err := call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	in, err := support.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitHeard(ctx, t, "alice", call, flows.HzB)
	waitHeard(ctx, t, "support", in, flows.HzA)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := in.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Errorf("support's call ended with %v, %v", r, err)
	}
	st.tap.wait(ctx, t, "sessionCompleted")
	if got, want := st.tap.Names(), flowWant(t, "autoattendant"); !slices.Equal(got, want) {
		t.Errorf("callbacks of the webhook application\n got  %v\n want %v (the table's autoattendant)", got, want)
	}
	st.ms.shutdown(t)
	if code := st.app.stop(10 * time.Second); code != 0 {
		t.Errorf("webhookapp exited %d after SIGTERM", code)
	}
}

// TestWebhookAppConcurrent: several callers go through the webhook
// auto-attendant at once (the binary posts their callbacks concurrently,
// one session's in order): each hears the greeting, presses 2 and talks to
// support, and each session's callbacks are the table's auto-attendant
// flow.
func TestWebhookAppConcurrent(t *testing.T) {
	const callers = 6
	binary(t, "webhookapp")
	if !espeak() {
		t.Skip("espeak-ng is not installed: the callers wait for the spoken greeting")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*flows.Timeout)
	defer cancel()
	support := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "support", ToneHz: flows.HzB})
	st := startWebhookStack(t, dir, "sip:sales@127.0.0.1:9", support.URI())
	var wg sync.WaitGroup
	errs := make(chan error, 2*callers) // at most one per goroutine
	release := make(chan struct{})      // callers hang up once support heard them all
	for i := range callers {
		p := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: fmt.Sprintf("caller%d", i), ToneHz: flows.HzA})
		wg.Go(func() { errs <- concurrentCaller(ctx, st.ms.sipAddr, p, release) })
	}
	var heard sync.WaitGroup
	for range callers {
		in, err := support.Incoming(ctx)
		if err != nil {
			close(release)
			wg.Wait()
			t.Fatalf("support: %v; callbacks %v", err, st.tap.Names())
		}
		heard.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := in.WaitHeard(wctx, flows.HzA, 0.5); err != nil {
				errs <- fmt.Errorf("support does not hear %s: %w", in, err)
			}
		})
	}
	heard.Wait()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st.tap.waitN(ctx, t, "sessionCompleted", callers-1)
	want := flowWant(t, "autoattendant")
	sessions := st.tap.Sessions()
	if len(sessions) != callers {
		t.Errorf("%d sessions, want %d", len(sessions), callers)
	}
	for id, got := range sessions {
		if !slices.Equal(got, want) {
			t.Errorf("session %s: callbacks\n got  %v\n want %v", id, got, want)
		}
	}
	st.ms.shutdown(t)
}

// concurrentCaller calls the attendant, waits for the greeting, presses 2,
// waits to hear support, and hangs up once release is closed.
func concurrentCaller(ctx context.Context, sipAddr string, p *mediaservertest.Phone, release <-chan struct{}) error {
	call, err := p.Dial(ctx, "sip:attendant@"+sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		return err
	}
	defer func() {
		<-release
		_ = call.Hangup(ctx)
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if a := call.Heard().Last(time.Second); a.Duration() >= 800*time.Millisecond && a.Level() > -35 {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%s hears no greeting", p)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733); err != nil {
		return err
	}
	if err := call.WaitHeard(wctx, flows.HzB, 0.5); err != nil {
		return fmt.Errorf("%s does not hear support: %w", p, err)
	}
	return nil
}
