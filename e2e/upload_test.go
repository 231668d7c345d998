package e2e_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKillDuringUpload kills the binary (SIGKILL, by PID) in the middle of
// a prompt upload that replaces a file: the old file survives the crash
// whole, the upload's temp file is invisible to the API, and the next
// start removes it once it is older than an hour and serves the old file.
func TestKillDuringUpload(t *testing.T) {
	binary(t, "mediaserver")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hook := httptest.NewServer(http.NotFoundHandler()) // no calls in this test
	t.Cleanup(hook.Close)
	ms := startMediaserver(t, t.TempDir(), hook.URL)
	r := rest{t: t, api: ms.api, client: theSpec(t).client(t)}
	old := bytes.Repeat([]byte("old prompt "), 2000)
	if a := r.do(ctx, "PUT", "/promptfile/hello.wav", testToken, bytes.NewReader(old), "Content-Type", "audio/wav"); a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}

	// Half of a 4 MB replacement, then the kill.
	u, err := url.Parse(ms.api)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	head := "PUT /promptfile/hello.wav HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + testToken +
		"\r\nContent-Type: audio/wav\r\nContent-Length: 4000000\r\n\r\n"
	if _, err := conn.Write(append([]byte(head), make([]byte, 2_000_000)...)); err != nil {
		t.Fatal(err)
	}
	var temps []string
	for range 500 {
		if temps = tempFiles(t, ms.dataDir); len(temps) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(temps) == 0 {
		t.Fatal("no temp file while the upload runs")
	}
	_ = ms.cmd.Process.Kill() // by PID: the process this test started
	<-ms.done

	// What the crash left: the old file whole, and the temp file.
	if b, err := os.ReadFile(filepath.Join(ms.dataDir, "hello.wav")); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("after the kill hello.wav has %d bytes (%v), want the old %d", len(b), err, len(old))
	}
	if len(tempFiles(t, ms.dataDir)) == 0 {
		t.Fatal("the kill left no temp file; the test did not kill mid-upload")
	}

	// A fresh temp file stays (another instance sharing the directory may
	// be uploading); one older than an hour goes at start-up.
	ms2 := startMediaserver(t, t.TempDir(), hook.URL, "-data-dir", ms.dataDir)
	r2 := rest{t: t, api: ms2.api, client: theSpec(t).client(t)}
	if got := tempFiles(t, ms.dataDir); len(got) == 0 {
		t.Error("a start removed a fresh temp file")
	}
	a := r2.do(ctx, "GET", "/promptfile/hello.wav", testToken, nil)
	if a.status != 200 || !bytes.Equal(a.body, old) {
		t.Errorf("GET after the restart: %d, %d bytes, want the old %d", a.status, len(a.body), len(old))
	}
	for _, name := range tempFiles(t, ms.dataDir) {
		if a := r2.do(ctx, "GET", "/promptfile/"+name, testToken, nil); a.status != 400 && a.status != 404 {
			t.Errorf("GET of the temp file %s: %d, want it invisible", name, a.status)
		}
	}
	ms2.shutdown(t)

	hourAgo := time.Now().Add(-2 * time.Hour)
	for _, name := range tempFiles(t, ms.dataDir) {
		if err := os.Chtimes(filepath.Join(ms.dataDir, name), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	ms3 := startMediaserver(t, t.TempDir(), hook.URL, "-data-dir", ms.dataDir)
	if got := tempFiles(t, ms.dataDir); len(got) != 0 {
		t.Errorf("the start left temp files older than an hour: %v", got)
	}
	r3 := rest{t: t, api: ms3.api, client: theSpec(t).client(t)}
	next := bytes.Repeat([]byte("new prompt "), 1000)
	if a := r3.do(ctx, "PUT", "/promptfile/hello.wav", testToken, bytes.NewReader(next), "Content-Type", "audio/wav"); a.status != 200 {
		t.Fatalf("PUT after the restarts: %d %s", a.status, a.body)
	}
	if a := r3.do(ctx, "GET", "/promptfile/hello.wav", testToken, nil); !bytes.Equal(a.body, next) {
		t.Errorf("GET after the new PUT: %d bytes, want %d", len(a.body), len(next))
	}
	ms3.shutdown(t)
}

// tempFiles lists the upload temp files in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}
