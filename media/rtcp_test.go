package media

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestReceiverStatsSequence(t *testing.T) {
	tests := []struct {
		name     string
		seqs     []uint16
		lost     int64
		received uint32
		extMax   uint32
	}{
		{"in order", []uint16{10, 11, 12, 13}, 0, 4, 13},
		{"one lost", []uint16{10, 11, 13, 14}, 1, 4, 14},
		{"reordered", []uint16{10, 12, 11, 13}, 0, 4, 13},
		{"duplicate", []uint16{10, 11, 11, 12}, -1, 4, 12},
		{"wrap", []uint16{65534, 65535, 0, 1}, 0, 4, 1<<16 + 1},
		{"wrap with loss", []uint16{65534, 1, 2}, 2, 3, 1<<16 + 2},
		{"late packet across wrap", []uint16{65535, 1, 0, 2}, 0, 4, 1<<16 + 2},
		{"one wild jump dropped", []uint16{10, 11, 40000, 12}, 0, 3, 12},
		{"sender restart: two in a row", []uint16{10, 11, 40000, 40001, 40002}, 0, 2, 40002}, // A.1 drops the first
		{"gap below max dropout", []uint16{10, 2000}, 1989, 2, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ReceiverStats
			now := time.Unix(0, 0)
			for i, s := range tt.seqs {
				r.Update(RTPHeader{SequenceNumber: s, Timestamp: uint32(i * 160), SSRC: 5}, now)
				now = now.Add(FrameDuration)
			}
			if r.Lost() != tt.lost || r.Received() != tt.received || r.ExtendedHighestSeq() != tt.extMax {
				t.Errorf("lost %d received %d extMax %d, want %d %d %d",
					r.Lost(), r.Received(), r.ExtendedHighestSeq(), tt.lost, tt.received, tt.extMax)
			}
		})
	}
	var r ReceiverStats
	if _, ok := r.SSRC(); ok || r.Lost() != 0 {
		t.Error("zero value reports a stream")
	}
	r.Update(RTPHeader{SequenceNumber: 1, SSRC: 1}, time.Unix(0, 0))
	r.Update(RTPHeader{SequenceNumber: 5, SSRC: 1}, time.Unix(0, 0))
	r.Update(RTPHeader{SequenceNumber: 900, SSRC: 2}, time.Unix(0, 0)) // new source restarts
	if s, ok := r.SSRC(); !ok || s != 2 || r.Lost() != 0 || r.Received() != 1 {
		t.Errorf("after SSRC change: ssrc %d lost %d received %d", s, r.Lost(), r.Received())
	}
}

func TestReceiverStatsJitter(t *testing.T) {
	base := time.Unix(100, 0)
	run := func(delay func(i int) time.Duration, ts func(i int) uint32) uint32 {
		var r ReceiverStats
		for i := range 2000 {
			r.Update(RTPHeader{SequenceNumber: uint16(i), Timestamp: ts(i), SSRC: 1},
				base.Add(time.Duration(i)*FrameDuration+delay(i)))
		}
		return r.Jitter()
	}
	steady := func(i int) uint32 { return 0xFFFF0000 + uint32(i*160) } // wraps
	if j := run(func(int) time.Duration { return 7 * time.Millisecond }, steady); j != 0 {
		t.Errorf("constant delay: jitter %d", j)
	}
	// Delay alternating 0 / 10 ms: |D| = 80 samples every packet, J → 80.
	alt := func(i int) time.Duration { return time.Duration(i%2) * 10 * time.Millisecond }
	if j := run(alt, steady); j < 75 || j > 80 {
		t.Errorf("alternating delay: jitter %d, want about 80", j)
	}
	// RFC 4733 updates repeat their timestamp every 20 ms: no jitter.
	event := func(i int) uint32 { return uint32(i/10*1600) + 1000 }
	if j := run(func(int) time.Duration { return 0 }, event); j > 40 {
		t.Errorf("dtmf timestamps: jitter %d", j)
	}
}

