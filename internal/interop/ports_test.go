package interop

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestUDPBound(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := WaitUDPBound(ctx, nil, port); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if ok, err := UDPBound(port); ok || err != nil {
		t.Errorf("UDPBound after close = %t, %v", ok, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := WaitUDPBound(short, nil, port); err == nil {
		t.Error("WaitUDPBound of a free port succeeded")
	}
}
