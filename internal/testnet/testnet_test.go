package testnet

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefusingAddr(t *testing.T) {
	addr := RefusingAddr(t)
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("%s accepted a connection", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
}
