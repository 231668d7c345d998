package interop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcessExitCodeAndLog(t *testing.T) {
	ctx := context.Background()
	p := Start(ctx, t, Command{Name: "sh", Dir: t.TempDir(), Path: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"}})
	code, err := p.Wait(ctx)
	if err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v; want 3", code, err)
	}
	log, err := os.ReadFile(p.LogPath())
	if err != nil || string(log) != "out\nerr\n" {
		t.Errorf("log %q, %v", log, err)
	}
	if tail := p.LogTail(); !strings.Contains(tail, "exit status 3") || !strings.Contains(tail, "out\nerr") {
		t.Errorf("LogTail:\n%s", tail)
	}
}

func TestProcessBoundedByContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p := Start(ctx, t, Command{Name: "sleep", Dir: t.TempDir(), Path: "sleep", Args: []string{"60"}})
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the process outlived its context")
	}
	if code, err := p.Wait(context.Background()); code != -1 || err != nil {
		t.Errorf("Wait = %d, %v; want -1 (killed)", code, err)
	}
}

func TestProcessWaitAndStop(t *testing.T) {
	p := Start(context.Background(), t, Command{Name: "sleep", Dir: t.TempDir(), Path: "sleep", Args: []string{"60"}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
	if !p.Exited() {
		t.Error("Wait with a done context left the process running")
	}
	q := Start(context.Background(), t, Command{Name: "sleep2", Dir: t.TempDir(), Path: "sleep", Args: []string{"60"}})
	if code := q.Stop(os.Interrupt, 10*time.Second); code != -1 || !q.Exited() {
		t.Errorf("Stop = %d, exited %t", code, q.Exited())
	}
}

func TestProcessContext(t *testing.T) {
	p := Start(context.Background(), t, Command{Name: "true", Dir: t.TempDir(), Path: "true"})
	ctx, cancel := p.Context(context.Background())
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the context outlived the process")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "true exited (code 0)") {
		t.Errorf("cause %v", cause)
	}
}

func TestLockFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "ports.lock")
	f, _, err := lockFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in this process
	// conflicts as another process would.
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if g, _, err := lockFile(short, path); !errors.Is(err, context.DeadlineExceeded) {
		_ = g.Close()
		t.Fatalf("second lock: %v, want DeadlineExceeded", err)
	}
	_ = f.Close()
	g, _, err := lockFile(ctx, path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	_ = g.Close()
}
