package media

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// waitStats polls e's counters until ok or a generous deadline.
func waitStats(t *testing.T, e *Endpoint, what string, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(e.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGarbageAtLivePort: datagrams that are not RTP — giant (64 KB),
// tiny, a wrong RTP version, a truncated header with CSRCs — arrive at a
// bridged leg's RTP and RTCP ports from its own peer, in the middle of
// the call. Each is counted as malformed and dropped, none reaches the
// other leg, and the next valid packet is relayed as before: a broken or
// hostile peer costs one read each and no memory.
func TestGarbageAtLivePort(t *testing.T) {
	rig := newRig(t, true)
	pa, pb := newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, 101))
	b.SetRemote(remoteFor(pb, CodecPCMU, 101))
	Bridge(a, b)
	payload := bytes.Repeat([]byte{0x55}, 160)
	pa.send(a.LocalAddr(), RTPHeader{SequenceNumber: 1, Timestamp: 160, SSRC: 3}, payload)
	if _, got := pb.recv(); !bytes.Equal(got, payload) {
		t.Fatal("the first valid packet was not relayed")
	}

	giant := bytes.Repeat([]byte{0x80}, 65000)
	badVersion := append([]byte{0x40, 0, 0, 2, 0, 0, 0, 160, 0, 0, 0, 3}, payload...)
	csrcCut := []byte{0x8f, 0, 0, 3, 0, 0, 1, 64, 0, 0, 0, 3, 1, 2} // 15 CSRCs announced, none there
	garbage := [][]byte{giant, {0x80}, {0x80, 0, 0}, badVersion, csrcCut}
	rtcpAddr := netip.AddrPortFrom(a.LocalAddr().Addr(), a.LocalAddr().Port()+1)
	for _, g := range garbage {
		if _, err := pa.conn.WriteToUDPAddrPort(g, a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if _, err := pa.conn.WriteToUDPAddrPort(g, rtcpAddr); err != nil {
			t.Fatal(err)
		}
	}
	// Everything sent to the RTP port is dropped as malformed; of what
	// reached the RTCP port, what is not a compound RTCP packet too (the
	// RTCP reader may count a parse failure, never relays).
	waitStats(t, a, "garbage counted", func(s Stats) bool { return s.Malformed >= uint64(len(garbage)) })
	if st := a.Stats(); st.PacketsIn != 1 {
		t.Fatalf("garbage accepted as RTP: %+v", st)
	}

	pa.send(a.LocalAddr(), RTPHeader{SequenceNumber: 2, Timestamp: 320, SSRC: 3}, payload)
	h, got := pb.recv()
	if !bytes.Equal(got, payload) || h.Timestamp == 0 {
		t.Fatalf("after the garbage: relayed %d bytes %+v", len(got), h)
	}
	if st := b.Stats(); st.PacketsOut != 2 {
		t.Fatalf("leg b sent %d packets, want the 2 valid ones", st.PacketsOut)
	}
}

// TestStrictSource: with StrictSource (Config.StrictRTPSource) a leg
// accepts RTP only from the address the SDP gave; a NATed source on
// another port, which latching would follow, is dropped and never
// relayed, and the leg keeps sending to the SDP address.
func TestStrictSource(t *testing.T) {
	rig := newRig(t, true)
	sdpPeer, other, pb := newPeer(t), newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{StrictSource: true})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(sdpPeer, CodecPCMU, -1))
	b.SetRemote(remoteFor(pb, CodecPCMU, -1))
	Bridge(a, b)
	payload := bytes.Repeat([]byte{0x33}, 160)
	for i := range 5 {
		other.send(a.LocalAddr(), RTPHeader{SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 8}, payload)
	}
	waitStats(t, a, "other source dropped", func(s Stats) bool { return s.Foreign >= 5 })
	if got := *a.remote.Load().sendRTP.Load(); got != sdpPeer.addr() {
		t.Fatalf("strict leg sends to %v, want the SDP address %v", got, sdpPeer.addr())
	}
	sdpPeer.send(a.LocalAddr(), RTPHeader{SequenceNumber: 10, Timestamp: 1600, SSRC: 9}, payload)
	h, _ := pb.recv()
	if st := a.Stats(); st.PacketsIn != 1 || st.Foreign != 5 {
		t.Fatalf("stats %+v, want 1 accepted and 5 foreign", st)
	}
	if st := b.Stats(); st.PacketsOut != 1 {
		t.Fatalf("leg b sent %d packets, want only the SDP source's (%+v)", st.PacketsOut, h)
	}
}

// TestHoldKeepsSequence: packets a leg does not send because its peer put
// the call on hold leave no gap in its sequence numbers after resume
// (the peer would count them as lost), while the timestamps jump by the
// time the hold lasted; the same for generated audio.
func TestHoldKeepsSequence(t *testing.T) {
	rig := newRig(t, true)
	pa, pb := newPeer(t), newPeer(t)
	a := rig.endpoint(t, EndpointConfig{})
	b := rig.endpoint(t, EndpointConfig{})
	a.SetRemote(remoteFor(pa, CodecPCMU, -1))
	rb := remoteFor(pb, CodecPCMU, -1)
	b.SetRemote(rb)
	Bridge(a, b)
	payload := bytes.Repeat([]byte{0x44}, 160)
	send := func(i int) {
		pa.send(a.LocalAddr(), RTPHeader{SequenceNumber: uint16(100 + i), Timestamp: uint32(8000 + 160*i), SSRC: 5}, payload)
	}
	send(0)
	first, _ := pb.recv()
	held := rb
	held.Send = false // b's phone sent a=sendonly: it hears nothing
	b.SetRemote(held)
	for i := 1; i <= 10; i++ {
		send(i)
	}
	waitStats(t, a, "held packets received", func(s Stats) bool { return s.PacketsIn == 11 })
	b.SetRemote(rb)
	send(11)
	h, _ := pb.recv()
	if h.SequenceNumber != first.SequenceNumber+1 {
		t.Errorf("after the hold: sequence %d after %d, want no gap", h.SequenceNumber, first.SequenceNumber)
	}
	if h.Timestamp-first.Timestamp != 11*160 {
		t.Errorf("after the hold: timestamp advanced %d, want %d (the source's)", h.Timestamp-first.Timestamp, 11*160)
	}

	// Generated audio: a leg with a source, held for 10 ticks.
	pc := newPeer(t)
	c := rig.endpoint(t, EndpointConfig{})
	rc := remoteFor(pc, CodecPCMU, -1)
	c.SetRemote(rc)
	c.SetSource(levelSource(500))
	now := time.Now()
	tick := 0
	step := func() {
		rig.clock.step(now.Add(time.Duration(tick)*FrameDuration), 0)
		tick++
	}
	step()
	g1, _ := pc.recv()
	heldC := rc
	heldC.Send = false
	c.SetRemote(heldC)
	for range 10 {
		step()
	}
	c.SetRemote(rc)
	step()
	g2, _ := pc.recv()
	if g2.SequenceNumber != g1.SequenceNumber+1 {
		t.Errorf("generated after the hold: sequence %d after %d, want no gap", g2.SequenceNumber, g1.SequenceNumber)
	}
	if d := g2.Timestamp - g1.Timestamp; d < 11*FrameSamples {
		t.Errorf("generated after the hold: timestamp advanced %d, want at least %d", d, 11*FrameSamples)
	}
}
