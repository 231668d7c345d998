package mediaservertest

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/zaf/g711"
)

// Stats is a snapshot of a call's RTP counters.
type Stats struct {
	// PacketsSent counts RTP packets sent, audio and telephone-event.
	PacketsSent uint64
	// PacketsReceived counts RTP packets received, of any payload type.
	PacketsReceived uint64
	// PacketsReceivedOnSendSocket counts those that arrived on the sending
	// socket of a SendFromOtherPort phone: the remote latched on our source.
	PacketsReceivedOnSendSocket uint64
	// Malformed counts datagrams that were not RTP or longer than 1500 bytes.
	Malformed uint64
	// SRTPAuthFailures counts the RTP packets an SRTP call dropped because
	// their SRTP authentication or replay check failed: plain RTP, packets
	// protected with another key, tampered or replayed packets. Packets that
	// arrive before the remote key is known are held (up to 64) and checked
	// once it is. Always 0 without PhoneConfig.SRTP. PacketsReceived and
	// everything else count only packets that passed.
	SRTPAuthFailures uint64
	// PayloadTypes lists the payload types received, in order of first arrival.
	PayloadTypes []uint8
	// SSRCChanges counts packets whose SSRC differs from the packet before.
	SSRCChanges int
	// SequenceGaps counts packets missing according to sequence numbers
	// (within one SSRC; reordering counts as a gap too).
	SequenceGaps int
	// LocalRTP is the RTP address the phone advertises in its SDP.
	LocalRTP netip.AddrPort
	// SendRTP is the local address the phone sends RTP from; it equals
	// LocalRTP unless SendFromOtherPort is set.
	SendRTP netip.AddrPort
	// RemoteRTP is where the phone sends RTP, from the remote SDP; not valid
	// before an SDP was received.
	RemoteRTP netip.AddrPort
	// LastSource is the source address of the last RTP packet received.
	LastSource netip.AddrPort
}

// maxRecentEvents is how many RFC 4733 events are remembered for de-duplication.
const maxRecentEvents = 16

// eventKey identifies one RFC 4733 event (decision 14 of DESIGN.md).
type eventKey struct {
	ssrc uint32
	ts   uint32
}

// receiver decodes and records what a call receives. Readers of both sockets
// share it.
type receiver struct {
	mu        sync.Mutex // guards the fields below
	heard     heardBuffer
	tePTs     [2]int
	packets   uint64
	onSend    uint64
	malformed uint64
	pts       []uint8
	ssrc      uint32
	seq       uint16
	started   bool
	changes   int
	gaps      int
	lastSrc   netip.AddrPort
	digits    []byte
	recent    [maxRecentEvents]eventKey
	nRecent   int
	pcm       [maxDatagram]int16

	secure    bool          // PhoneConfig.SRTP: only SRTP is accepted
	srtp      *srtp.Context // unprotects what arrives; nil until the remote key is known
	srtpKey   []byte        // the remote key of srtp
	srtpSuite string        // the suite of srtp
	srtpHdr   rtp.Header    // scratch of srtp.DecryptRTP
	authFails uint64        // SRTPAuthFailures
	held      []heldPacket  // arrived before the remote key, oldest first
	scratch   rtp.Packet    // for the held packets
}

// maxHeldPackets bounds the packets held until the remote SRTP key is known:
// a caller learns it from the answer, and the answerer may send first.
const maxHeldPackets = 64

// heldPacket is a datagram that arrived before the remote SRTP key.
type heldPacket struct {
	b          []byte
	src        netip.AddrPort
	sendSocket bool
	at         time.Time
}

// needsSRTP reports whether keys need a new receive context.
func (r *receiver) needsSRTP(keys *srtpKeys) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.srtp == nil || r.srtpSuite != keys.suite || !bytes.Equal(r.srtpKey, keys.remote)
}

// setSRTP installs the receive context of keys and processes the packets
// held until now.
func (r *receiver) setSRTP(ctx *srtp.Context, keys *srtpKeys) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srtp, r.srtpKey, r.srtpSuite = ctx, keys.remote, keys.suite
	held := r.held
	r.held = nil
	for _, h := range held {
		r.handleLocked(&r.scratch, h.b, h.src, h.sendSocket, h.at)
	}
}

func (r *receiver) setTelephoneEvent(pts [2]int) {
	r.mu.Lock()
	r.tePTs = pts
	r.mu.Unlock()
}

