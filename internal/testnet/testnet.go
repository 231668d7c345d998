// Package testnet has network helpers for the module's tests.
package testnet

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusingAddr returns a loopback TCP address that refuses connections
// until the test ends. It is a socket bound to a port of its own and not
// listening, so, unlike a listener closed at once, no other test or
// process running meanwhile can take the port and answer instead.
func RefusingAddr(tb testing.TB) string {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatalf("testnet: socket: %v", err)
	}
	syscall.CloseOnExec(fd)
	tb.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatalf("testnet: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatalf("testnet: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		tb.Fatalf("testnet: bound to %T", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", in4.Port)
}
