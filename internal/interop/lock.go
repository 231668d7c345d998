package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// LockPorts takes a machine-wide exclusive lock named name (a file lock in
// the temporary directory) and holds it until the test ends. Tests that bind
// fixed ports take it first, so that two runs of the same tests on one
// machine (two developers' `go test ./...`, say) wait for each other instead
// of failing with "Address already in use". The kernel drops the lock when
// the process dies. It fails the test if ctx ends before the lock is free.
func LockPorts(ctx context.Context, tb testing.TB, name string) {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "mediaserver-interop-"+name+".lock")
	f, waited, err := lockFile(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	if waited > time.Second {
		tb.Logf("waited %v for %s: another run of these tests held their ports", waited.Round(time.Second), path)
	}
	tb.Cleanup(func() { _ = f.Close() }) // closing drops the lock
}

// lockFile opens path and takes an exclusive flock on it, polling until ctx
// ends. The lock belongs to the returned file: closing it unlocks.
func lockFile(ctx context.Context, path string) (*os.File, time.Duration, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, 0, fmt.Errorf("interop: %w", err)
	}
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, time.Since(start), nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, 0, fmt.Errorf("interop: lock %s: %w", path, err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			_ = f.Close()
			return nil, 0, fmt.Errorf("interop: another test run holds %s (its fixed ports) for %v: %w",
				path, time.Since(start).Round(time.Second), ctx.Err())
		}
	}
}

// Context returns a context that is done when ctx is or when the process
// exits, for waiting on something the process should cause. Call cancel
// when done with it.
func (p *Process) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-p.done:
			cancel(fmt.Errorf("interop: %s exited (code %d)", p.name, p.exitCode()))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
