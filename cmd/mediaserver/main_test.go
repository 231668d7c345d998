package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOptions(t *testing.T) {
	env := map[string]string{
		"MEDIASERVER_CALLBACK_URL": "http://127.0.0.1:3000/ms",
		"MEDIASERVER_SIP_ADDR":     "127.0.0.1:5070",
		"MEDIASERVER_MAX_SESSIONS": "10",
		"MEDIASERVER_DOMAIN":       "env.example.com",
	}
	o, err := parseOptions([]string{"-domain", "flag.example.com", "-drain-timeout", "3s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.callbackURL != "http://127.0.0.1:3000/ms" || o.sipAddr != "127.0.0.1:5070" || o.maxSessions != 10 || o.domain != "flag.example.com" || o.drainTimeout != 3*time.Second || o.apiAddr != "127.0.0.1:8080" {
		t.Errorf("options %+v", o)
	}
	bad := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "-callback-url is required"},
		{[]string{"-callback-url", "http://x", "-api-addr", "0.0.0.0:8080"}, nil, "without authentication"},
		{[]string{"-callback-url", "http://x", "-api-addr", ":8080"}, nil, "without authentication"},
		{[]string{"-callback-url", "http://x", "-api-addr", "[::]:8080"}, nil, "without authentication"},
		{[]string{"-callback-url", "http://x", "-rtp-ports", "20000"}, nil, "-rtp-ports"},
		{[]string{"-callback-url", "http://x", "-log-format", "xml"}, nil, "-log-format"},
		{[]string{"-callback-url", "http://x"}, map[string]string{"MEDIASERVER_MAX_SESSIONS": "many"}, "MEDIASERVER_MAX_SESSIONS"},
		{[]string{"-callback-url", "http://x", "stray"}, nil, "unexpected arguments"},
		{[]string{"-callback-url", "http://x", "-peers", "a=http://x,b"}, nil, "-peers"},
		{[]string{"-callback-url", "http://x", "-peers", "a=http://x,a=http://y"}, nil, "listed twice"},
		{[]string{"-callback-url", "http://x"}, map[string]string{"MEDIASERVER_PEERS": "=http://x"}, "-peers"},
		{[]string{"-callback-url", "http://x", "-srtp", "required"}, nil, "needs SIP over TLS"},
		{[]string{"-callback-url", "http://x", "-srtp", "maybe"}, nil, "-srtp"},
		{[]string{"-callback-url", "http://x", "-sip-tls-addr", "127.0.0.1:5061"}, nil, "-tls-cert and -tls-key together"},
		{[]string{"-callback-url", "http://x", "-allow-sources", "10.0.0.0/8,bogus"}, nil, "-allow-sources"},
		{[]string{"-callback-url", "http://x", "-auth-users", "/nonexistent/users"}, nil, "-auth-users"},
		{[]string{"-callback-url", "http://x", "-invite-rate", "-1"}, nil, "must not be negative"},
		{[]string{"-callback-url", "http://x", "-request-burst", "-1"}, nil, "must not be negative"},
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("100:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad = append(bad, []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-callback-url", "http://x", "-auth-users", users, "-auth-algorithms", "SHA-256,MD4"}, nil, "-auth-algorithms"},
		{[]string{"-callback-url", "http://x", "-auth-users", users, "-auth-algorithms", " , "}, nil, "-auth-algorithms"},
		{[]string{"-callback-url", "http://x", "-auth-users", users, "-auth-max-failures", "0"}, nil, "-auth-max-failures"},
		{[]string{"-callback-url", "http://x", "-auth-users", users, "-auth-lockout", "0s"}, nil, "-auth-lockout"},
	}...)
	for _, tt := range bad {
		_, err := parseOptions(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseOptions(%q, %v): %v, want %q", tt.args, tt.env, err, tt.want)
		}
	}
	o, err = parseOptions([]string{"-callback-url", "http://x", "-peers", " a=http://10.0.0.1:8080, b=http://10.0.0.2:8080/ "}, func(string) string { return "" }, io.Discard)
	if peers, perr := o.peerMap(); err != nil || perr != nil || len(peers) != 2 || peers["a"] != "http://10.0.0.1:8080" || peers["b"] != "http://10.0.0.2:8080/" {
		t.Errorf("-peers: %v, %v, %v", peers, err, perr)
	}
	for flag, want := range map[string]string{"": "MD5", "sha-256,md5": "SHA-256,MD5", " MD5 , sha-256 ": "MD5,SHA-256"} {
		args := []string{"-callback-url", "http://x", "-auth-users", users}
		if flag != "" {
			args = append(args, "-auth-algorithms", flag)
		}
		o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("parseOptions(%q): %v", args, err)
		}
		sc, err := o.security()
		if err != nil || sc.auth == nil || strings.Join(sc.auth.Algorithms, ",") != want || sc.auth.Users["100"] != "secret" ||
			sc.auth.MaxFailures != 10 || sc.auth.Lockout != 5*time.Minute {
			t.Errorf("-auth-algorithms %q: %+v, %v, want %s", flag, sc.auth, err, want)
		}
	}
	for _, ok := range [][]string{
		{"-callback-url", "http://x", "-api-addr", "0.0.0.0:8080", "-api-token", "t"},
		{"-callback-url", "http://x", "-api-addr", "[::1]:8080"},
		{"-callback-url", "http://x", "-api-addr", "localhost:8080"},
		{"-callback-url", "http://x", "-api-addr", "127.0.0.2:8080"},
	} {
		if _, err := parseOptions(ok, func(string) string { return "" }, io.Discard); err != nil {
			t.Errorf("parseOptions(%q): %v", ok, err)
		}
	}
}

