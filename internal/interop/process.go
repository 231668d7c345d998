package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// logTail bounds how much of each log file a failed test prints.
const logTail = 12 << 10

// Command describes an external program to run for a test.
type Command struct {
	// Name is a short name for the process, used in messages and as the base
	// name of its log file, e.g. "uac". Required.
	Name string
	// Dir is the working directory; the log file Name+".log" (stdout and
	// stderr) is created in it. Required.
	Dir string
	// Path is the program, looked up in PATH when it has no slash.
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Logs are more files (relative to Dir) that the program writes and that
	// are printed with its log when the test fails, e.g. SIPp's error file.
	Logs []string
}

// Process is an external program started by Start. Its methods are safe for
// concurrent use.
type Process struct {
	name string
	dir  string
	logs []string
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned
	err  error         // cmd.Wait's result; read only after done
}

// Start starts c as a child process bounded by ctx: when ctx is done the
// process is killed (SIGKILL, by its PID). Its stdout and stderr go to
// Dir/Name.log. Start registers a cleanup with tb that kills the process if
// it still runs, waits for it, and prints the tail of its log files when the
// test failed. Callers should also give the program a limit of its own (SIPp
// -timeout, baresip -t, dumpcap -a duration:), which holds even if the test
// binary dies without running cleanups.
//
// Start fails the test with tb.Fatal if the program cannot be started, so
// call it from the test goroutine.
func Start(ctx context.Context, tb testing.TB, c Command) *Process {
	tb.Helper()
	p, err := start(ctx, c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.Kill()
		<-p.done
		if tb.Failed() {
			tb.Log(p.LogTail())
		}
	})
	return p
}

func start(ctx context.Context, c Command) (*Process, error) {
	if c.Name == "" || c.Dir == "" || c.Path == "" {
		return nil, errors.New("interop: Command needs Name, Dir and Path")
	}
	logPath := filepath.Join(c.Dir, c.Name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("interop: %s: %w", c.Name, err)
	}
	defer out.Close() // the child has its own copy of the descriptor

	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start %s: %w", c.Name, err)
	}
	p := &Process{
		name: c.Name,
		dir:  c.Dir,
		logs: append([]string{c.Name + ".log"}, c.Logs...),
		cmd:  cmd,
		done: make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Name returns the process's name from its Command.
func (p *Process) Name() string { return p.name }

// PID returns the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath returns the path of the file that holds its stdout and stderr.
func (p *Process) LogPath() string { return filepath.Join(p.dir, p.name+".log") }

// Done returns a channel closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit code: -1 when a
// signal ended it. If ctx is done first, it kills the process, waits for it
// and returns ctx's error with the code.
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.exitCode(), nil
	case <-ctx.Done():
		p.Kill()
		<-p.done
		return p.exitCode(), fmt.Errorf("interop: %s still running: %w", p.name, ctx.Err())
	}
}

func (p *Process) exitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process (by its PID) unless it has exited.
func (p *Process) Signal(sig os.Signal) {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL to the process unless it has exited.
func (p *Process) Kill() { p.Signal(syscall.SIGKILL) }

// Stop sends sig, waits up to grace for the process to exit, then kills it.
// It returns the exit code.
func (p *Process) Stop(sig os.Signal, grace time.Duration) int {
	p.Signal(sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
		<-p.done
	}
	return p.exitCode()
}

// LogTail returns a report of the process for a failed test: its state and
// the last part of each of its log files.
func (p *Process) LogTail() string {
	var b bytes.Buffer
	state := "running"
	if p.Exited() {
		state = p.cmd.ProcessState.String()
	}
	fmt.Fprintf(&b, "=== %s (pid %d, %s): %s", p.name, p.PID(), state, p.cmd.String())
	for _, name := range p.logs {
		fmt.Fprintf(&b, "\n--- %s:\n%s", name, tailFile(filepath.Join(p.dir, name), logTail))
	}
	return b.String()
}

// tailFile returns the last n bytes of the file at path, or why it cannot.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	prefix := ""
	if fi.Size() > n {
		if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
			return fmt.Sprintf("(%v)", err)
		}
		prefix = fmt.Sprintf("[... %d bytes skipped]\n", fi.Size()-n)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	data = ansiEscape.ReplaceAll(data, nil) // SIPp paints a screen
	return prefix + string(bytes.ToValidUTF8(data, []byte("?")))
}

// ansiEscape matches terminal control sequences.
var ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z])`)
