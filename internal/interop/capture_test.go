package interop

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestCapture checks that every datagram sent between StartCapture and Stop
// is in the capture, in order, and nothing of the probe.
func TestCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dumpcap: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	LockPorts(ctx, t, "internal-interop")
	c := StartCapture(ctx, t, CaptureConfig{Dir: t.TempDir(), Ports: []uint16{testDataPort}, ProbePort: testProbePort, MaxDuration: time.Minute})
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: testDataPort})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	conn, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 50
	for i := range n {
		if _, err := conn.Write([]byte(fmt.Sprintf("datagram %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	pkts, err := c.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != n {
		t.Fatalf("captured %d datagrams, want %d", len(pkts), n)
	}
	for i, p := range pkts {
		if want := fmt.Sprintf("datagram %d", i); string(p.Payload) != want || p.Dst.Port() != testDataPort {
			t.Fatalf("datagram %d: %q to %v, want %q", i, p.Payload, p.Dst, want)
		}
	}
}
