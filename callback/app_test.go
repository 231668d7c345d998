package callback

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"testing"
	"time"
)

// testKeys are RSA keys generated once for the package's tests.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		k[i] = key
	}
	return k
})

// hook is one callback the fake application received.
type hook struct {
	name      string // "newCall"
	body      []byte
	header    http.Header
	claims    Claims
	verifyErr error
	schemaErr error
	at        time.Time
}

func (h hook) fields(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(h.body, &m); err != nil {
		t.Fatalf("%s body %s: %v", h.name, h.body, err)
	}
	return m
}

// answerFunc decides the fake application's answer: status and body.
type answerFunc func(r *http.Request, name string, body []byte) (int, string)

// fakeApp is a webhook application on httptest: it records every
// callback, verifies its signature and validates its body against the
// OpenAPI document, and answers with what the test set.
type fakeApp struct {
	t      testing.TB
	spec   *spec
	srv    *httptest.Server
	verify VerifyOptions
	strict bool // check answers with status 200 against the document

	mu     sync.Mutex // guards hooks, answer, waiters
	hooks  []hook
	answer answerFunc
	notify chan struct{}
}

func newFakeApp(t testing.TB, s *spec, answer answerFunc) *fakeApp {
	t.Helper()
	a := &fakeApp{t: t, spec: s, answer: answer, notify: make(chan struct{}, 1),
		verify: VerifyOptions{PublicKey: &testKeys()[0].PublicKey}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeApp) URL() string { return a.srv.URL }

func (a *fakeApp) setAnswer(f answerFunc) {
	a.mu.Lock()
	a.answer = f
	a.mu.Unlock()
}

func (a *fakeApp) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h := hook{name: path.Base(r.URL.Path), body: body, header: r.Header.Clone(), at: time.Now()}
	h.claims, h.verifyErr = Verify(r, body, a.verify)
	h.schemaErr = a.spec.checkCallback(h.name, body)
	a.mu.Lock()
	a.hooks = append(a.hooks, h)
	answer := a.answer
	a.mu.Unlock()
	select {
	case a.notify <- struct{}{}:
	default:
	}
	status, resp := http.StatusOK, "{}"
	if answer != nil {
		status, resp = answer(r, h.name, body)
	}
	if status == 0 {
		return // the answer func already wrote
	}
	if a.strict && status == http.StatusOK {
		if err := a.spec.checkAnswer(h.name, []byte(resp)); err != nil {
			a.t.Errorf("the test app's answer to %s does not match the document: %s: %v", h.name, resp, err)
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp)
}

// Hooks returns the callbacks received so far.
func (a *fakeApp) Hooks() []hook {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]hook(nil), a.hooks...)
}

// Names returns the names of the callbacks received, with the event for
// callNotify and callEvent ("callEvent:callingPartyDrop").
func (a *fakeApp) Names() []string {
	var out []string
	for _, h := range a.Hooks() {
		n := h.name
		if h.name == "callEvent" || h.name == "callNotify" {
			var m struct{ Event string }
			_ = json.Unmarshal(h.body, &m)
			n += ":" + m.Event
		}
		out = append(out, n)
	}
	return out
}

// wait returns the n-th (0-based) callback named name (or name:event),
// waiting for it.
func (a *fakeApp) wait(ctx context.Context, name string, n int) hook {
	a.t.Helper()
	for {
		hooks, names := a.Hooks(), a.Names()
		seen := 0
		for i, h := range hooks {
			if names[i] == name || h.name == name {
				if seen == n {
					return h
				}
				seen++
			}
		}
		select {
		case <-a.notify:
		case <-ctx.Done():
			a.t.Fatalf("no %s #%d; callbacks %v", name, n+1, names)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkHooks fails the test for any callback whose signature did not
// verify or whose body does not match the document.
func (a *fakeApp) checkHooks() {
	a.t.Helper()
	for _, h := range a.Hooks() {
		if h.verifyErr != nil {
			a.t.Errorf("%s: signature: %v", h.name, h.verifyErr)
		}
		if h.schemaErr != nil {
			a.t.Errorf("%s: body %s does not match the document: %v", h.name, h.body, h.schemaErr)
		}
	}
}
