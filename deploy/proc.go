package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is a program started by the cluster, with its stdout and stderr in
// a log file. Its methods are safe for concurrent use.
type Proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	code int       // valid once done is closed; -1 when a signal ended it
	end  time.Time // valid once done is closed
}

// startProc starts path in dir, in a process group of its own (so that
// Kill reaches the workers a program such as Kamailio forks), with output
// to dir/name.log. env is added to the environment, whose MEDIASERVER_
// variables are dropped so that only the flags given count. The process
// is killed if this one dies (Pdeathsig, on Linux).
func startProc(dir, name string, env []string, path string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIASERVER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.end = time.Now()
		_ = f.Close()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode() // -1 when a signal ended it
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	return p, nil
}

// Name is the process's name, also the base name of its log file.
func (p *Proc) Name() string { return p.name }

// LogPath is the file that holds its stdout and stderr.
func (p *Proc) LogPath() string { return p.log }

// PID is its process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code once Done is closed: -1 when a signal ended
// it.
func (p *Proc) ExitCode() int {
	<-p.done
	return p.code
}

// Exited is when the process exited, once Done is closed.
func (p *Proc) Exited() time.Time {
	<-p.done
	return p.end
}

// Signal sends sig to the process by its PID unless it has exited.
func (p *Proc) Signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(p.cmd.Process.Pid, sig)
	}
}

// Stop sends SIGTERM, waits up to grace, then kills the process group
// (by its ID, the process's PID) and returns the exit code.
func (p *Proc) Stop(grace time.Duration) int {
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
	}
	return p.ExitCode()
}

// kill ends the process and its group with SIGKILL.
func (p *Proc) kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
