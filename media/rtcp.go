package media

import (
	"encoding/binary"
	"time"
)

// RTCP (RFC 3550 §6) for one leg: reception statistics of the stream we
// receive, compound SR/RR + SDES reports for the stream we send, and a
// validating parser that notes the peer's sender reports (for LSR/DLSR).
// RTCP is never relayed (decision 10): each leg reports on its own.

// RTCP packet types.
const (
	rtcpSR    = 200
	rtcpRR    = 201
	rtcpSDES  = 202
	rtcpBYE   = 203
	rtcpFirst = rtcpSR     // lowest type a compound packet may start with
	rtcpLast  = 207        // highest (XR) a compound packet may start with
	sdesCNAME = 1          // SDES item type
	rtcpHdr   = 4          // common header: V P RC PT length
	rrBlock   = 24         // one report block
	srInfo    = 20         // NTP, RTP timestamp, packet and octet counts
	ntpEpoch  = 2208988800 // seconds from 1900 (NTP) to 1970 (Unix)
)

// Sequence number validation of RFC 3550 A.1.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// ReceiverStats keeps the reception statistics of the RTP stream received
// on one leg (RFC 3550 §6.4.1, appendix A.1, A.3, A.8): the extended
// highest sequence number, cumulative and interval loss, interarrival
// jitter from arrival times, and the last sender report of the peer. A new
// SSRC restarts the statistics.
//
// The zero value is ready to use. A ReceiverStats is not safe for
// concurrent use; callers serialise Update, ParseRTCP and BuildReport.
type ReceiverStats struct {
	started  bool
	ssrc     uint32
	maxSeq   uint16
	cycles   uint32 // wraps of the sequence number, shifted left 16
	baseSeq  uint32
	badSeq   uint32 // seqMod+1 when none
	received uint32

	expectedPrior, receivedPrior uint32

	epoch       time.Time
	transit     int64
	jitter16    int64 // interarrival jitter × 16, in samples
	lastTS      uint32
	haveTransit bool

	srSSRC uint32    // SSRC of the last SR received
	lastSR uint32    // middle 32 bits of its NTP timestamp
	srAt   time.Time // when it arrived; zero when none
}

// Update accounts for an RTP packet with header h that arrived at arrival.
// Packets of another SSRC than the current one restart the statistics.
// Jitter is not updated by packets that repeat the previous timestamp
// (RFC 4733 event updates), which would read as delay. It does not
// allocate.
func (r *ReceiverStats) Update(h RTPHeader, arrival time.Time) {
	if !r.started || h.SSRC != r.ssrc {
		sr, lsr, at := r.srSSRC, r.lastSR, r.srAt
		*r = ReceiverStats{started: true, ssrc: h.SSRC, epoch: arrival}
		if sr == h.SSRC {
			r.srSSRC, r.lastSR, r.srAt = sr, lsr, at
		}
		r.initSeq(h.SequenceNumber)
	} else if !r.updateSeq(h.SequenceNumber) {
		return
	}
	r.received++
	if r.haveTransit && h.Timestamp == r.lastTS {
		return
	}
	arr := int64(arrival.Sub(r.epoch)) * SampleRate / int64(time.Second)
	transit := arr - int64(h.Timestamp)
	if r.haveTransit {
		d := int64(int32(transit - r.transit))
		if d < 0 {
			d = -d
		}
		r.jitter16 += d - (r.jitter16+8)>>4
	}
	r.transit, r.lastTS, r.haveTransit = transit, h.Timestamp, true
}

func (r *ReceiverStats) initSeq(seq uint16) {
	r.baseSeq, r.maxSeq = uint32(seq), seq
	r.badSeq = seqMod + 1
	r.cycles, r.received = 0, 0
	r.expectedPrior, r.receivedPrior = 0, 0
}

