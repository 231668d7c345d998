package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

// rtpPacket builds a packet with pion/rtp, independent of our marshaller.
func rtpPacket(t testing.TB, h rtp.Header, payload []byte, padding byte) []byte {
	t.Helper()
	h.Version = 2
	if padding > 0 {
		h.Padding = true
		h.PaddingSize = padding
	}
	p := rtp.Packet{Header: h, Payload: payload, PaddingSize: padding}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRTP(t *testing.T) {
	base := rtp.Header{Marker: true, PayloadType: 8, SequenceNumber: 65535, Timestamp: 0xFFFFFF00, SSRC: 0xCA110001}
	withCSRC := base
	withCSRC.CSRC = []uint32{1, 2, 3}
	withExt := base
	if err := withExt.SetExtension(1, []byte{0xAA, 0xBB}); err != nil {
		t.Fatal(err)
	}
	want := RTPHeader{Marker: true, PayloadType: 8, SequenceNumber: 65535, Timestamp: 0xFFFFFF00, SSRC: 0xCA110001}
	payload := []byte("0123456789")
	tests := []struct {
		name    string
		pkt     []byte
		payload []byte
	}{
		{"plain", rtpPacket(t, base, payload, 0), payload},
		{"csrc", rtpPacket(t, withCSRC, payload, 0), payload},
		{"extension", rtpPacket(t, withExt, payload, 0), payload},
		{"padding", rtpPacket(t, base, payload, 4), payload},
		{"padding only", rtpPacket(t, base, nil, 3), []byte{}},
		{"no payload", rtpPacket(t, base, nil, 0), []byte{}},
		{"all", rtpPacket(t, func() rtp.Header { h := withExt; h.CSRC = []uint32{7}; return h }(), payload, 1), payload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, err := ParseRTP(tt.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if h != want {
				t.Errorf("header %+v, want %+v", h, want)
			}
			if !bytes.Equal(p, tt.payload) {
				t.Errorf("payload %q, want %q", p, tt.payload)
			}
			// The payload aliases the packet with its capacity intact.
			off := cap(tt.pkt) - cap(p)
			if off < RTPHeaderSize || (cap(p) > 0 && &tt.pkt[:cap(tt.pkt)][off] != &p[:cap(p)][0]) {
				t.Errorf("payload does not alias the packet at offset %d", off)
			}
		})
	}
}

func TestParseRTPMalformed(t *testing.T) {
	good := rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 1}, []byte{1, 2, 3, 4}, 0)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, errRTPShort},
		{"11 bytes", good[:11], errRTPShort},
		{"version 0", mod(func(b []byte) []byte { b[0] &^= 0xC0; return b }), errRTPVersion},
		{"version 1", mod(func(b []byte) []byte { b[0] = b[0]&^0xC0 | 0x40; return b }), errRTPVersion},
		{"version 3", mod(func(b []byte) []byte { b[0] |= 0xC0; return b }), errRTPVersion},
		{"csrc overrun", mod(func(b []byte) []byte { b[0] |= 0x02; return b }), errRTPCSRC},
		{"ext header overrun", mod(func(b []byte) []byte { b[0] |= rtpExtBit; return b[:14] }), errRTPExtension},
		{"ext body overrun", mod(func(b []byte) []byte {
			b[0] |= rtpExtBit
			binary.BigEndian.PutUint16(b[14:], 1)
			return b
		}), errRTPExtension},
		{"padding zero", mod(func(b []byte) []byte { b[0] |= rtpPaddingBit; b[len(b)-1] = 0; return b }), errRTPPadding},
		{"padding overrun", mod(func(b []byte) []byte { b[0] |= rtpPaddingBit; b[len(b)-1] = 5; return b }), errRTPPadding},
		{"padding no room", mod(func(b []byte) []byte { b[0] |= rtpPaddingBit; return b[:12] }), errRTPPadding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseRTP(tt.pkt)
			if !errors.Is(err, ErrMalformedRTP) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// A padding count equal to the whole payload is valid (empty payload).
	b := mod(func(b []byte) []byte { b[0] |= rtpPaddingBit; b[len(b)-1] = 4; return b })
	if _, p, err := ParseRTP(b); err != nil || len(p) != 0 {
		t.Errorf("full padding: payload %v, err %v", p, err)
	}
}

