package media

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// peer is a remote RTP party: a UDP socket on loopback.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &peer{t: t, conn: c}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, h RTPHeader, payload []byte) {
	p.t.Helper()
	buf := make([]byte, 12+len(payload))
	h.MarshalTo(buf)
	copy(buf[12:], payload)
	if _, err := p.conn.WriteToUDPAddrPort(buf, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads one RTP packet (skipping RTCP) within a generous deadline.
func (p *peer) recv() (RTPHeader, []byte) {
	p.t.Helper()
	buf := make([]byte, 2048)
	for {
		_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			p.t.Fatalf("no packet: %v", err)
		}
		if IsRTCP(buf[:n]) {
			continue
		}
		h, payload, err := ParseRTP(buf[:n])
		if err != nil {
			p.t.Fatalf("bad packet: %v", err)
		}
		return h, append([]byte(nil), payload...)
	}
}

type testRig struct {
	clock *Clock
	ports *PortAllocator
}

func newRig(t testing.TB, manual bool) *testRig {
	t.Helper()
	ports, err := NewPortAllocator(netip.MustParseAddr("127.0.0.1"), 47000, 47999)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClock(ClockConfig{manual: manual})
	t.Cleanup(func() { _ = c.Close() })
	return &testRig{clock: c, ports: ports}
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) MediaEvent(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (r *testRig) endpoint(t testing.TB, cfg EndpointConfig) *Endpoint {
	t.Helper()
	cfg.Ports, cfg.Clock = r.ports, r.clock
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func remoteFor(p *peer, c Codec, te int) Remote {
	a := p.addr()
	return Remote{RTP: a, RTCP: netip.AddrPortFrom(a.Addr(), a.Port()+1), Codec: c, TelephoneEvent: te, Send: true, Receive: true}
}

// TestRelayRewrites: packets relayed A→B leave B with B's SSRC, continuous
// sequence numbers, B's payload type and, when codecs differ, a transcoded
// payload (decision 10).
func TestRelayRewrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in, to Codec
	}{{"same codec", CodecPCMU, CodecPCMU}, {"transcode", CodecPCMU, CodecPCMA}} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newRig(t, true)
			pa, pb := newPeer(t), newPeer(t)
			a := rig.endpoint(t, EndpointConfig{})
			b := rig.endpoint(t, EndpointConfig{})
			a.SetRemote(remoteFor(pa, tc.in, 101))
			b.SetRemote(remoteFor(pb, tc.to, 96))
			Bridge(a, b)
			payload := make([]byte, 160)
			for i := range payload {
				payload[i] = byte(i)
			}
			var first RTPHeader
			for i := range 5 {
				pa.send(a.LocalAddr(), RTPHeader{PayloadType: tc.in.PayloadType(), SequenceNumber: uint16(1000 + i), Timestamp: uint32(5000 + 160*i), SSRC: 42}, payload)
				h, got := pb.recv()
				if i == 0 {
					first = h
					if !h.Marker {
						t.Error("first packet after the switch has no marker")
					}
				}
				if h.SSRC != b.out.ssrc || h.PayloadType != tc.to.PayloadType() {
					t.Fatalf("packet %d: ssrc %x pt %d, want %x %d", i, h.SSRC, h.PayloadType, b.out.ssrc, tc.to.PayloadType())
				}
				if h.SequenceNumber != first.SequenceNumber+uint16(i) || h.Timestamp != first.Timestamp+uint32(160*i) {
					t.Fatalf("packet %d: seq %d ts %d not continuous from %d/%d", i, h.SequenceNumber, h.Timestamp, first.SequenceNumber, first.Timestamp)
				}
				want := payload
				if tc.in != tc.to {
					want = make([]byte, 160)
					PCMUToPCMA(want, payload)
				}
				if string(got) != string(want) {
					t.Fatalf("packet %d: payload not %s", i, tc.to)
				}
			}
		})
	}
}

// TestRelaySourceSwitch: when B's feed switches from A to C, B's stream
// continues: sequence +1, timestamp advanced by elapsed time, marker set.
func TestRelaySourceSwitch(t *testing.T) {
	rig := newRig(t, true)
	pa, pb, pc := newPeer(t), newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	c := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, -1))
	b.SetRemote(remoteFor(pb, CodecPCMU, -1))
	c.SetRemote(remoteFor(pc, CodecPCMU, -1))
	payload := make([]byte, 160)
	a.ForwardTo(b)
	pa.send(a.LocalAddr(), RTPHeader{SequenceNumber: 7, Timestamp: 100, SSRC: 1}, payload)
	h1, _ := pb.recv()
	c.ForwardTo(b)
	pc.send(c.LocalAddr(), RTPHeader{SequenceNumber: 60000, Timestamp: 9999999, SSRC: 2}, payload)
	h2, _ := pb.recv()
	if h2.SequenceNumber != h1.SequenceNumber+1 {
		t.Errorf("sequence jumps %d → %d", h1.SequenceNumber, h2.SequenceNumber)
	}
	if d := int32(h2.Timestamp - h1.Timestamp); d < 1 || d > 8000*5 {
		t.Errorf("timestamp moved by %d samples", d)
	}
	if !h2.Marker || h2.SSRC != h1.SSRC {
		t.Errorf("after the switch: marker %v ssrc %x, want marker and ssrc %x", h2.Marker, h2.SSRC, h1.SSRC)
	}
	if w := a.wiring.Load(); w.relayTo != nil {
		t.Error("A still relays to B after C took over")
	}
}

