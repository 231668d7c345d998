package media

import (
	"net/netip"
	"testing"
	"time"
)

// benchRelay measures the per-packet receive→relay→send path of one leg:
// parse, source check, stats, header rewrite (and transcode), sendto.
func benchRelay(b *testing.B, in, out Codec, decode bool) {
	rig := newRig(b, true)
	pa, pb := newPeer(b), newPeer(b)
	x := rig.endpoint(b, EndpointConfig{})
	y := rig.endpoint(b, EndpointConfig{})
	x.SetRemote(remoteFor(pa, in, 101))
	y.SetRemote(remoteFor(pb, out, 101))
	Bridge(x, y)
	if decode {
		x.AddSink(discardSink{})
	}
	pkt := make([]byte, 12+160, MaxPacketSize+SRTPTailroom)
	src := pa.addr()
	h := RTPHeader{PayloadType: in.PayloadType(), SSRC: 7}
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	i := 0
	for b.Loop() {
		h.SequenceNumber = uint16(i)
		h.Timestamp = uint32(i * 160)
		h.MarshalTo(pkt)
		x.receiveRTP(pkt[:12+160], src, now.Add(time.Duration(i)*FrameDuration))
		i++
		if decode && i%8 == 0 {
			x.rxMu.Lock()
			x.jitterLocked().Reset() // keep the buffer from overflowing without a clock
			x.rxMu.Unlock()
		}
	}
}

type discardSink struct{}

func (discardSink) WriteFrame(*Frame) {}

func BenchmarkRelay(b *testing.B)          { benchRelay(b, CodecPCMU, CodecPCMU, false) }
func BenchmarkRelayTranscode(b *testing.B) { benchRelay(b, CodecPCMU, CodecPCMA, false) }
func BenchmarkRelayDecoded(b *testing.B)   { benchRelay(b, CodecPCMU, CodecPCMU, true) }

// BenchmarkTickGenerated measures one clock tick for one endpoint that
// plays a tone: generate, encode, stamp, sendto.
func BenchmarkTickGenerated(b *testing.B) {
	rig := newRig(b, true)
	p := newPeer(b)
	e := rig.endpoint(b, EndpointConfig{})
	e.SetRemote(remoteFor(p, CodecPCMU, -1))
	tone := NewToneGenerator(440, 0, 0.5)
	e.SetSource(&tone)
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.tickOut(now.Add(time.Duration(i) * FrameDuration).UnixNano())
		i++
	}
}

// BenchmarkClockStep1000 measures one whole tick of a clock with 1,000
// endpoints playing a constant level, with the output phase on one
// goroutine and shared by GOMAXPROCS workers: the wall time of a tick is
// what bounds how many legs one clock keeps on time.
func BenchmarkClockStep1000(b *testing.B) {
	for _, w := range []struct {
		name    string
		workers int
	}{{"workers=1", 1}, {"workers=GOMAXPROCS", 0}} {
		b.Run(w.name, func(b *testing.B) {
			ports, err := NewPortAllocator(netip.MustParseAddr("127.0.0.1"), 45000, 47999)
			if err != nil {
				b.Fatal(err)
			}
			clock := NewClock(ClockConfig{manual: true, Workers: w.workers})
			defer clock.Close()
			p := newPeer(b)
			for range 1000 {
				e, err := NewEndpoint(EndpointConfig{Ports: ports, Clock: clock})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				if err := e.SetRemote(remoteFor(p, CodecPCMU, -1)); err != nil {
					b.Fatal(err)
				}
				e.SetSource(levelSource(1000))
			}
			now := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				clock.step(now.Add(time.Duration(i)*FrameDuration), 0)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/endpoint")
		})
	}
}