// updateSeq applies RFC 3550 A.1 and reports whether the packet counts.
func (r *ReceiverStats) updateSeq(seq uint16) bool {
	delta := seq - r.maxSeq
	switch {
	case delta < maxDropout:
		// In order, with a permissible gap.
		if seq < r.maxSeq {
			r.cycles += seqMod
		}
		r.maxSeq = seq
	case int(delta) <= seqMod-maxMisorder:
		// A very large jump: accept it only when the next packet follows
		// it (the sender restarted), else drop it.
		if uint32(seq) != r.badSeq {
			r.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
		r.initSeq(seq)
	}
	// Otherwise a duplicate or reordered packet: counted, no change.
	return true
}

// extendedMax returns the extended highest sequence number received.
func (r *ReceiverStats) extendedMax() uint32 { return r.cycles + uint32(r.maxSeq) }

// Lost returns the cumulative number of packets lost: expected minus
// received, negative when duplicates outnumber losses (RFC 3550 A.3).
func (r *ReceiverStats) Lost() int64 {
	if !r.started {
		return 0
	}
	return int64(r.extendedMax()) - int64(r.baseSeq) + 1 - int64(r.received)
}

// Jitter returns the interarrival jitter estimate in RTP timestamp units
// (samples at 8 kHz).
func (r *ReceiverStats) Jitter() uint32 { return uint32(r.jitter16 >> 4) }

// Received returns the number of packets received from the current SSRC.
func (r *ReceiverStats) Received() uint32 { return r.received }

// ExtendedHighestSeq returns the highest sequence number received,
// extended with the count of wraps in its upper 16 bits.
func (r *ReceiverStats) ExtendedHighestSeq() uint32 { return r.extendedMax() }

// SSRC returns the SSRC of the stream the statistics are about, and false
// before the first packet.
func (r *ReceiverStats) SSRC() (uint32, bool) { return r.ssrc, r.started }

// noteSR records a sender report of ssrc with NTP timestamp ntp.
func (r *ReceiverStats) noteSR(ssrc uint32, ntp uint64, now time.Time) {
	r.srSSRC, r.lastSR, r.srAt = ssrc, uint32(ntp>>16), now
}

// SenderInfo is what a sender report says about the stream we send: the
// RTP timestamp that corresponds to the report's wall-clock time, and the
// packet and payload octet counts since the stream started (they wrap).
type SenderInfo struct {
	// RTPTime is our RTP timestamp at the report's wall-clock time.
	RTPTime uint32
	// Packets is the number of RTP packets sent.
	Packets uint32
	// Octets is the number of payload octets sent (headers excluded).
	Octets uint32
}

// BuildReport writes a compound RTCP packet for our stream ssrc into dst
// and returns its length, or 0 when dst is too short (76 bytes always
// suffice). It is a sender report when sender is non-nil (RFC 3550 §6.4.1:
// we sent RTP since the last report), else a receiver report; it carries
// one report block about the stream r describes when r is non-nil and has
// seen a packet; then an SDES packet with the CNAME "ms-" followed by ssrc
// in hex (a short-term persistent CNAME, RFC 7022 §4.2). now is the
// wall-clock time of the report (for the NTP timestamp and DLSR).
// Building a block starts a new interval for the fraction lost, so r is
// modified. It does not allocate.
func BuildReport(dst []byte, ssrc uint32, sender *SenderInfo, r *ReceiverStats, now time.Time) int {
	blocks := 0
	if r != nil && r.started {
		blocks = 1
	}
	n := rtcpHdr + 4 + blocks*rrBlock
	pt := byte(rtcpRR)
	if sender != nil {
		n += srInfo
		pt = rtcpSR
	}
	const cnameLen = 11 // "ms-" + 8 hex digits
	sdes := rtcpHdr + 4 + (2+cnameLen+1+3)&^3
	if len(dst) < n+sdes {
		return 0
	}
	putRTCPHeader(dst, blocks, pt, n)
	binary.BigEndian.PutUint32(dst[4:], ssrc)
	off := 8
	if sender != nil {
		binary.BigEndian.PutUint64(dst[off:], ntpTime(now))
		binary.BigEndian.PutUint32(dst[off+8:], sender.RTPTime)
		binary.BigEndian.PutUint32(dst[off+12:], sender.Packets)
		binary.BigEndian.PutUint32(dst[off+16:], sender.Octets)
		off += srInfo
	}
	if blocks == 1 {
		r.putBlock(dst[off:off+rrBlock], now)
		off += rrBlock
	}
	// SDES: one chunk, the CNAME item, a null item, padding to 32 bits.
	b := dst[off : off+sdes]
	clear(b)
	putRTCPHeader(b, 1, rtcpSDES, sdes)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	b[8], b[9] = sdesCNAME, cnameLen
	copy(b[10:], "ms-")
	const hex = "0123456789abcdef"
	for i := range 8 {
		b[13+i] = hex[ssrc>>(28-4*i)&0xF]
	}
	return off + sdes
}

// putRTCPHeader writes a common header for a packet of n bytes.
func putRTCPHeader(b []byte, count int, pt byte, n int) {
	b[0] = rtpVersion<<6 | byte(count)
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:], uint16(n/4-1))
}

