package interop

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// RTPPacket is an RTP packet of a capture.
type RTPPacket struct {
	rtp.Header
	// Time is when it was captured.
	Time time.Time
	// UDP is the datagram that carried it.
	UDP UDPPacket
	// Payload is the RTP payload, without padding.
	Payload []byte
}

// RTPTo returns the RTP (version 2) packets among pkts sent to port dst, in
// capture order. RTCP (packet types 200-204, RFC 5761) and anything that
// does not parse as RTP is skipped.
func RTPTo(pkts []UDPPacket, dst uint16) []RTPPacket {
	return parseRTP(pkts, func(u UDPPacket) bool { return u.Dst.Port() == dst })
}

// RTPAll returns the RTP packets among pkts, whatever their ports.
func RTPAll(pkts []UDPPacket) []RTPPacket {
	return parseRTP(pkts, func(UDPPacket) bool { return true })
}

func parseRTP(pkts []UDPPacket, keep func(UDPPacket) bool) []RTPPacket {
	var out []RTPPacket
	for _, u := range pkts {
		if !keep(u) || len(u.Payload) < 12 || u.Payload[0]>>6 != 2 {
			continue
		}
		if pt := u.Payload[1]; pt >= 200 && pt <= 204 { // RTCP SR, RR, SDES, BYE, APP
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(u.Payload); err != nil {
			continue
		}
		out = append(out, RTPPacket{Header: p.Header, Time: u.Time, UDP: u, Payload: p.Payload})
	}
	return out
}

// WithPT returns the packets of pkts with payload type pt.
func WithPT(pkts []RTPPacket, pt uint8) []RTPPacket {
	var out []RTPPacket
	for _, p := range pkts {
		if p.PayloadType == pt {
			out = append(out, p)
		}
	}
	return out
}

// DecodePCMU decodes the payloads of pkts as G.711 µ-law (RFC 3551 PT 0) and
// concatenates them, in the order given.
func DecodePCMU(pkts []RTPPacket) []int16 {
	return decodeG711(pkts, g711.DecodeUlawFrame)
}

// DecodePCMA decodes the payloads of pkts as G.711 A-law (PT 8).
func DecodePCMA(pkts []RTPPacket) []int16 {
	return decodeG711(pkts, g711.DecodeAlawFrame)
}

func decodeG711(pkts []RTPPacket, dec func(uint8) int16) []int16 {
	var out []int16
	for _, p := range pkts {
		for _, b := range p.Payload {
			out = append(out, dec(b))
		}
	}
	return out
}

// TelephoneEvent is an RFC 4733 §2.3 named event payload in a packet.
type TelephoneEvent struct {
	// Packet is the RTP packet that carried it.
	Packet RTPPacket
	// Event is the event code: 0-9 digits, 10 *, 11 #, 12-15 A-D.
	Event uint8
	// End is the E bit: the last packet(s) of the event.
	End bool
	// Volume is the power level in -dBm0 (0-63).
	Volume uint8
	// Duration is the duration so far, in timestamp units.
	Duration uint16
}

// TelephoneEvents parses the payloads of pkts, typically WithPT(..., the
// negotiated telephone-event type), as RFC 4733 events. Packets whose payload
// is shorter than 4 bytes are skipped.
func TelephoneEvents(pkts []RTPPacket) []TelephoneEvent {
	var out []TelephoneEvent
	for _, p := range pkts {
		b := p.Payload
		if len(b) < 4 {
			continue
		}
		out = append(out, TelephoneEvent{
			Packet:   p,
			Event:    b[0],
			End:      b[1]&0x80 != 0,
			Volume:   b[1] & 0x3f,
			Duration: binary.BigEndian.Uint16(b[2:4]),
		})
	}
	return out
}

// String formats ev for a test log.
func (ev TelephoneEvent) String() string {
	return fmt.Sprintf("event %d end=%t vol=%d dur=%d (pt %d seq %d ts %d ssrc %#x marker %t)",
		ev.Event, ev.End, ev.Volume, ev.Duration, ev.Packet.PayloadType, ev.Packet.SequenceNumber,
		ev.Packet.Timestamp, ev.Packet.SSRC, ev.Packet.Marker)
}

// StreamSummary describes the RTP packets of pkts per stream (source,
// destination, SSRC), one line each, for a log or failure message: the
// packets per payload type, the span, the largest gap between packets and
// how many sequence numbers are missing.
func StreamSummary(pkts []RTPPacket) string {
	type key struct {
		src, dst string
		ssrc     uint32
	}
	type stat struct {
		pts         []uint8
		perPT       map[uint8]int
		first, last time.Time
		maxGap      time.Duration
		lastSeq     uint16
		missing     int
	}
	var order []key
	stats := map[key]*stat{}
	for _, p := range pkts {
		k := key{p.UDP.Src.String(), p.UDP.Dst.String(), p.SSRC}
		s := stats[k]
		if s == nil {
			s = &stat{perPT: map[uint8]int{}, first: p.Time, last: p.Time, lastSeq: p.SequenceNumber - 1}
			stats[k] = s
			order = append(order, k)
		}
		if s.perPT[p.PayloadType] == 0 {
			s.pts = append(s.pts, p.PayloadType)
		}
		s.perPT[p.PayloadType]++
		s.maxGap = max(s.maxGap, p.Time.Sub(s.last))
		if d := p.SequenceNumber - s.lastSeq; d > 1 && d < 0x8000 {
			s.missing += int(d) - 1
		}
		s.last, s.lastSeq = p.Time, p.SequenceNumber
	}
	var b strings.Builder
	for _, k := range order {
		s := stats[k]
		var counts []string
		for _, pt := range s.pts {
			counts = append(counts, fmt.Sprintf("%d×pt%d", s.perPT[pt], pt))
		}
		fmt.Fprintf(&b, "  %s -> %s ssrc %#08x: %s over %v, max gap %v, %d seq missing\n",
			k.src, k.dst, k.ssrc, strings.Join(counts, " "), s.last.Sub(s.first).Round(time.Millisecond),
			s.maxGap.Round(time.Millisecond), s.missing)
	}
	if b.Len() == 0 {
		return "  (no RTP)\n"
	}
	return b.String()
}
