package media

import "encoding/binary"

// RTP fixed header, RFC 3550 §5.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           timestamp                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           synchronization source (SSRC) identifier            |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//	|            contributing source (CSRC) identifiers             |
//	|                             ....                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The parser is hand-written rather than pion/rtp's Header.Unmarshal:
// pion's is allocation-free only in steady state with a reused Header (it
// grows CSRC and Extensions slices), allocates an fmt error for every
// malformed packet (which an attacker controls), does not check the
// version, and parses header extensions we only skip. The tests cross-check
// this parser against pion's.

// RTPHeaderSize is the size in bytes of the fixed RTP header that
// RTPHeader.MarshalTo writes (no CSRCs, no extension).
const RTPHeaderSize = 12

const (
	rtpVersion    = 2
	rtpPaddingBit = 0x20
	rtpExtBit     = 0x10
	rtpCCMask     = 0x0F
	rtpMarkerBit  = 0x80
	rtpPTMask     = 0x7F
	rtpSeqOffset  = 2
	rtpTSOffset   = 4
	rtpSSRCOffset = 8
	rtpCSRCLen    = 4
	rtpExtHdrLen  = 4
)

// RTPHeader is the part of an RTP header the media plane uses. CSRCs,
// header extensions and padding are skipped by ParseRTP and never written
// by MarshalTo.
type RTPHeader struct {
	// Marker is the M bit: the start of a talkspurt for audio, the first
	// packet of an event for RFC 4733.
	Marker bool
	// PayloadType is the 7-bit payload type.
	PayloadType uint8
	// SequenceNumber increments by one per packet and wraps.
	SequenceNumber uint16
	// Timestamp is the sampling instant of the first sample, in units of
	// the payload's clock rate (8000 Hz here); it wraps.
	Timestamp uint32
	// SSRC identifies the synchronisation source.
	SSRC uint32
}

// ParseRTP validates an RTP packet (RFC 3550 §5.1 and the checks of
// appendix A.1 that need no state) and returns its header and payload.
// It checks the version (2), skips the CSRC list and any header extension
// after checking that they fit, and removes padding after checking its
// count. The payload aliases b (it is b[offset:end], keeping b's capacity,
// so a caller may write a new header in front of it); it is empty when the
// packet carries none. Errors wrap ErrMalformedRTP. ParseRTP does not
// allocate and is safe for concurrent use.
func ParseRTP(b []byte) (RTPHeader, []byte, error) {
	if len(b) < RTPHeaderSize {
		return RTPHeader{}, nil, errRTPShort
	}
	if b[0]>>6 != rtpVersion {
		return RTPHeader{}, nil, errRTPVersion
	}
	off := RTPHeaderSize + rtpCSRCLen*int(b[0]&rtpCCMask)
	if len(b) < off {
		return RTPHeader{}, nil, errRTPCSRC
	}
	if b[0]&rtpExtBit != 0 {
		if len(b) < off+rtpExtHdrLen {
			return RTPHeader{}, nil, errRTPExtension
		}
		off += rtpExtHdrLen + 4*int(binary.BigEndian.Uint16(b[off+2:]))
		if len(b) < off {
			return RTPHeader{}, nil, errRTPExtension
		}
	}
	end := len(b)
	if b[0]&rtpPaddingBit != 0 {
		// The last octet counts the padding, itself included.
		if end == off {
			return RTPHeader{}, nil, errRTPPadding
		}
		pad := int(b[end-1])
		if pad == 0 || pad > end-off {
			return RTPHeader{}, nil, errRTPPadding
		}
		end -= pad
	}
	h := RTPHeader{
		Marker:         b[1]&rtpMarkerBit != 0,
		PayloadType:    b[1] & rtpPTMask,
		SequenceNumber: binary.BigEndian.Uint16(b[rtpSeqOffset:]),
		Timestamp:      binary.BigEndian.Uint32(b[rtpTSOffset:]),
		SSRC:           binary.BigEndian.Uint32(b[rtpSSRCOffset:]),
	}
	return h, b[off:end], nil
}

