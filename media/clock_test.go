package media

import (
	"net/netip"
	"testing"
	"time"
)

// levelSource is a FrameSource of a constant sample value.
type levelSource int16

func (l levelSource) ReadFrame(f *Frame) bool {
	for i := range f {
		f[i] = int16(l)
	}
	return true
}

// TestClockWorkersShareOutput: with enough endpoints the output phase is
// split between workers; every endpoint still sends exactly one frame per
// tick, of its own source, continuous in sequence and timestamp, and a
// step after Close still runs (on the clock goroutine alone).
func TestClockWorkersShareOutput(t *testing.T) {
	ports, err := NewPortAllocator(netip.MustParseAddr("127.0.0.1"), 47000, 47999)
	if err != nil {
		t.Fatal(err)
	}
	clock := NewClock(ClockConfig{manual: true, Workers: 4})
	defer clock.Close()
	const n = 5*minPerWorker + 3 // uneven shares, all four workers busy
	p := newPeer(t)
	_ = p.conn.SetReadBuffer(4 << 20)
	want := map[uint32][]byte{} // SSRC → expected payload byte
	for i := range n {
		e, err := NewEndpoint(EndpointConfig{Ports: ports, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if err := e.SetRemote(remoteFor(p, CodecPCMU, -1)); err != nil {
			t.Fatal(err)
		}
		level := levelSource(int16(i*97 - 16000))
		e.SetSource(level)
		var f Frame
		level.ReadFrame(&f)
		enc := make([]byte, FrameSamples)
		CodecPCMU.Encode(enc, f[:])
		want[e.out.ssrc] = enc[:1]
	}
	if len(want) != n {
		t.Fatalf("%d distinct SSRCs for %d endpoints", len(want), n)
	}
	const ticks = 3
	now := time.Now()
	last := map[uint32]RTPHeader{}
	count := map[uint32]int{}
	for tick := range ticks + 1 {
		if tick == ticks {
			clock.Close()
		}
		clock.step(now.Add(time.Duration(tick)*FrameDuration), 0)
		for range n {
			h, payload := p.recv()
			exp, ok := want[h.SSRC]
			if !ok {
				t.Fatalf("packet from unknown SSRC %x", h.SSRC)
			}
			if len(payload) != FrameSamples || payload[0] != exp[0] || payload[FrameSamples-1] != exp[0] {
				t.Fatalf("SSRC %x sent %d bytes starting %x, want %x", h.SSRC, len(payload), payload[0], exp[0])
			}
			if prev, ok := last[h.SSRC]; ok && (h.SequenceNumber-prev.SequenceNumber != 1 || h.Timestamp-prev.Timestamp != FrameSamples) {
				t.Fatalf("SSRC %x not continuous: %+v after %+v", h.SSRC, h, prev)
			}
			last[h.SSRC] = h
			count[h.SSRC]++
		}
		for ssrc, c := range count {
			if c != tick+1 {
				t.Fatalf("tick %d: SSRC %x sent %d frames", tick, ssrc, c)
			}
		}
	}
}
