package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procLimit bounds every process a test starts.
const procLimit = 4 * time.Minute

// proc is a program run for one test: bounded by a context, its stdout and
// stderr in a log file in the test's folder (printed when the test fails),
// stopped by its PID only.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once cmd.Wait returned
	err  error         // cmd.Wait's result, read after done
}

// startProc starts bin with args in dir. The cleanup stops it with SIGTERM
// (SIGKILL after a grace time) and prints its log if the test failed.
func startProc(t *testing.T, name, dir, bin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procLimit)
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		_ = out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	_ = out.Close() // the child has its copy
	go func() {
		p.err = p.cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("=== %s (pid %d, %v) log %s:\n%s", name, p.cmd.Process.Pid, p.cmd.ProcessState, p.log, tail(p.log, 16<<10))
		}
	})
	return p
}

// cleanEnv is the test's environment without MEDIASERVER_ and WEBHOOKAPP_
// variables, so that a developer's settings do not leak into the programs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIASERVER_") && !strings.HasPrefix(kv, "WEBHOOKAPP_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop sends SIGTERM, waits up to grace, then SIGKILL; it returns the exit
// code (-1 for a signal).
func (p *proc) stop(grace time.Duration) int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // by PID: only the process this test started
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.cmd.ProcessState.ExitCode()
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output returns the log so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitLog waits for a JSON log line whose msg is msg and returns it.
func (p *proc) waitLog(ctx context.Context, msg string) (map[string]any, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := findLog(p.output(), msg); m != nil {
			return m, nil
		}
		select {
		case <-tick.C:
		case <-p.done:
			if m := findLog(p.output(), msg); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s exited (%v) without logging %q", p.name, p.err, msg)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s logged no %q: %w", p.name, msg, ctx.Err())
		}
	}
}

// logs returns the JSON log lines whose msg is msg.
func (p *proc) logs(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func findLog(out, msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// tail returns the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if fi.Size() > n {
		if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
			return err.Error()
		}
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return string(b)
}