// MarshalTo writes h as a 12-byte RTP header (version 2, no padding, no
// extension, no CSRCs) at the start of b and returns RTPHeaderSize, or
// returns 0 and writes nothing when b is shorter than that. The payload
// type is truncated to 7 bits. It does not allocate.
func (h RTPHeader) MarshalTo(b []byte) int {
	if len(b) < RTPHeaderSize {
		return 0
	}
	b[0] = rtpVersion << 6
	b[1] = h.PayloadType & rtpPTMask
	if h.Marker {
		b[1] |= rtpMarkerBit
	}
	binary.BigEndian.PutUint16(b[rtpSeqOffset:], h.SequenceNumber)
	binary.BigEndian.PutUint32(b[rtpTSOffset:], h.Timestamp)
	binary.BigEndian.PutUint32(b[rtpSSRCOffset:], h.SSRC)
	return RTPHeaderSize
}

// IsRTCP reports whether a datagram received on a multiplexed RTP/RTCP
// port (rtcp-mux) is RTCP: by RFC 5761 §4 its second byte, the RTCP packet
// type, lies in 192-223. RTP payload types 64-95 (which would collide with
// the marker bit set) must not be used with rtcp-mux.
func IsRTCP(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}

// RewriteRTP overwrites, in place, the marker bit, payload type, sequence
// number, timestamp and SSRC of the RTP packet in pkt with those of h,
// keeping its CSRCs, extension, padding and payload. pkt must start with a
// header that ParseRTP accepted; when it is shorter than RTPHeaderSize
// RewriteRTP does nothing. It does not allocate.
func RewriteRTP(pkt []byte, h RTPHeader) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	SetRTPMarker(pkt, h.Marker)
	SetRTPPayloadType(pkt, h.PayloadType)
	SetRTPSequenceNumber(pkt, h.SequenceNumber)
	SetRTPTimestamp(pkt, h.Timestamp)
	SetRTPSSRC(pkt, h.SSRC)
}

// SetRTPMarker sets or clears the marker bit of the RTP packet in pkt.
// It does nothing when pkt is shorter than RTPHeaderSize.
func SetRTPMarker(pkt []byte, m bool) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	if m {
		pkt[1] |= rtpMarkerBit
	} else {
		pkt[1] &^= rtpMarkerBit
	}
}

// SetRTPPayloadType sets the payload type (low 7 bits of pt) of the RTP
// packet in pkt, keeping its marker bit. It does nothing when pkt is
// shorter than RTPHeaderSize.
func SetRTPPayloadType(pkt []byte, pt uint8) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	pkt[1] = pkt[1]&rtpMarkerBit | pt&rtpPTMask
}

// SetRTPSequenceNumber sets the sequence number of the RTP packet in pkt.
// It does nothing when pkt is shorter than RTPHeaderSize.
func SetRTPSequenceNumber(pkt []byte, seq uint16) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	binary.BigEndian.PutUint16(pkt[rtpSeqOffset:], seq)
}

// SetRTPTimestamp sets the timestamp of the RTP packet in pkt. It does
// nothing when pkt is shorter than RTPHeaderSize.
func SetRTPTimestamp(pkt []byte, ts uint32) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	binary.BigEndian.PutUint32(pkt[rtpTSOffset:], ts)
}

// SetRTPSSRC sets the SSRC of the RTP packet in pkt. It does nothing when
// pkt is shorter than RTPHeaderSize.
func SetRTPSSRC(pkt []byte, ssrc uint32) {
	if len(pkt) < RTPHeaderSize {
		return
	}
	binary.BigEndian.PutUint32(pkt[rtpSSRCOffset:], ssrc)
}

// seqDiff returns a-b as a signed distance on the 16-bit sequence circle.
func seqDiff(a, b uint16) int { return int(int16(a - b)) }

// tsDiff returns a-b as a signed distance on the 32-bit timestamp circle.
func tsDiff(a, b uint32) int { return int(int32(a - b)) }
