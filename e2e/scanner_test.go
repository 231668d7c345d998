package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/internal/interop"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// TestSIPVicious points a real SIP scanner, SIPVicious (Debian
// sipvicious), at the binary with inbound digest authentication: svmap
// finds it, svwar cannot tell extensions apart, and svcrack's dictionary,
// the right password included, is stopped by the lockout. The server logs
// the lockout once, refuses that source (the scanner and a phone on
// 127.0.0.1), leaves other sources alone and keeps serving.
//
// SIPVicious 0.3.3 binds its socket on all addresses (svwar and svcrack
// ignore -b), so the test gives it a free port with -P; it only sends to
// 127.0.0.1.
func TestSIPVicious(t *testing.T) {
	binary(t, "mediaserver")
	for _, tool := range []string{"svmap", "svwar", "svcrack"} {
		interop.RequireTool(t, tool, "sipvicious")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("100:Str0ng-secret-9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(http.NotFoundHandler()) // no call gets that far
	t.Cleanup(hook.Close)
	ms := startMediaserver(t, dir, hook.URL, "-auth-users", users, "-auth-realm", "e2e", "-auth-max-failures", "5")
	_, port, _ := net.SplitHostPort(ms.sipAddr)
	// scan runs a tool for at most limit: svcrack never stops by itself
	// once it is locked out (it asks for a challenge again and again and
	// gets 403), so a kill at the limit is a normal end.
	scan := func(tool string, limit time.Duration, args ...string) string {
		t.Helper()
		args = append(append([]string{"-p", port, "-P", freeUDPPort(t)}, args...), "127.0.0.1")
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		cmd := exec.CommandContext(sctx, tool, args...)
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil && (tool != "svcrack" || sctx.Err() == nil) {
			t.Fatalf("%s: %v\n%s", tool, err, out)
		}
		t.Logf("%s %s (%s, %v):\n%s", tool, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err, out[max(0, len(out)-800):])
		return string(out)
	}

	if out := scan("svmap", time.Minute); !strings.Contains(out, "mediaserver") {
		t.Errorf("svmap did not find the server")
	}
	// Every extension gets the same answer, so none stands out: svwar
	// finds none of 100-120, or all of them.
	for _, method := range []string{"INVITE", "OPTIONS", "REGISTER"} {
		out := scan("svwar", time.Minute, "-e", "100-120", "-m", method, "--force")
		if !strings.Contains(out, "found nothing") && !strings.Contains(out, "| Extension") {
			t.Fatalf("svwar %s: no result in its output", method)
		}
		in := slices.DeleteFunc(svwarFound(out), func(e int) bool { return e < 100 || e > 120 })
		if len(in) != 0 && len(in) != 21 {
			t.Errorf("svwar %s told extensions %v apart", method, in)
		}
	}
	// The right password comes eighth, after the lockout at the fifth.
	dict := filepath.Join(dir, "dict")
	words := "123456\npassword\n100\nadmin\nqwerty\n1234\nsecret\nStr0ng-secret-9\nzzz\n"
	if err := os.WriteFile(dict, []byte(words), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := scan("svcrack", 20*time.Second, "-u", "100", "-d", dict, "-m", "INVITE"); strings.Contains(out, "Str0ng-secret-9") {
		t.Errorf("svcrack found the password")
	}
	// Exactly MaxFailures wrong passwords were checked; everything after
	// was refused unchecked.
	got := rest{t: t, api: ms.api, client: http.DefaultClient}.do(ctx, "GET", "/metrics", "", nil)
	if got.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", got.status)
	}
	metrics := string(got.body)
	if !strings.Contains(metrics, `mediaserver_sip_refused_requests_total{reason="auth_failed"} 5`+"\n") ||
		strings.Contains(metrics, `mediaserver_sip_refused_requests_total{reason="auth_locked"} 0`+"\n") {
		t.Errorf("refusal counters:\n%s", grepLines(metrics, "sip_refused_requests_total{"))
	}
	locks := ms.logs("sip: source locked out after failed authentications")
	if len(locks) != 1 || locks[0]["user"] != "100" {
		t.Errorf("lockout warnings %v, want one for user 100", locks)
	}
	if n := len(ms.logs("new call")); n != 0 {
		t.Errorf("%d scanner INVITEs reached the application", n)
	}

	// The scanner's address is locked out, a phone on it too; another
	// address still gets a challenge.
	phone := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice"})
	_, err := phone.Dial(ctx, "sip:100@"+ms.sipAddr, mediaservertest.DialOptions{})
	var se *mediaservertest.StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("a call from the locked-out address: %v, want 403", err)
	}
	if code := rawInvite(t, "127.0.0.2", ms.sipAddr); code != 401 {
		t.Errorf("an INVITE from 127.0.0.2: %d, want 401", code)
	}
	if ms.exited() {
		t.Fatalf("the binary exited: %v", ms.err)
	}
	r := rest{t: t, api: ms.api, client: theSpec(t).client(t)}
	if a := r.do(ctx, "GET", "/sessions", testToken, nil); a.status != 200 || bytes.Contains(a.body, []byte(`"sessionId"`)) {
		t.Errorf("sessions after the scan: %d %s", a.status, a.body)
	}
	ms.shutdown(t)
}

// svwarFound returns the extensions in svwar's table of results.
func svwarFound(out string) []int {
	var found []int
	for line := range strings.Lines(out) {
		f := strings.Fields(strings.Trim(strings.TrimSpace(line), "|"))
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.Atoi(f[0]); err == nil {
			found = append(found, n)
		}
	}
	return found
}

// freeUDPPort returns a UDP port of 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// rawInvite sends one INVITE without credentials from a UDP socket on ip
// to the SIP address to and returns the status of the final answer (0
// when none came within 5 s).
func rawInvite(t *testing.T, ip, to string) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Skipf("cannot send from %s: %v", ip, err)
	}
	defer c.Close()
	raddr, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().String()
	msg := "INVITE sip:100@" + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-raw-1;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@" + ip + ">;tag=raw1\r\nTo: <sip:100@" + to + ">\r\n" +
		"Call-ID: raw-invite-1@" + ip + "\r\nCSeq: 1 INVITE\r\nContact: <sip:probe@" + local + ">\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.WriteTo([]byte(msg), raddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0
		}
		f := strings.Fields(string(buf[:n]))
		if len(f) < 2 || f[0] != "SIP/2.0" {
			continue
		}
		if code, _ := strconv.Atoi(f[1]); code >= 200 {
			return code
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			b.WriteString(line)
		}
	}
	return b.String()
}