func TestRTPMarshalTo(t *testing.T) {
	h := RTPHeader{Marker: true, PayloadType: 101, SequenceNumber: 4242, Timestamp: 123456789, SSRC: 0xDEADBEEF}
	var buf [RTPHeaderSize + 2]byte
	if n := h.MarshalTo(buf[:]); n != RTPHeaderSize {
		t.Fatalf("MarshalTo = %d", n)
	}
	var p rtp.Header
	if _, err := p.Unmarshal(buf[:]); err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || p.Padding || p.Extension || len(p.CSRC) != 0 || !p.Marker ||
		p.PayloadType != 101 || p.SequenceNumber != 4242 || p.Timestamp != 123456789 || p.SSRC != 0xDEADBEEF {
		t.Errorf("pion read %+v", p)
	}
	if n := h.MarshalTo(buf[:11]); n != 0 {
		t.Errorf("MarshalTo(short) = %d, want 0", n)
	}
	h.PayloadType = 0xFF // truncated to 7 bits
	h.MarshalTo(buf[:])
	if got, _, _ := ParseRTP(buf[:]); got.PayloadType != 0x7F || !got.Marker {
		t.Errorf("PT 0xFF -> %+v", got)
	}
}

func TestIsRTCP(t *testing.T) {
	tests := []struct {
		b    []byte
		want bool
	}{
		{nil, false},
		{[]byte{0x80}, false},
		{[]byte{0x80, 0}, false},           // PCMU
		{[]byte{0x80, 0x80}, false},        // PCMU with marker
		{[]byte{0x80, 101}, false},         // telephone-event
		{[]byte{0x80, 101 | 0x80}, false},  // telephone-event with marker (229)
		{[]byte{0x80, 191}, false},         // PT 63 with marker
		{[]byte{0x80, 192}, true},          // FIR / lowest RTCP
		{[]byte{0x80, 200}, true},          // SR
		{[]byte{0x81, 201}, true},          // RR
		{[]byte{0x81, 202}, true},          // SDES
		{[]byte{0x81, 203}, true},          // BYE
		{[]byte{0x81, 223}, true},          // highest
		{[]byte{0x81, 224}, false},         // PT 96 with marker
		{[]byte{0x80, 13}, false},          // CN
		{[]byte{0x80, 0x80 | 13}, false},   // CN with marker
		{[]byte{0x80, 0x80 | 8, 1}, false}, // PCMA with marker
	}
	for _, tt := range tests {
		if got := IsRTCP(tt.b); got != tt.want {
			t.Errorf("IsRTCP(% x) = %v, want %v", tt.b, got, tt.want)
		}
	}
}

func TestRewriteRTP(t *testing.T) {
	orig := rtp.Header{PayloadType: 0, SequenceNumber: 1, Timestamp: 2, SSRC: 3, CSRC: []uint32{9}}
	if err := orig.SetExtension(1, []byte{1}); err != nil {
		t.Fatal(err)
	}
	pkt := rtpPacket(t, orig, []byte("payload"), 2)
	want := RTPHeader{Marker: true, PayloadType: 8, SequenceNumber: 65000, Timestamp: 1 << 31, SSRC: 77}
	RewriteRTP(pkt, want)
	h, p, err := ParseRTP(pkt)
	if err != nil || h != want || string(p) != "payload" {
		t.Fatalf("after RewriteRTP: %+v %q %v", h, p, err)
	}
	var ph rtp.Packet
	if err := ph.Unmarshal(pkt); err != nil || len(ph.CSRC) != 1 || ph.CSRC[0] != 9 || !ph.Extension || ph.PaddingSize != 2 {
		t.Errorf("CSRC/extension/padding lost: %+v %v", ph.Header, err)
	}
	SetRTPMarker(pkt, false)
	SetRTPPayloadType(pkt, 101)
	if h, _, _ = ParseRTP(pkt); h.Marker || h.PayloadType != 101 {
		t.Errorf("marker/pt setters: %+v", h)
	}
	SetRTPMarker(pkt, true)
	SetRTPPayloadType(pkt, 0)
	if h, _, _ = ParseRTP(pkt); !h.Marker || h.PayloadType != 0 {
		t.Errorf("SetRTPPayloadType cleared the marker: %+v", h)
	}
	short := []byte{1, 2, 3}
	RewriteRTP(short, want) // no panic, no change
	SetRTPMarker(short, true)
	SetRTPPayloadType(short, 1)
	SetRTPSequenceNumber(short, 1)
	SetRTPTimestamp(short, 1)
	SetRTPSSRC(short, 1)
	if !bytes.Equal(short, []byte{1, 2, 3}) {
		t.Errorf("short packet modified: %v", short)
	}
}

