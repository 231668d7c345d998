package media

import (
	"net/netip"
	"slices"
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

// countProc is a Processor that records the ticks it ran in, tagged with
// its name, into a shared log.
type countProc struct {
	name string
	log  *[]string
}

func (p *countProc) Process(time.Time) { *p.log = append(*p.log, p.name) }

// TestClockQueuedChanges: processors and observers added or removed
// between ticks take effect at the next tick, in the order they were
// added (mixers before the taps that read them), observers after every
// processor; a removed one never runs again, and removing one added in
// the same interval is a no-op.
func TestClockQueuedChanges(t *testing.T) {
	clock := NewClock(ClockConfig{manual: true, Workers: 1})
	defer clock.Close()
	var log []string
	mk := func(name string) *countProc { return &countProc{name: name, log: &log} }
	a, b, c, obs, gone := mk("a"), mk("b"), mk("c"), mk("obs"), mk("gone")
	clock.AddObserver(obs)
	clock.AddProcessor(a)
	clock.AddProcessor(b)
	clock.AddProcessor(gone)
	clock.RemoveProcessor(gone) // never runs
	clock.AddProcessor(c)
	now := time.Now()
	tick := func() []string {
		log = log[:0]
		clock.step(now, 0)
		return append([]string(nil), log...)
	}
	if got, want := tick(), []string{"a", "b", "c", "obs"}; !slices.Equal(got, want) {
		t.Fatalf("first tick ran %v, want %v", got, want)
	}
	clock.RemoveProcessor(b)
	clock.RemoveProcessor(obs)
	clock.AddProcessor(b) // re-added: now last
	if got, want := tick(), []string{"a", "c", "b"}; !slices.Equal(got, want) {
		t.Fatalf("second tick ran %v, want %v", got, want)
	}
	for _, p := range []*countProc{a, b, c} {
		clock.RemoveProcessor(p)
	}
	if got := tick(); len(got) != 0 {
		t.Fatalf("tick after removing everything ran %v", got)
	}
	if n := len(clock.pending); n != 0 {
		t.Fatalf("%d changes still queued after a tick", n)
	}
}
