package mediaserver_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

const crashEnv = "MEDIASERVER_CRASH_CHILD"

// TestCrashChild is the process TestSIGKILLRecording kills: a server
// recording a call between two test phones. It does nothing in a normal
// test run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process of TestSIGKILLRecording")
	}
	ctx := context.Background()
	b := newPhone(t, "bob", 1000)
	a := newPhone(t, "alice", 440)
	h := callTo(b.URI())
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: b.URI(), CallRecording: true, Filename: "crash"}, nil
	}
	srv := startServer(t, h, func(c *mediaserver.Config) { c.DataDir = dir })
	ca, err := a.Dial(ctx, serverURI(srv, "x"), mediaservertest.DialOptions{})
	if err != nil {
		fmt.Println("FAILED", err)
		return
	}
	talk, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	_ = ca.WaitSilence(talk, time.Hour)
	cancel()
	fmt.Println("RECORDING")
	select {} // until SIGKILL
}

// TestSIGKILLRecording: a server process killed with SIGKILL in the middle
// of a recording leaves a WAV file that sox and our reader read, holding
// the audio up to the last second (decision 18).
func TestSIGKILLRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	ctx := testCtx(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	recording := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "FAILED") {
			t.Fatal(sc.Text())
		}
		if sc.Text() == "RECORDING" {
			recording = true
			break
		}
	}
	if !recording {
		t.Fatal("the child did not start recording")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, by PID
		t.Fatal(err)
	}
	_ = cmd.Wait()
	path := filepath.Join(dir, "crash.wav")
	w, err := mediaservertest.ReadWAV(path)
	if err != nil {
		t.Fatalf("our reader: %v", err)
	}
	got := w.Channels[0]
	if d := float64(len(got)) / 8000; d < 2 || d > 3.5 {
		t.Errorf("the file holds %.2f s of a 2.5 s call", d)
	}
	if s := mediaservertest.ToneShare(got[len(got)/4:], 440); s < 0.2 {
		t.Errorf("the file lacks A's tone (share %.2f)", s)
	}
	if sox, err := exec.LookPath("sox"); err == nil {
		out, err := exec.CommandContext(ctx, sox, "--i", "-D", path).CombinedOutput()
		if err != nil {
			t.Fatalf("sox --i: %v: %s", err, out)
		}
		t.Logf("sox --i -D: %s", strings.TrimSpace(string(out)))
	}
}