// TestLatchAndLock: the first source is latched and receives our RTP; a
// packet from the SDP address wins within the window; afterwards other
// sources are foreign (decision 4).
func TestLatchAndLock(t *testing.T) {
	rig := newRig(t, true)
	sdpPeer, stray, nat := newPeer(t), newPeer(t), newPeer(t)
	e := rig.endpoint(t, EndpointConfig{})
	e.SetRemote(remoteFor(sdpPeer, CodecPCMU, -1))
	payload := make([]byte, 160)
	send := func(p *peer, seq uint16) {
		p.send(e.LocalAddr(), RTPHeader{SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 9}, payload)
	}
	waitIn := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for e.Stats().PacketsIn+e.Stats().Foreign < n {
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v, want %d packets", e.Stats(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// A NATed phone: its packets come from another port than its SDP says.
	send(nat, 1)
	waitIn(1)
	if got := *e.remote.Load().sendRTP.Load(); got != nat.addr() {
		t.Fatalf("sending to %v, want latched %v", got, nat.addr())
	}
	// The SDP address itself shows up within the window: it wins.
	send(sdpPeer, 2)
	waitIn(2)
	if got := *e.remote.Load().sendRTP.Load(); got != sdpPeer.addr() {
		t.Fatalf("sending to %v, want SDP address %v", got, sdpPeer.addr())
	}
	for i := range latchPackets {
		send(sdpPeer, uint16(3+i))
	}
	waitIn(2 + latchPackets)
	// Locked: a stray source is dropped and counted.
	send(stray, 100)
	waitIn(3 + latchPackets)
	if f := e.Stats().Foreign; f != 1 {
		t.Fatalf("foreign %d, want 1", f)
	}
	// A new offer/answer restarts latching.
	e.SetRemote(remoteFor(sdpPeer, CodecPCMU, -1))
	send(nat, 200)
	waitIn(4 + latchPackets)
	if got := *e.remote.Load().sendRTP.Load(); got != nat.addr() {
		t.Fatalf("after re-negotiation sending to %v, want %v", got, nat.addr())
	}
}

// TestGeneratedFrames: a source played on the clock goes out as 20 ms
// packets with continuous timestamps; silence when the source is empty.
func TestGeneratedFrames(t *testing.T) {
	rig := newRig(t, true)
	p := newPeer(t)
	e := rig.endpoint(t, EndpointConfig{})
	e.SetRemote(remoteFor(p, CodecPCMA, -1))
	tone := NewToneGenerator(1000, 0, 0.5)
	e.SetSource(&tone)
	now := time.Now()
	var prev RTPHeader
	for i := range 10 {
		rig.clock.step(now.Add(time.Duration(i)*FrameDuration), 0)
		h, payload := p.recv()
		if len(payload) != FrameSamples || h.PayloadType != 8 {
			t.Fatalf("frame %d: %d bytes pt %d", i, len(payload), h.PayloadType)
		}
		if i > 0 && (h.Timestamp-prev.Timestamp != FrameSamples || h.SequenceNumber-prev.SequenceNumber != 1) {
			t.Fatalf("frame %d not continuous: %+v after %+v", i, h, prev)
		}
		pcm := make([]int16, FrameSamples)
		DecodePCMA(pcm, payload)
		if s := ToneShare(pcm, 1000); s < 0.9 {
			t.Fatalf("frame %d: 1000 Hz share %.2f", i, s)
		}
		prev = h
	}
}

// TestMediaTimeout: a leg that should send and stays silent raises one
// timeout event after MediaTimeout (decision 12), swept by the clock.
func TestMediaTimeout(t *testing.T) {
	rig := newRig(t, true)
	p := newPeer(t)
	var log eventLog
	e := rig.endpoint(t, EndpointConfig{Events: &log, MediaTimeout: 3 * time.Second})
	e.SetRemote(remoteFor(p, CodecPCMU, -1))
	start := time.Now()
	for i := range 50 * 10 { // 10 s of ticks on a fake clock
		rig.clock.step(start.Add(time.Duration(i)*FrameDuration), 0)
		if i == 50*2 && len(log.list()) != 0 {
			t.Fatal("timeout before MediaTimeout")
		}
	}
	ev := log.list()
	if len(ev) != 1 || ev[0].Kind != EventMediaTimeout {
		t.Fatalf("events %+v, want one media timeout", ev)
	}
}

// TestFlood: a peer sending RTP ten times faster than a phone gets a
// bounded share through; the rest is dropped and counted.
func TestFlood(t *testing.T) {
	rig := newRig(t, true)
	pa, pb := newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, -1))
	b.SetRemote(remoteFor(pb, CodecPCMU, -1))
	Bridge(a, b)
	payload := make([]byte, 160)
	now := time.Now()
	for i := range 2000 { // one second of a 2000 packets/s flood
		h := RTPHeader{SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 1}
		buf := make([]byte, 12+160, 12+160+SRTPTailroom)
		h.MarshalTo(buf)
		copy(buf[12:], payload)
		a.receiveRTP(buf, pa.addr(), now.Add(time.Duration(i)*time.Second/2000))
	}
	st := a.Stats()
	if st.PacketsIn > floodBurst+maxPacketRate+10 || st.Flooded < 2000-floodBurst-maxPacketRate-10 {
		t.Fatalf("flood of 2000 packets in 1 s: %d accepted, %d dropped", st.PacketsIn, st.Flooded)
	}
}