// TestBinary builds the command and runs it as a process on loopback.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mediaserver")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("MissingCallbackURL", func(t *testing.T) {
		p := startProc(t, bin, nil)
		if code := p.wait(t); code != exitUsage || !strings.Contains(p.output(), "-callback-url is required") {
			t.Errorf("exit %d, output:\n%s", code, p.output())
		}
	})
	t.Run("NonLoopbackWithoutAuth", func(t *testing.T) {
		p := startProc(t, bin, nil, "-callback-url", "http://127.0.0.1:9/ms", "-api-addr", "0.0.0.0:0", "-sip-addr", "127.0.0.1:0")
		if code := p.wait(t); code == 0 || !strings.Contains(p.output(), "refusing to serve the REST API on 0.0.0.0:0 without authentication") {
			t.Errorf("exit %d, output:\n%s", code, p.output())
		}
	})
	t.Run("CallsAndDrain", func(t *testing.T) { testCallsAndDrain(t, bin, dir) })
}

// testCallsAndDrain runs the server with a fake webhook application and
// test phones: a call bridged and hung up over REST, then a call that a
// SIGTERM drains; the process exits 0.
func testCallsAndDrain(t *testing.T, bin, dir string) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	bob := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "bob", ToneHz: 1800})
	alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice", ToneHz: 440})
	app := newApp(t, &key.PublicKey, map[string]string{
		"newCall":   `{"action":"call","destAddr":"` + bob.URI() + `"}`,
		"callEvent": `{"action":"drop"}`,
	})
	p := startProc(t, bin, []string{"MEDIASERVER_CALLBACK_URL=" + app.srv.URL + "/hooks", "MEDIASERVER_API_TOKEN=tok"},
		"-sip-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0", "-rtp-ports", "47500-47999",
		"-data-dir", filepath.Join(dir, "data"), "-log-format", "json", "-domain", "tenant.example.com",
		"-instance-id", "bin1", "-callback-signing-key", keyFile, "-drain-timeout", "2s",
		"-peers", "bin1=http://127.0.0.1:9,bin2=http://127.0.0.1:37198")
	serving := p.waitLog(ctx, t, "serving")
	sipAddr, apiAddr := serving["sipAddr"].(string), serving["apiAddr"].(string)
	api := "http://" + apiAddr
	rest := func(method, path, body string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, api+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer tok")
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := rest("GET", "/readyz", "", false); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, _ := rest("POST", "/createconferenceconnection", "{}", false); code != 401 {
		t.Errorf("REST without the token: %d", code)
	}

	// 1. A call bridged to bob, hung up over REST.
	ca, err := alice.Dial(ctx, "sip:pbx@"+sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := bob.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WaitHeard(ctx, 1800, 0.5); err != nil {
		t.Fatalf("alice does not hear bob: %v", err)
	}
	ans := app.wait(ctx, t, "callAnswered", 0)
	if !strings.HasPrefix(ans["connectionId"].(string), "bin1-") || ans["apiBaseUrl"] != api || ans["domain"] != "tenant.example.com" {
		t.Errorf("callAnswered %v", ans)
	}
	body, _ := json.Marshal(map[string]any{"participantId": ans["calleeParticipantId"], "replyId": ans["replyId"]})
	if code, resp := rest("POST", "/tenant.example.com/hangupparticipant", string(body), true); code != 200 {
		t.Fatalf("hangupparticipant: %d %s", code, resp)
	}
	for _, c := range []*mediaservertest.Call{cb, ca} {
		if r, err := c.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
			t.Fatalf("%v ended with %v, %v", c, r, err)
		}
	}
	app.wait(ctx, t, "sessionCompleted", 0)
	// /metrics is served without auth and counts the call.
	if code, m := rest("GET", "/metrics", "", false); code != 200 || !strings.Contains(m, "mediaserver_sessions_started_total 1") ||
		!strings.Contains(m, `mediaserver_participants_ended_total{kind="callee",outcome="completed"} 1`) {
		t.Errorf("metrics: %d\n%s", code, m)
	}
	// A REST call for another instance's participant names that instance.
	if code, resp := rest("POST", "/hangupparticipant", `{"participantId":"bin2-pabc","replyId":"x"}`, true); code != http.StatusMisdirectedRequest ||
		!strings.Contains(resp, `"apiBaseUrl":"http://127.0.0.1:37198"`) {
		t.Errorf("misdirected hangupparticipant: %d %s", code, resp)
	}

	// 2. A call still up at SIGTERM is hung up after -drain-timeout; the
	// server then delivers its sessionCompleted and exits 0.
	ca, err = alice.Dial(ctx, "sip:pbx@"+sipAddr, mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cb, err = bob.Incoming(ctx); err != nil {
		t.Fatal(err)
	}
	app.wait(ctx, t, "callAnswered", 1)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(ctx, t, "shutting down: draining calls")
	if code, body := rest("GET", "/readyz", "", false); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("readyz while draining: %d %s", code, body)
	}
	if code, _ := rest("GET", "/healthz", "", false); code != 200 {
		t.Errorf("healthz while draining: %d", code)
	}
	for _, c := range []*mediaservertest.Call{ca, cb} {
		if r, err := c.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
			t.Fatalf("%v ended with %v, %v", c, r, err)
		}
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; output:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), `"msg":"shutdown complete"`) {
		t.Errorf("no shutdown complete log:\n%s", p.output())
	}
	app.wait(ctx, t, "sessionCompleted", 1)
	app.check(t)
}