// reportFixture is a receiver that saw 100 packets of which 10 were lost.
func reportFixture(t testing.TB) *ReceiverStats {
	t.Helper()
	var r ReceiverStats
	now := time.Unix(1000, 0)
	for i := range 100 {
		if i%10 == 5 {
			continue
		}
		r.Update(RTPHeader{SequenceNumber: uint16(65500 + i), Timestamp: uint32(i * 160), SSRC: 0xCAFE}, now.Add(time.Duration(i)*FrameDuration))
	}
	return &r
}

func TestBuildReportPion(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	tests := []struct {
		name   string
		sender *SenderInfo
		r      *ReceiverStats
	}{
		{"SR with block", &SenderInfo{RTPTime: 123456, Packets: 42, Octets: 6720}, reportFixture(t)},
		{"RR with block", nil, reportFixture(t)},
		{"SR alone", &SenderInfo{RTPTime: 1}, nil},
		{"empty RR", nil, nil},
		{"RR, no packet yet", nil, &ReceiverStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, 76)
			n := BuildReport(buf, 0x11223344, tt.sender, tt.r, now)
			if n == 0 || n%4 != 0 {
				t.Fatalf("BuildReport = %d", n)
			}
			if err := ParseRTCP(buf[:n], nil, now); err != nil {
				t.Fatalf("own report rejected: %v", err)
			}
			pkts, err := rtcp.Unmarshal(buf[:n])
			if err != nil {
				t.Fatalf("pion: %v", err)
			}
			if len(pkts) != 2 {
				t.Fatalf("%d packets", len(pkts))
			}
			var blocks []rtcp.ReceptionReport
			switch p := pkts[0].(type) {
			case *rtcp.SenderReport:
				if tt.sender == nil {
					t.Fatal("SR without sender info")
				}
				wantNTP := uint64(now.Unix()+2208988800)<<32 | 1<<31
				if p.SSRC != 0x11223344 || p.NTPTime != wantNTP || p.RTPTime != tt.sender.RTPTime ||
					p.PacketCount != tt.sender.Packets || p.OctetCount != tt.sender.Octets {
					t.Errorf("SR %+v", p)
				}
				blocks = p.Reports
			case *rtcp.ReceiverReport:
				if tt.sender != nil {
					t.Fatal("RR with sender info")
				}
				if p.SSRC != 0x11223344 {
					t.Errorf("RR %+v", p)
				}
				blocks = p.Reports
			default:
				t.Fatalf("first packet %T", p)
			}
			sdes, ok := pkts[1].(*rtcp.SourceDescription)
			if !ok || len(sdes.Chunks) != 1 || sdes.Chunks[0].Source != 0x11223344 ||
				len(sdes.Chunks[0].Items) != 1 || sdes.Chunks[0].Items[0].Type != rtcp.SDESCNAME ||
				sdes.Chunks[0].Items[0].Text != "ms-11223344" {
				t.Errorf("SDES %+v", pkts[1])
			}
			if tt.r == nil || !tt.r.started {
				if len(blocks) != 0 {
					t.Errorf("%d blocks", len(blocks))
				}
				return
			}
			if len(blocks) != 1 {
				t.Fatalf("%d blocks", len(blocks))
			}
			b := blocks[0]
			// 10 of 100 lost: fraction 25/256; sequence wrapped once.
			if b.SSRC != 0xCAFE || b.FractionLost != 25 || b.TotalLost != 10 ||
				b.LastSequenceNumber != 1<<16+(65500+99-65536) || b.Jitter != tt.r.Jitter() ||
				b.LastSenderReport != 0 || b.Delay != 0 {
				t.Errorf("block %+v", b)
			}
			// The next report covers a new interval with no loss.
			n = BuildReport(buf, 0x11223344, tt.sender, tt.r, now)
			pkts, _ = rtcp.Unmarshal(buf[:n])
			var again rtcp.ReceptionReport
			if sr, ok := pkts[0].(*rtcp.SenderReport); ok {
				again = sr.Reports[0]
			} else {
				again = pkts[0].(*rtcp.ReceiverReport).Reports[0]
			}
			if again.FractionLost != 0 || again.TotalLost != 10 {
				t.Errorf("second interval %+v", again)
			}
		})
	}
	if n := BuildReport(make([]byte, 75), 1, &SenderInfo{}, reportFixture(t), now); n != 0 {
		t.Errorf("short buffer: %d", n)
	}
	if n := BuildReport(make([]byte, 31), 1, nil, nil, now); n != 0 {
		t.Errorf("short buffer for an empty RR: %d", n)
	}
	if n := BuildReport(make([]byte, 32), 1, nil, nil, now); n != 32 {
		t.Errorf("empty RR: %d bytes", n)
	}
}

