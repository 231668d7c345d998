//go:build !linux

package deploy

import "syscall"

// procAttr puts a child in a process group of its own (no Pdeathsig
// outside Linux: a child outlives a crashed parent there).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
