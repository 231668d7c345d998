package mediaservertest

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// BenchmarkSenderStep measures building one 20 ms PCMU packet of a tone.
func BenchmarkSenderStep(b *testing.B) {
	m := &media{frame: 160, canSend: true, codec: PCMU, tePT: -1,
		remote: netip.MustParseAddrPort("127.0.0.1:4000"), gen: generator{toneHz: 1000}}
	buf, pcm := make([]byte, maxDatagram), make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if n, _, _ := m.step(buf, pcm); n != 172 {
			b.Fatalf("packet of %d bytes", n)
		}
	}
}

// BenchmarkReceive measures decoding and recording one 20 ms PCMU packet.
func BenchmarkReceive(b *testing.B) {
	var r receiver
	r.tePTs = [2]int{101, 101}
	p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: make([]byte, 160)}
	src := netip.MustParseAddrPort("127.0.0.1:4000")
	raw, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	var pkt rtp.Packet
	b.ReportAllocs()
	for b.Loop() {
		binary.BigEndian.PutUint16(raw[2:4], binary.BigEndian.Uint16(raw[2:4])+1) // next sequence number
		r.handle(&pkt, raw, src, false)
	}
}