func TestSeqAndTSDiff(t *testing.T) {
	if d := seqDiff(0, 65535); d != 1 {
		t.Errorf("seqDiff(0, 65535) = %d", d)
	}
	if d := seqDiff(65535, 0); d != -1 {
		t.Errorf("seqDiff(65535, 0) = %d", d)
	}
	if d := tsDiff(80, 0xFFFFFFB0); d != 160 {
		t.Errorf("tsDiff wrap = %d", d)
	}
}

func FuzzParseRTP(f *testing.F) {
	for _, s := range [][]byte{
		{0x80, 0, 0, 1, 0, 0, 0, 160, 0xCA, 0x11, 0, 0, 0xFF, 0xFF},
		{0xA0, 0x80, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0xFF, 0, 2},
		{0x92, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0, 5, 0x8A, 0, 160},
		{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0xFF, 0xFF},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseRTP(b)
		var ph rtp.Packet
		pionErr := ph.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedRTP) {
				t.Fatalf("error %v does not wrap ErrMalformedRTP", err)
			}
			if pionErr == nil && ph.Version == 2 {
				t.Fatalf("pion accepts what we reject (%v): % x", err, b)
			}
			return
		}
		// The payload lies inside b, after at least the fixed header.
		off := cap(b) - cap(p)
		if off < RTPHeaderSize || off+len(p) > len(b) || (len(p) > 0 && &b[off] != &p[0]) {
			t.Fatalf("payload [%d:%d] outside packet of %d", off, off+len(p), len(b))
		}
		if pionErr == nil {
			if ph.Marker != h.Marker || ph.PayloadType != h.PayloadType || ph.SequenceNumber != h.SequenceNumber ||
				ph.Timestamp != h.Timestamp || ph.SSRC != h.SSRC || !bytes.Equal(ph.Payload, p) {
				t.Fatalf("pion disagrees: %+v %q vs %+v %q", ph.Header, ph.Payload, h, p)
			}
		}
		// Round trip through MarshalTo.
		out := make([]byte, RTPHeaderSize+len(p))
		if n := h.MarshalTo(out); n != RTPHeaderSize {
			t.Fatalf("MarshalTo = %d", n)
		}
		copy(out[RTPHeaderSize:], p)
		h2, p2, err := ParseRTP(out)
		if err != nil || h2 != h || !bytes.Equal(p2, p) {
			t.Fatalf("round trip: %+v %q %v, want %+v %q", h2, p2, err, h, p)
		}
	})
}

func benchRTPPacket() []byte {
	b := make([]byte, RTPHeaderSize+FrameSamples, MaxPacketSize+1+SRTPTailroom)
	RTPHeader{PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 1}.MarshalTo(b)
	return b
}

func BenchmarkParseRTP(b *testing.B) {
	pkt := benchRTPPacket()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRTP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRTPMalformed(b *testing.B) {
	pkt := benchRTPPacket()
	pkt[0] = 0x40
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRTP(pkt); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkPionHeaderUnmarshal is pion/rtp with a reused Header, for the
// decision to hand-write ParseRTP (see rtp.go).
func BenchmarkPionHeaderUnmarshal(b *testing.B) {
	pkt := benchRTPPacket()
	var h rtp.Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPionHeaderUnmarshalMalformed(b *testing.B) {
	pkt := benchRTPPacket()[:11]
	var h rtp.Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Unmarshal(pkt); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkRTPMarshalTo(b *testing.B) {
	pkt := benchRTPPacket()
	h := RTPHeader{PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 1}
	b.ReportAllocs()
	for b.Loop() {
		h.SequenceNumber++
		h.MarshalTo(pkt)
	}
}
