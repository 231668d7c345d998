package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is a child process. It is bound to the context it was started
// with (SIGTERM when that ends, SIGKILL 5 s later) and is only ever
// signalled by its own PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(ctx context.Context, dir string, stdout, stderr io.Writer, name string, args ...string) (*proc, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor waits up to d for the process to exit and reports whether it did.
func (p *proc) waitFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		return false
	}
}

// stop sends sig, waits up to d, then kills the process; it returns once
// the process is gone.
func (p *proc) stop(sig os.Signal, d time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exitCode() int {
	if st := p.cmd.ProcessState; st != nil {
		return st.ExitCode()
	}
	return -1
}

func (p *proc) String() string {
	return fmt.Sprintf("%s (pid %d)", p.name, p.pid())
}