// handle processes one datagram. pkt is the reader's reused packet.
func (r *receiver) handle(pkt *rtp.Packet, b []byte, src netip.AddrPort, sendSocket bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handleLocked(pkt, b, src, sendSocket, now)
}

// handleLocked processes one datagram that arrived at now.
func (r *receiver) handleLocked(pkt *rtp.Packet, b []byte, src netip.AddrPort, sendSocket bool, now time.Time) {
	if r.secure {
		var ok bool
		if b, ok = r.unprotectLocked(b, src, sendSocket, now); !ok {
			return
		}
	}
	if len(b) > maxDatagram || pkt.Unmarshal(b) != nil || pkt.Version != 2 {
		r.malformed++
		return
	}
	r.packets++
	if sendSocket {
		r.onSend++
	}
	r.lastSrc = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if !slices.Contains(r.pts, pkt.PayloadType) {
		r.pts = append(r.pts, pkt.PayloadType)
	}
	switch {
	case !r.started:
		r.started = true
	case pkt.SSRC != r.ssrc:
		r.changes++
	default:
		if d := pkt.SequenceNumber - r.seq; d > 1 && d < 0x8000 {
			r.gaps += int(d - 1)
		}
	}
	r.ssrc, r.seq = pkt.SSRC, pkt.SequenceNumber

	pt := int(pkt.PayloadType)
	switch {
	case pt == 0 || pt == 8:
		pcm := r.pcm[:len(pkt.Payload)]
		for i, v := range pkt.Payload {
			if pt == 0 {
				pcm[i] = g711.DecodeUlawFrame(v)
			} else {
				pcm[i] = g711.DecodeAlawFrame(v)
			}
		}
		r.heard.append(now, pcm)
	case pt == r.tePTs[0] || pt == r.tePTs[1]:
		r.event(pkt)
	}
}

// unprotectLocked authenticates and decrypts an SRTP packet in place
// (RFC 3711 section 3.3) and returns the RTP packet. It returns false for a
// packet it dropped, counted, or held until the remote key is known.
func (r *receiver) unprotectLocked(b []byte, src netip.AddrPort, sendSocket bool, now time.Time) ([]byte, bool) {
	if len(b) > maxDatagram {
		r.malformed++
		return nil, false
	}
	if _, err := r.srtpHdr.Unmarshal(b); err != nil || r.srtpHdr.Version != 2 {
		r.malformed++
		return nil, false
	}
	if r.srtp == nil {
		if len(r.held) >= maxHeldPackets {
			r.authFails++ // never authenticated
			return nil, false
		}
		r.held = append(r.held, heldPacket{b: bytes.Clone(b), src: src, sendSocket: sendSocket, at: now})
		return nil, false
	}
	out, err := r.srtp.DecryptRTP(b[:0], b, &r.srtpHdr)
	if err != nil {
		r.authFails++
		return nil, false
	}
	return out, true
}

// event records the digit of a new RFC 4733 event, once per event: at its
// first packet that arrives, keyed by SSRC and timestamp.
func (r *receiver) event(pkt *rtp.Packet) {
	ev, err := parseTelephoneEvent(pkt.Payload)
	if err != nil {
		r.malformed++
		return
	}
	key := eventKey{ssrc: pkt.SSRC, ts: pkt.Timestamp}
	for _, k := range r.recent[:min(r.nRecent, maxRecentEvents)] {
		if k == key {
			return
		}
	}
	r.recent[r.nRecent%maxRecentEvents] = key
	r.nRecent++
	if d := eventDigit(ev.Event); d != 0 {
		r.digits = append(r.digits, d)
	}
}

// fill adds the receive counters to s.
func (r *receiver) fill(s *Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.PacketsReceived = r.packets
	s.PacketsReceivedOnSendSocket = r.onSend
	s.Malformed = r.malformed
	s.SRTPAuthFailures = r.authFails
	s.PayloadTypes = slices.Clone(r.pts)
	s.SSRCChanges = r.changes
	s.SequenceGaps = r.gaps
	s.LastSource = r.lastSrc
}

// receivedDigits returns the RFC 4733 digits received so far.
func (r *receiver) receivedDigits() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.digits)
}

// audioSince copies the audio of packets that arrived at or after t.
func (r *receiver) audioSince(t time.Time) Audio {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.heard.snapshot(t)
}
