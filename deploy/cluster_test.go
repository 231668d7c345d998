package deploy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPorts are this test's fixed ports, apart from DefaultPorts (which
// deploy/cluster uses) and from the other packages' ports.
var testPorts = Ports{SIP: 37021, API: 37171, RTP: 58000, RTPPerInstance: 300, App: 37180, Kamailio: 37205, SIPp: 37250}

// TestCluster runs a short version of deploy/cluster: three instances
// behind Kamailio, 30 SIPp calls through it, one instance drained while
// calls run. Every instance gets calls; every session's REST call reaches
// its owner by the apiBaseUrl of its callbacks, and a wrong instance
// answers it 421 with that URL; the drained instance takes no new call,
// finishes its calls and exits 0; no SIPp call fails.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three instances, Kamailio and SIPp")
	}
	kamailio := requireTool(t, "kamailio", "kamailio")
	sipp := requireTool(t, "sipp", "sip-tester")
	lctx, lcancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer lcancel()
	lockPorts(lctx, t, "deploy-cluster")

	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()
	dir := t.TempDir()
	bin, err := Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Now()
	const drainTimeout = 60 * time.Second
	c, err := Start(ctx, Config{
		Dir: dir, Mediaserver: bin, Kamailio: kamailio, SIPp: sipp,
		Ports: testPorts, DrainTimeout: drainTimeout, Logf: t.Logf,
	})
	if err != nil {
		showLogs(t, dir)
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close()
		}
		if t.Failed() {
			showLogs(t, dir)
		}
	})

	const drained = 2
	res, err := Run(ctx, c, Scenario{Load: Load{Calls: 30, Rate: 5, Hold: 5 * time.Second}, Drain: drained})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.Print(&out)
	t.Logf("result:\n%s", out.String())
	if err := res.Err(); err != nil {
		t.Errorf("the run failed:\n%v", err)
	}

	// Spread: every instance got calls before the drain.
	if res.SIPp.Successful != 30 || res.SIPp.Failed != 0 || res.SIPp.ExitCode != 0 {
		t.Errorf("SIPp: %+v", res.SIPp)
	}
	for _, in := range res.Report.Instances {
		if in.Calls < 2 {
			t.Errorf("instance %s got %d calls", in.ID, in.Calls)
		}
		// Routing: each session's REST call answered 200 by its owner,
		// and a wrong instance named the owner in a 421.
		if in.REST != in.Calls || in.Misdirected != in.Calls || in.Completed != in.Calls {
			t.Errorf("instance %s: %d calls, %d REST calls answered, %d 421s naming it, %d completed", in.ID, in.Calls, in.REST, in.Misdirected, in.Completed)
		}
	}
	for _, s := range res.Report.Sessions {
		if !s.Interrupted || !strings.HasPrefix(s.SessionID, s.Instance+"-") || s.APIBaseURL != c.Instances[instanceIndex(s.Instance)].APIBaseURL {
			t.Errorf("session %+v", s)
		}
	}

	// Draining: no new call for the drained instance after SIGTERM (one
	// in flight at the signal may still arrive), its calls finished by
	// themselves long before -drain-timeout, and it exited 0.
	id := InstanceID(drained)
	if got := res.Report.Calls(id); got > res.DrainedCalls+1 || len(res.LateCalls) > 0 {
		t.Errorf("drained %s: %d calls at SIGTERM, %d in the end, late %v", id, res.DrainedCalls, got, res.LateCalls)
	}
	if res.DrainedExit != 0 || res.DrainTook <= 0 || res.DrainTook > drainTimeout/2 {
		t.Errorf("drained %s: exit %d after %v", id, res.DrainedExit, res.DrainTook)
	}
	// Kamailio took it out: a 503 retried on the next instance, or its
	// probe found it down.
	port := ":" + strconv.Itoa(testPorts.SIP+drained)
	seen := false
	for _, l := range res.KamailioLog {
		seen = seen || strings.Contains(l, port+" failed (503)") || (strings.Contains(l, "instance down") && strings.Contains(l, port))
	}
	if !seen {
		t.Errorf("Kamailio's log does not show %s inactive:\n%s", id, strings.Join(res.KamailioLog, "\n"))
	}

	closed = true
	for id, code := range c.Close() {
		if code != 0 {
			t.Errorf("instance %s exited %d", id, code)
		}
	}
	t.Logf("build %.1f s, cluster and calls %.1f s", built.Sub(start).Seconds(), time.Since(built).Seconds())
}