// putBlock writes the report block about r's stream (RFC 3550 §6.4.1,
// A.3) and starts a new loss interval.
func (r *ReceiverStats) putBlock(b []byte, now time.Time) {
	expected := r.extendedMax() - r.baseSeq + 1
	expInterval := expected - r.expectedPrior
	recInterval := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	var fraction byte
	if lost := int64(expInterval) - int64(recInterval); expInterval != 0 && lost > 0 {
		fraction = byte(lost << 8 / int64(expInterval))
	}
	lost := min(max(r.Lost(), -1<<23), 1<<23-1) // 24-bit signed
	var lsr, dlsr uint32
	if !r.srAt.IsZero() && r.srSSRC == r.ssrc {
		lsr = r.lastSR
		dlsr = uint32(max(now.Sub(r.srAt), 0) * 65536 / time.Second)
	}
	binary.BigEndian.PutUint32(b[0:], r.ssrc)
	binary.BigEndian.PutUint32(b[4:], uint32(fraction)<<24|uint32(lost)&0xFFFFFF)
	binary.BigEndian.PutUint32(b[8:], r.extendedMax())
	binary.BigEndian.PutUint32(b[12:], r.Jitter())
	binary.BigEndian.PutUint32(b[16:], lsr)
	binary.BigEndian.PutUint32(b[20:], dlsr)
}

// ntpTime returns t as a 64-bit NTP timestamp (RFC 5905): seconds since
// 1900 and a binary fraction.
func ntpTime(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpoch)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// ParseRTCP validates a compound RTCP packet as RFC 3550 A.2 does: every
// packet version 2, lengths that add up to the datagram exactly, padding
// only in the last packet, report counts that fit, and a first packet of
// type 200-207 (SR, RR, SDES, BYE, APP, feedback, XR: reduced-size RTCP
// per RFC 5506 is accepted). When r is non-nil it records the NTP time and
// arrival time now of a sender report, for the LSR and DLSR fields of our
// next report. Errors wrap ErrMalformedRTCP. It does not allocate.
func ParseRTCP(b []byte, r *ReceiverStats, now time.Time) error {
	if len(b) < rtcpHdr {
		return errRTCPShort
	}
	if b[1] < rtcpFirst || b[1] > rtcpLast {
		return errRTCPFirst
	}
	for len(b) > 0 {
		if len(b) < rtcpHdr {
			return errRTCPShort
		}
		if b[0]>>6 != rtpVersion {
			return errRTCPVersion
		}
		n := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if n > len(b) {
			return errRTCPLength
		}
		pkt := b[:n]
		if b[0]&rtpPaddingBit != 0 {
			// Only the last packet may be padded (A.2), by a count that
			// fits after the header.
			if n != len(b) || pkt[n-1] == 0 || int(pkt[n-1]) > n-rtcpHdr {
				return errRTCPPadding
			}
			pkt = pkt[:n-int(pkt[n-1])]
		}
		if err := parseRTCPPacket(pkt, r, now); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// parseRTCPPacket checks one packet's body against its report count and
// notes sender reports.
func parseRTCPPacket(p []byte, r *ReceiverStats, now time.Time) error {
	count := int(p[0] & 0x1F)
	switch p[1] {
	case rtcpSR:
		if len(p) < rtcpHdr+4+srInfo+count*rrBlock {
			return errRTCPReport
		}
		if r != nil {
			r.noteSR(binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint64(p[8:]), now)
		}
	case rtcpRR:
		if len(p) < rtcpHdr+4+count*rrBlock {
			return errRTCPReport
		}
	case rtcpBYE:
		if len(p) < rtcpHdr+4*count {
			return errRTCPReport
		}
	}
	return nil
}
