package callback

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// TestAPIPromptUploadCut cuts prompt uploads off in the middle (the client
// dies, or its network does), lets one stall and breaks one's chunking:
// the file of that name keeps its old content, no temp file stays in the
// prompt directory, a stalled client gets 408 after UploadIdleTimeout and
// a broken body 400, each is a warning and not an error, and the next
// upload works.
func TestAPIPromptUploadCut(t *testing.T) {
	var dir string
	r := newRig(t, nil, rigOptions{
		server: func(c *mediaserver.Config) { dir = c.DataDir },
		api:    func(c *APIConfig) { c.UploadIdleTimeout = 2 * time.Second },
	})
	old := toneWAV(600, time.Second)
	r.must("PUT", "/promptfile/hello.wav", old)
	u, err := url.Parse(r.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, header string
		body         []byte // sent before the cut
		answer       int    // the status the server answers before the cut; 0: the client cuts first
	}{
		{"content-length", "Content-Length: 400000\r\n", make([]byte, 100_000), 0},
		{"chunked", "Transfer-Encoding: chunked\r\n", append([]byte(fmt.Sprintf("%x\r\n", 300_000)), make([]byte, 100_000)...), 0},
		// The client keeps the connection open and sends nothing more.
		{"stalled", "Content-Length: 400000\r\n", make([]byte, 100_000), http.StatusRequestTimeout},
		{"bad chunking", "Transfer-Encoding: chunked\r\n", append(append([]byte(fmt.Sprintf("%x\r\n", 100_000)), make([]byte, 100_000)...), "\r\nzz\r\n"...), http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			head := "PUT /promptfile/hello.wav HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: audio/wav\r\n" + tt.header + "\r\n"
			if _, err := conn.Write(append([]byte(head), tt.body...)); err != nil {
				t.Fatal(err)
			}
			if tt.answer == 0 {
				// The upload is being written to a temp file before the cut.
				if !waitTemp(t, dir, true) {
					t.Fatal("no temp file while the upload runs")
				}
			} else {
				// The server gives up (after UploadIdleTimeout for a stall)
				// and says so.
				rep, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				_ = rep.Body.Close()
				if rep.StatusCode != tt.answer {
					t.Errorf("answer %d, want %d", rep.StatusCode, tt.answer)
				}
			}
			_ = conn.Close()
			if !waitTemp(t, dir, false) {
				t.Fatal("the cut upload left its temp file")
			}
			if rep := r.do("GET", "/promptfile/hello.wav", nil); rep.status != 200 || !bytes.Equal(rep.raw, old) {
				t.Fatalf("after the cut: %d, %d bytes, want the old %d", rep.status, len(rep.raw), len(old))
			}
		})
	}
	// The server logged why, and the next upload replaces the file.
	n := 0
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, `level=WARN msg="api: prompt upload abandoned"`) && strings.Contains(line, "file=hello.wav") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d warnings name the abandoned uploads, want 4", n)
	}
	if strings.Contains(r.logs.String(), "level=ERROR") {
		t.Errorf("a client's broken upload was logged as an error:\n%s", r.logs.String())
	}
	next := toneWAV(800, time.Second/2)
	r.must("PUT", "/promptfile/hello.wav", next)
	if rep := r.do("GET", "/promptfile/hello.wav", nil); !bytes.Equal(rep.raw, next) {
		t.Errorf("upload after the cuts: %d bytes, want %d", len(rep.raw), len(next))
	}
}

// waitTemp waits up to 10 s until dir holds a temp upload file (want) or
// none (!want), and reports whether it did.
func waitTemp(t *testing.T, dir string, want bool) bool {
	t.Helper()
	for range 500 {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		has := false
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				has = true
			}
		}
		if has == want {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