func instanceIndex(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "ms"))
	return n - 1
}

// lockPorts takes a machine-wide lock (a flock on a file in the temporary
// directory, as internal/interop.LockPorts does) and holds it until the
// test ends, so that two runs of this test on one machine wait for each
// other instead of colliding on the fixed ports. The kernel drops it when
// the process dies.
func lockPorts(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "mediaserver-"+name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			t.Fatalf("lock %s: %v", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			t.Fatalf("another run holds %s (the test's ports) for %v", path, time.Since(start).Round(time.Second))
		case <-time.After(100 * time.Millisecond):
		}
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("waited %v for %s", waited.Round(time.Second), path)
	}
	t.Cleanup(func() { _ = f.Close() })
}

// requireTool returns the path of program or skips the test.
func requireTool(t *testing.T, program, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s)", program, pkg)
	}
	return p
}

// showLogs prints the end of every log file of the run.
func showLogs(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		b, _ := os.ReadFile(dir + "/" + e.Name())
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("--- %s (last %d lines)\n%s", e.Name(), len(lines), strings.Join(lines, "\n"))
	}
}

// TestDispatcherList keeps the committed dispatcher.list equal to what
// Cluster writes for the default ports.
func TestDispatcherList(t *testing.T) {
	file, err := os.ReadFile("dispatcher.list")
	if err != nil {
		t.Fatal(err)
	}
	if got := DispatcherList(3, DefaultPorts); got != string(file) {
		t.Errorf("dispatcher.list:\n%s\nDispatcherList(3, DefaultPorts):\n%s", file, got)
	}
}

func TestULaw(t *testing.T) {
	got := ulaw([]int16{0, 32767, -32768, 1000, -1000})
	want := []byte{0xff, 0x80, 0x00, 0xce, 0x4e}
	if string(got) != string(want) {
		t.Errorf("ulaw = % x, want % x", got, want)
	}
}

// TestAppChecksCallbacks: a callback whose apiBaseUrl is not its
// instance's, or whose header disagrees with its body, is a problem; a
// bad signature is refused.
func TestAppChecksCallbacks(t *testing.T) {
	a := &App{Instances: map[string]string{"ms1": "http://127.0.0.1:1", "ms2": "http://127.0.0.1:2"}}
	post := func(name, body, header string) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks/"+name, strings.NewReader(body))
		r.Header.Set("X-Mediaserver-Api-Base-Url", header)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		return w.Code
	}
	apiProblems := func() []string {
		var out []string
		for _, p := range a.Report().Problems {
			if strings.Contains(p, "apiBaseUrl") {
				out = append(out, p)
			}
		}
		return out
	}
	post("newCall", `{"sessionId":"ms1-sa","apiBaseUrl":"http://127.0.0.1:1"}`, "http://127.0.0.1:1")
	if p := apiProblems(); len(p) != 0 {
		t.Fatalf("problems %v", p)
	}
	post("callAnswered", `{"sessionId":"ms1-sa","apiBaseUrl":"http://127.0.0.1:1"}`, "http://127.0.0.1:2")
	post("newCall", `{"sessionId":"ms2-sb","apiBaseUrl":"http://127.0.0.1:1"}`, "http://127.0.0.1:1")
	if p := apiProblems(); len(p) != 2 {
		t.Errorf("problems %v, want 2", p)
	}
	if r := a.Report(); r.Calls("ms1") != 1 || r.Calls("ms2") != 1 {
		t.Errorf("calls %+v", r.Instances)
	}
	a.Secret = []byte("s")
	if code := post("newCall", `{"sessionId":"ms1-sc"}`, ""); code != http.StatusUnauthorized {
		t.Errorf("unsigned callback: %d", code)
	}
}
