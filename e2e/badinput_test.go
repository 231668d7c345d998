package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/internal/flows"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// unruly is a webhook application that misbehaves on purpose, chosen by
// the caller's user: it answers 500, too late, garbage or an unknown
// action; "ivrfail" gets an IVR whose getIvrCommand fails and whose
// callEvent gets garbage; "normal" is connected to dest.
type unruly struct {
	t    *testing.T
	spec *spec
	dest string

	mu    sync.Mutex        // guards users, names
	users map[string]string // sessionId → caller's user
	names []string
}

func (u *unruly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	name := path.Base(r.URL.Path)
	if _, err := callback.Verify(r, body, callback.VerifyOptions{Secret: []byte(testSecret)}); err != nil {
		u.t.Errorf("%s: signature: %v", name, err)
	}
	if err := u.spec.webhookBody(name, body, false); err != nil {
		u.t.Errorf("%s: body %s does not match the document: %v", name, body, err)
	}
	var req struct{ SessionID, User string }
	_ = json.Unmarshal(body, &req)
	u.mu.Lock()
	if name == "newCall" {
		u.users[req.SessionID] = req.User
	}
	user := u.users[req.SessionID]
	u.names = append(u.names, user+":"+name)
	u.mu.Unlock()
	status, answer := http.StatusOK, "{}"
	switch {
	case name == "newCall" && user == "fail500":
		status, answer = http.StatusInternalServerError, `{"error":"boom"}`
	case name == "newCall" && user == "slow":
		select { // past the server's -callback-timeout of 1 s
		case <-time.After(4 * time.Second):
		case <-r.Context().Done():
		}
		answer = `{"action":"ivr"}`
	case name == "newCall" && user == "garbage":
		answer = `this is not JSON`
	case name == "newCall" && user == "unknownaction":
		answer = `{"action":"transfer","destAddr":"sip:x@127.0.0.1:9"}`
	case name == "newCall" && user == "normal":
		answer = `{"action":"call","destAddr":"` + u.dest + `"}`
	case name == "newCall":
		answer = `{"action":"ivr"}`
	case name == "getIvrCommand":
		status, answer = http.StatusInternalServerError, `{"error":"no command"}`
	case name == "callAnswered" && user == "normal":
		status, answer = http.StatusServiceUnavailable, `informational: ignored`
	case name == "callEvent" && user == "ivrfail":
		answer = `{"action":`
	case name == "callEvent":
		answer = `{"action":"drop"}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func (u *unruly) Names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.names)
}

// TestBadInput sends the running binary what it must refuse, on both of its
// sides: a webhook application that answers 500, times out, answers garbage
// or an unknown action (each call gets the fallback of API.md §6, logged
// with its session) or 503 to an informational callback (ignored), and REST requests with bad JSON, missing and
// wrong-typed fields, unknown IDs, no or a wrong token, an upload over the
// size limit and hostile file names (each gets its documented status and
// error envelope, validated against the OpenAPI document). Nothing crashes,
// nothing is written outside the data directory, and a normal call succeeds
// afterwards; the binary drains and exits 0. A binary whose webhook
// application is not there rejects calls and keeps serving. (Stale replyIds, 409, are
// checked over HTTP by TestFlows/attended-transfer.)
func TestBadInput(t *testing.T) {
	binary(t, "mediaserver")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	support := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "support", ToneHz: flows.HzB})
	app := &unruly{t: t, spec: theSpec(t), dest: support.URI(), users: map[string]string{}}
	hook := httptest.NewServer(app)
	t.Cleanup(hook.Close)
	ms := startMediaserver(t, dir, hook.URL, "-callback-timeout", "1s")
	t.Run("webhook", func(t *testing.T) { badWebhook(ctx, t, ms, app) })
	t.Run("rest", func(t *testing.T) { badREST(ctx, t, ms, dir) })

	// A normal call right after: bridged, both hear each other.
	alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "normal", ToneHz: flows.HzA})
	call, err := alice.Dial(ctx, "sip:pbx@"+ms.sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		t.Fatalf("the normal call after the bad input: %v", err)
	}
	in, err := support.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitHeard(ctx, t, "the caller", call, flows.HzB)
	waitHeard(ctx, t, "support", in, flows.HzA)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := in.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Errorf("support's call ended with %v, %v", r, err)
	}
	if ms.exited() {
		t.Fatalf("the binary exited during the test: %v", ms.err)
	}
	ms.shutdown(t)

	// A webhook application that is not there at all: calls are rejected,
	// the binary keeps serving and exits 0.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	ms2 := startMediaserver(t, t.TempDir(), gone.URL, "-callback-timeout", "1s")
	for range 2 {
		_, err := alice.Dial(ctx, "sip:pbx@"+ms2.sipAddr, mediaservertest.DialOptions{})
		var se *mediaservertest.StatusError
		if !errors.As(err, &se) || se.Code != 480 {
			t.Errorf("a call with no webhook application: %v, want 480", err)
		}
	}
	ms2.shutdown(t)
	t.Logf("callbacks: %v", app.Names())
}

func badWebhook(ctx context.Context, t *testing.T, ms *mediaserverProc, app *unruly) {
	for _, user := range []string{"fail500", "slow", "garbage", "unknownaction"} {
		p := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: user, ToneHz: flows.HzA})
		_, err := p.Dial(ctx, "sip:ivr@"+ms.sipAddr, mediaservertest.DialOptions{})
		var se *mediaservertest.StatusError
		if !errors.As(err, &se) || se.Code != 480 {
			t.Errorf("%s: the call got %v, want 480 (newCall's fallback: reject)", user, err)
		}
	}
	// An IVR whose getIvrCommand fails hangs up; the garbage answer to the
	// callEvent that follows drops the caller.
	p := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "ivrfail", ToneHz: flows.HzA})
	call, err := p.Dial(ctx, "sip:ivr@"+ms.sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := call.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Errorf("ivrfail's call ended with %v, %v; want the server's BYE", r, err)
	}
	// The server says, per session, which callback failed and why.
	var failed []string
	for _, l := range ms.logs("callback failed; using the fallback") {
		if l["sessionId"] == nil || l["err"] == nil {
			t.Errorf("a fallback log line without sessionId or err: %v", l)
		}
		failed = append(failed, l["callback"].(string))
	}
	slices.Sort(failed)
	if want := []string{"callEvent", "getIvrCommand", "newCall", "newCall", "newCall", "newCall"}; !slices.Equal(failed, want) {
		t.Errorf("fallbacks logged for %v, want %v\n%s", failed, want, ms.output())
	}
}

// rest is one request to the binary's API through the validating client.
type rest struct {
	t      *testing.T
	api    string
	client *http.Client
}

type restAnswer struct {
	status int
	body   []byte
	header http.Header
}

func (a restAnswer) field(name string) string {
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	s, _ := m[name].(string)
	return s
}

func (r rest) do(ctx context.Context, method, path, token string, body io.Reader, header ...string) restAnswer {
	r.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, r.api+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return restAnswer{status: resp.StatusCode, body: b, header: resp.Header}
}

func badREST(ctx context.Context, t *testing.T, ms *mediaserverProc, dir string) {
	r := rest{t: t, api: ms.api, client: theSpec(t).client(t)}
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code                            string // error code, or the 401 message
	}{
		{"no token", "POST", "/placeivrcall", "", `{"destAddr":"sip:x@127.0.0.1:9"}`, 401, "Unauthorized"},
		{"wrong token", "POST", "/createconferenceconnection", "nope", `{}`, 401, "Unauthorized"},
		{"sessions without token", "GET", "/sessions", "", "", 401, "Unauthorized"},
		{"invalid JSON", "POST", "/splitconnection", testToken, `{"connectionId":`, 400, "invalidRequest"},
		{"not an object", "POST", "/hangupparticipant", testToken, `[1,2]`, 400, "invalidRequest"},
		{"missing replyId", "POST", "/splitconnection", testToken, `{"connectionId":"e2e-cx"}`, 400, "invalidRequest"},
		{"wrong type", "POST", "/placeivrcall", testToken, `{"destAddr":5}`, 400, "invalidRequest"},
		{"body over 64 KiB", "POST", "/placeivrcall", testToken, `{"destAddr":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "invalidRequest"},
		{"unknown replyId", "POST", "/hangupparticipant", testToken, `{"participantId":"e2e-pnosuch","replyId":"bogus"}`, 404, "notFound"},
		{"forged replyId", "POST", "/splitconnection", testToken, `{"connectionId":"e2e-cnosuch","replyId":"eyJhbGciOiJIUzI1NiJ9.e30.AAAA"}`, 404, "notFound"},
		{"unknown session", "GET", "/sessions/e2e-snosuch", testToken, "", 404, "notFound"},
		{"unknown prompt", "GET", "/promptfile/nosuch.wav", testToken, "", 404, "notFound"},
		{"other domain", "POST", "/other.example.com/splitconnection", testToken, `{"connectionId":"a","replyId":"b"}`, 404, "notFound"},
		{"dot-dot escaped", "GET", "/promptfile/..%2Fsecret", testToken, "", 400, "invalidRequest"},
		{"dot-dot raw", "GET", "/promptfile/../secret", testToken, "", 400, "invalidRequest"},
		{"absolute", "PUT", "/promptfile/%2Fetc%2Fpasswd", testToken, "x", 400, "invalidRequest"},
		{"backslash", "PUT", "/promptfile/..%5Cx.wav", testToken, "x", 400, "invalidRequest"},
		{"NUL", "PUT", "/promptfile/a%00b.wav", testToken, "x", 400, "invalidRequest"},
		{"dot file", "PUT", "/promptfile/.hidden.wav", testToken, "x", 400, "invalidRequest"},
	}
	for _, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		hdr := []string{}
		if tt.method == "PUT" {
			hdr = []string{"Content-Type", "audio/wav"}
		}
		a := r.do(ctx, tt.method, tt.path, tt.token, body, hdr...)
		got := a.field("error")
		if tt.status == 401 {
			got = a.field("message")
		}
		if a.status != tt.status || got != tt.code {
			t.Errorf("%s: %s %s: %d %.200s, want %d %s", tt.name, tt.method, tt.path, a.status, a.body, tt.status, tt.code)
		}
	}
	if a := r.do(ctx, "GET", "/healthz", "", nil); a.status != 200 {
		t.Errorf("healthz without token: %d", a.status)
	}

	// Uploads over the limit of 64 MiB, declared and chunked: 413, nothing
	// stored. Sent around the validating client, which would buffer them.
	plain := rest{t: t, api: ms.api, client: http.DefaultClient}
	const limit = 64 << 20
	for _, chunked := range []bool{false, true} {
		req, err := http.NewRequestWithContext(ctx, "PUT", ms.api+"/promptfile/big.wav", io.LimitReader(zeros{}, limit+1))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = limit + 1
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "audio/wav")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("upload over the limit (chunked %v): %v", chunked, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("upload over the limit (chunked %v): %d %s, want 413", chunked, resp.StatusCode, b)
		} else {
			t.Logf("upload of 64 MiB + 1 (chunked %v): %d %s", chunked, resp.StatusCode, strings.TrimSpace(string(b)))
		}
	}
	if a := plain.do(ctx, "GET", "/promptfile/big.wav", testToken, nil); a.status != http.StatusNotFound {
		t.Errorf("the refused upload is there: GET %d", a.status)
	}
	// The store still works, and nothing landed outside the data directory.
	wav := flows.ToneWAV(440, 100*time.Millisecond)
	if a := r.do(ctx, "PUT", "/promptfile/ok.wav", testToken, strings.NewReader(string(wav)), "Content-Type", "audio/wav"); a.status != 200 {
		t.Errorf("PUT ok.wav: %d %s", a.status, a.body)
	}
	if a := r.do(ctx, "GET", "/"+testDomain+"/promptfile/ok", testToken, nil); a.status != 200 || len(a.body) != len(wav) {
		t.Errorf("GET ok: %d, %d bytes, want %d", a.status, len(a.body), len(wav))
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !slices.Contains([]string{"data", "mediaserver.log"}, e.Name()) {
			t.Errorf("unexpected file %s next to the data directory", filepath.Join(dir, e.Name()))
		}
	}
	files, _ := os.ReadDir(ms.dataDir)
	for _, e := range files {
		if e.Name() != "ok.wav" && !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %s in the data directory", e.Name())
		}
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