func TestLSRAndDLSR(t *testing.T) {
	r := reportFixture(t)
	srAt := time.Unix(2000, 0)
	ntp := uint64(0x0123456789ABCDEF)
	sr := &rtcp.SenderReport{SSRC: 0xCAFE, NTPTime: ntp, RTPTime: 1, PacketCount: 1, OctetCount: 160}
	raw, err := rtcp.Marshal([]rtcp.Packet{sr, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: 0xCAFE, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "peer"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ParseRTCP(raw, r, srAt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n := BuildReport(buf, 1, nil, r, srAt.Add(1500*time.Millisecond))
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	b := pkts[0].(*rtcp.ReceiverReport).Reports[0]
	if b.LastSenderReport != 0x456789AB || b.Delay != 98304 {
		t.Errorf("LSR %#x DLSR %d, want 0x456789ab 98304", b.LastSenderReport, b.Delay)
	}
	// An SR of another source is not reported as ours.
	sr.SSRC = 0xBEEF
	raw, _ = rtcp.Marshal([]rtcp.Packet{sr})
	if err := ParseRTCP(raw, r, srAt); err != nil {
		t.Fatal(err)
	}
	n = BuildReport(buf, 1, nil, r, srAt)
	pkts, _ = rtcp.Unmarshal(buf[:n])
	if b := pkts[0].(*rtcp.ReceiverReport).Reports[0]; b.LastSenderReport != 0 || b.Delay != 0 {
		t.Errorf("foreign SR used: %+v", b)
	}
}

func TestParseRTCPAcceptsPion(t *testing.T) {
	sdes := &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 1, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}}}}
	rr := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}, {SSRC: 3}}}
	tests := []struct {
		name string
		pkts []rtcp.Packet
	}{
		{"SR+SDES", []rtcp.Packet{&rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}}, sdes}},
		{"RR+SDES+BYE", []rtcp.Packet{rr, sdes, &rtcp.Goodbye{Sources: []uint32{1}, Reason: "bye"}}},
		{"RR+PLI", []rtcp.Packet{rr, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}}},
		{"BYE alone (RFC 5506)", []rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{1, 2}}}},
		{"APP", []rtcp.Packet{rr, &rtcp.ApplicationDefined{SSRC: 1, Name: "test", Data: []byte{1, 2, 3, 4}}}},
	}
	for _, tt := range tests {
		raw, err := rtcp.Marshal(tt.pkts)
		if err != nil {
			t.Fatal(err)
		}
		if err := ParseRTCP(raw, &ReceiverStats{}, time.Unix(0, 0)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestParseRTCPMalformed(t *testing.T) {
	good := make([]byte, 76)
	good = good[:BuildReport(good, 1, &SenderInfo{}, reportFixture(t), time.Unix(0, 0))]
	mod := func(f func(b []byte) []byte) []byte {
		b := make([]byte, len(good), len(good)+8)
		copy(b, good)
		return f(b)
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errRTCPShort},
		{"3 bytes", good[:3], errRTCPShort},
		{"RTP, not RTCP", []byte{0x80, 0x00, 0, 1, 0, 0, 0, 0}, errRTCPFirst},
		{"first is PT 192", mod(func(b []byte) []byte { b[1] = 192; return b }), errRTCPFirst},
		{"version 1", mod(func(b []byte) []byte { b[0] = b[0]&0x3F | 0x40; return b }), errRTCPVersion},
		{"version of second packet", mod(func(b []byte) []byte { b[52] &= 0x3F; return b }), errRTCPVersion},
		{"length past end", mod(func(b []byte) []byte { b[55]++; return b }), errRTCPLength},
		{"length into next packet", mod(func(b []byte) []byte { b[3]++; return b }), errRTCPVersion},
		{"truncated", good[:len(good)-4], errRTCPLength},
		{"trailing bytes", mod(func(b []byte) []byte { return append(b, 0x81) }), errRTCPShort},
		{"trailing header", mod(func(b []byte) []byte { return append(b, 0x80, 201, 0, 5) }), errRTCPLength},
		{"padding not last", mod(func(b []byte) []byte { b[0] |= rtpPaddingBit; return b }), errRTCPPadding},
		{"padding count zero", mod(func(b []byte) []byte { b[52] |= rtpPaddingBit; b[len(b)-1] = 0; return b }), errRTCPPadding},
		{"padding count too big", mod(func(b []byte) []byte { b[52] |= rtpPaddingBit; b[len(b)-1] = 200; return b }), errRTCPPadding},
		{"SR count too big", mod(func(b []byte) []byte { b[0] = b[0]&^0x1F | 2; return b }), errRTCPReport},
		{"RR count too big", []byte{0x81, rtcpRR, 0, 1, 0, 0, 0, 1}, errRTCPReport},
		{"BYE count too big", []byte{0x82, rtcpBYE, 0, 1, 0, 0, 0, 1}, errRTCPReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseRTCP(tt.b, &ReceiverStats{}, time.Unix(0, 0))
			if !errors.Is(err, ErrMalformedRTCP) || !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Valid padding on the last packet is accepted.
	b := mod(func(b []byte) []byte {
		b[52] |= rtpPaddingBit
		b = append(b, 0, 0, 0, 4)
		binary.BigEndian.PutUint16(b[54:], binary.BigEndian.Uint16(b[54:])+1)
		return b
	})
	if err := ParseRTCP(b, nil, time.Unix(0, 0)); err != nil {
		t.Errorf("padded SDES: %v", err)
	}
}

func FuzzParseRTCP(f *testing.F) {
	seed := make([]byte, 76)
	f.Add(seed[:BuildReport(seed, 1, &SenderInfo{RTPTime: 9}, reportFixture(f), time.Unix(0, 0))])
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}},
		&rtcp.Goodbye{Sources: []uint32{1}}})
	f.Add(rr)
	f.Add([]byte{0x80, 200, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := reportFixture(t)
		err := ParseRTCP(b, r, time.Unix(1, 0))
		if err != nil {
			if !errors.Is(err, ErrMalformedRTCP) {
				t.Fatalf("error %v does not wrap ErrMalformedRTCP", err)
			}
			return
		}
		// Whatever was noted, our next report is valid for us and pion.
		out := make([]byte, 76)
		n := BuildReport(out, 7, &SenderInfo{}, r, time.Unix(2, 0))
		if n == 0 {
			t.Fatal("BuildReport failed")
		}
		if err := ParseRTCP(out[:n], nil, time.Unix(2, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := rtcp.Unmarshal(out[:n]); err != nil {
			t.Fatalf("pion rejects our report: %v", err)
		}
	})
}

func BenchmarkReceiverStatsUpdate(b *testing.B) {
	var r ReceiverStats
	h := RTPHeader{SSRC: 1}
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		r.Update(h, now)
		h.SequenceNumber++
		h.Timestamp += FrameSamples
		now = now.Add(FrameDuration)
	}
}

func BenchmarkBuildReport(b *testing.B) {
	r := reportFixture(b)
	buf := make([]byte, MaxPacketSize)
	s := &SenderInfo{RTPTime: 1, Packets: 2, Octets: 3}
	now := time.Unix(1e9, 0)
	b.ReportAllocs()
	for b.Loop() {
		BuildReport(buf, 1, s, r, now)
	}
}

func BenchmarkParseRTCP(b *testing.B) {
	buf := make([]byte, 76)
	buf = buf[:BuildReport(buf, 1, &SenderInfo{}, reportFixture(b), time.Unix(0, 0))]
	var r ReceiverStats
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseRTCP(buf, &r, now); err != nil {
			b.Fatal(err)
		}
	}
}
