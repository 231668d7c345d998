package media

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func srtpKey(t testing.TB) []byte {
	k := make([]byte, srtpKeyLen+srtpSaltLen)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func pionContext(t testing.TB, key []byte) *srtp.Context {
	t.Helper()
	c, err := srtp.CreateContext(key[:srtpKeyLen], key[srtpKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSRTPRelay: an SRTP leg bridged with a plain leg. What the SRTP
// peer sends (encrypted with its key) reaches the plain peer decrypted;
// what the plain peer sends reaches the SRTP peer encrypted with our key;
// a forged packet is dropped and counted, never relayed.
func TestSRTPRelay(t *testing.T) {
	rig := newRig(t, true)
	ps, pp := newPeer(t), newPeer(t)
	local, remote := srtpKey(t), srtpKey(t)
	s := rig.endpoint(t, EndpointConfig{})
	p := rig.endpoint(t, EndpointConfig{})
	rs := remoteFor(ps, CodecPCMU, -1)
	rs.SRTP = &SRTP{Tag80: true, Local: local, Remote: remote}
	if err := s.SetRemote(rs); err != nil {
		t.Fatal(err)
	}
	if err := p.SetRemote(remoteFor(pp, CodecPCMU, -1)); err != nil {
		t.Fatal(err)
	}
	Bridge(s, p)
	peerTx, peerRx := pionContext(t, remote), pionContext(t, local)
	payload := bytes.Repeat([]byte{0x55}, 160)

	// SRTP peer → plain peer.
	plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 160, SSRC: 9}, Payload: payload}).Marshal()
	enc, err := peerTx.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.conn.WriteToUDPAddrPort(enc, s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, got := pp.recv(); !bytes.Equal(got, payload) {
		t.Fatal("the plain peer did not get the decrypted payload")
	}

	// Plain peer → SRTP peer: encrypted with our key.
	pp.send(p.LocalAddr(), RTPHeader{SequenceNumber: 1, Timestamp: 160, SSRC: 4}, payload)
	buf := make([]byte, 1500)
	_ = ps.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := ps.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != 12+160+10 {
		t.Fatalf("SRTP packet of %d bytes, want %d (header, payload, 80-bit tag)", n, 12+160+10)
	}
	dec, err := peerRx.DecryptRTP(nil, buf[:n], nil)
	if err != nil {
		t.Fatalf("the SRTP peer cannot decrypt what we sent: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(dec); err != nil || !bytes.Equal(pkt.Payload, payload) {
		t.Fatalf("decrypted payload differs (%v)", err)
	}

	// A forged packet (plain RTP, or a bad tag) is dropped and counted.
	before := s.Stats()
	if _, err := ps.conn.WriteToUDPAddrPort(plain, s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Malformed == before.Malformed {
		if time.Now().After(deadline) {
			t.Fatal("the forged packet was not counted")
		}
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.PacketsIn != before.PacketsIn {
		t.Errorf("a forged packet was accepted: %+v", st)
	}
}

// BenchmarkRelaySRTP measures the relay of an SRTP leg into another SRTP
// leg: decrypt, rewrite, encrypt, sendto.
func BenchmarkRelaySRTP(b *testing.B) {
	rig := newRig(b, true)
	pa, pb := newPeer(b), newPeer(b)
	ka, kb := srtpKey(b), srtpKey(b)
	x := rig.endpoint(b, EndpointConfig{})
	y := rig.endpoint(b, EndpointConfig{})
	ra := remoteFor(pa, CodecPCMU, -1)
	ra.SRTP = &SRTP{Tag80: true, Local: srtpKey(b), Remote: ka}
	rb := remoteFor(pb, CodecPCMU, -1)
	rb.SRTP = &SRTP{Tag80: true, Local: kb, Remote: srtpKey(b)}
	if err := x.SetRemote(ra); err != nil {
		b.Fatal(err)
	}
	if err := y.SetRemote(rb); err != nil {
		b.Fatal(err)
	}
	Bridge(x, y)
	peer := pionContext(b, ka)
	const n = 4096
	pkts := make([][]byte, n)
	for i := range pkts {
		plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 3}, Payload: make([]byte, 160)}).Marshal()
		enc, err := peer.EncryptRTP(nil, plain, nil)
		if err != nil {
			b.Fatal(err)
		}
		pkts[i] = enc
	}
	buf := make([]byte, MaxPacketSize+SRTPTailroom)
	src := pa.addr()
	now := time.Now()
	b.ReportAllocs()
	i, k := 0, 0
	for b.Loop() {
		if i == n {
			b.StopTimer() // the replay window needs new sequence numbers
			x.SetRemote(ra)
			i = 0
			b.StartTimer()
		}
		pkt := buf[:copy(buf, pkts[i])]
		st := x.remote.Load()
		dec, err := st.crypto.unprotect(pkt)
		if err != nil {
			b.Fatal(err)
		}
		x.receiveRTP(dec, src, now.Add(time.Duration(k)*FrameDuration))
		i++
		k++
	}
}