// proc is the command running as a process; its stderr is kept.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	seen chan struct{}
	done chan struct{}
}

func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), seen: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.Write(sc.Bytes())
			p.out.WriteByte('\n')
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill() // only the process this test started, by its PID
			<-p.done
			_ = p.cmd.Wait()
		}
	})
	return p
}

// cleanEnv is the test's environment without MEDIASERVER_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIASERVER_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the process did not exit; output:\n%s", p.output())
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// waitLog waits for a JSON log line with this message and returns it.
func (p *proc) waitLog(ctx context.Context, t *testing.T, msg string) map[string]any {
	t.Helper()
	for {
		for line := range strings.SplitSeq(p.output(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
				return m
			}
		}
		select {
		case <-p.seen:
		case <-p.done:
			t.Fatalf("exited without logging %q:\n%s", msg, p.output())
		case <-ctx.Done():
			t.Fatalf("no log %q:\n%s", msg, p.output())
		}
	}
}

// app is a fake webhook application that verifies every callback.
type app struct {
	srv     *httptest.Server
	pub     *rsa.PublicKey
	answers map[string]string
	mu      sync.Mutex
	hooks   []appHook
	seen    chan struct{}
}

type appHook struct {
	name string
	body map[string]any
	err  error
}

func newApp(t *testing.T, pub *rsa.PublicKey, answers map[string]string) *app {
	a := &app{pub: pub, answers: answers, seen: make(chan struct{}, 1)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := appHook{name: path.Base(r.URL.Path)}
		_, h.err = callback.Verify(r, b, callback.VerifyOptions{PublicKey: a.pub})
		if err := json.Unmarshal(b, &h.body); err != nil && h.err == nil {
			h.err = err
		}
		if !strings.HasPrefix(r.URL.Path, "/hooks/") {
			h.err = fmt.Errorf("callback to %s, not under the base URL", r.URL.Path)
		}
		a.mu.Lock()
		a.hooks = append(a.hooks, h)
		a.mu.Unlock()
		select {
		case a.seen <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		ans, ok := a.answers[h.name]
		if !ok {
			ans = "{}"
		}
		_, _ = io.WriteString(w, ans)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) wait(ctx context.Context, t *testing.T, name string, n int) map[string]any {
	t.Helper()
	for {
		a.mu.Lock()
		seen := 0
		var names []string
		for _, h := range a.hooks {
			names = append(names, h.name)
			if h.name == name {
				if seen == n {
					a.mu.Unlock()
					return h.body
				}
				seen++
			}
		}
		a.mu.Unlock()
		select {
		case <-a.seen:
		case <-ctx.Done():
			t.Fatalf("no %s #%d; callbacks %v", name, n+1, names)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (a *app) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, h := range a.hooks {
		if h.err != nil {
			t.Errorf("%s: %v", h.name, h.err)
		}
	}
}