// TestInterleavedEventSource: a phone that sends its RFC 4733 events with
// another SSRC than its audio, interleaved (SIPp does): every packet of
// the event leaves with the event's start timestamp, the audio keeps its
// timeline, and sequence numbers only grow (decision 10).
func TestInterleavedEventSource(t *testing.T) {
	rig := newRig(t, true)
	pa, pb := newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, 101))
	b.SetRemote(remoteFor(pb, CodecPCMU, 101))
	Bridge(a, b)
	audio := make([]byte, 160)
	var evTS []uint32
	var audioTS []uint32
	var lastSeq uint16
	for i := range 10 {
		pa.send(a.LocalAddr(), RTPHeader{PayloadType: 0, SequenceNumber: uint16(100 + i), Timestamp: uint32(1000 + 160*i), SSRC: 0xCA110000}, audio)
		h, _ := pb.recv()
		audioTS = append(audioTS, h.Timestamp)
		if i > 0 && h.SequenceNumber != lastSeq+1 {
			t.Fatalf("sequence %d after %d", h.SequenceNumber, lastSeq)
		}
		lastSeq = h.SequenceNumber
		ev := DTMFEvent{Event: 5, Volume: 10, Duration: uint16(160 * (i + 1)), End: i == 9}
		payload := make([]byte, 4)
		ev.MarshalTo(payload)
		pa.send(a.LocalAddr(), RTPHeader{PayloadType: 101, Marker: i == 0, SequenceNumber: uint16(5000 + i), Timestamp: 777777, SSRC: 0x1234}, payload)
		h, _ = pb.recv()
		evTS = append(evTS, h.Timestamp)
		if h.SequenceNumber != lastSeq+1 {
			t.Fatalf("event sequence %d after %d", h.SequenceNumber, lastSeq)
		}
		lastSeq = h.SequenceNumber
		if i > 0 && h.Marker {
			t.Errorf("event packet %d has the marker bit", i)
		}
	}
	for i, ts := range evTS {
		if ts != evTS[0] {
			t.Fatalf("event packet %d has timestamp %d, the event started at %d", i, ts, evTS[0])
		}
	}
	for i := 1; i < len(audioTS); i++ {
		if audioTS[i]-audioTS[i-1] != 160 {
			t.Fatalf("audio timeline broken: %v", audioTS)
		}
	}
}

// TestFloodCostsNoMemory: a flood at a bridged leg allocates nothing per
// packet, neither for the packets relayed nor for those dropped as flood,
// so memory stays flat however long it lasts (TestFlood counts them).
func TestFloodCostsNoMemory(t *testing.T) {
	rig := newRig(t, true)
	pa, pb := newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, -1))
	b.SetRemote(remoteFor(pb, CodecPCMU, -1))
	Bridge(a, b)
	buf := make([]byte, 12+160, 12+160+SRTPTailroom)
	now := time.Now()
	i := 0
	send := func() {
		h := RTPHeader{SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 1}
		h.MarshalTo(buf)
		a.receiveRTP(buf[:12+160], pa.addr(), now.Add(time.Duration(i)*time.Second/4000))
		i++
	}
	for range 100 { // latch, lock and allocate the leg's lazy state first
		send()
	}
	allocs := testing.AllocsPerRun(8000, send) // 2 s at 4000 packets/s
	st := a.Stats()
	if st.Flooded == 0 || st.PacketsIn == 0 {
		t.Fatalf("the flood was not both relayed and dropped: %d in, %d flooded", st.PacketsIn, st.Flooded)
	}
	if allocs != 0 {
		t.Fatalf("%.2f allocations per flooded packet, want 0", allocs)
	}
}
