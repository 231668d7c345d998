package media

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// outStream is an endpoint's outgoing RTP stream: one SSRC for the life of
// the leg, with sequence numbers and timestamps kept continuous whatever
// feeds it (decision 10). Each feeding source gets offsets (seq+Δs, ts+Δt)
// recomputed only when the source changes, Δt from elapsed wall-clock time,
// and the marker bit is set on the first packet after a switch.
type outStream struct {
	// held is set when something was not sent because the peer does not
	// receive (hold, inactive): the next packet then follows on from the
	// last one sent, so the peer sees no loss where we sent nothing on
	// purpose (RFC 3550 §5.1: one per packet sent). Timestamps keep
	// running with the source's, so the pause stays visible in time.
	held atomic.Bool

	mu      sync.Mutex // guards everything below
	ssrc    uint32
	started bool
	key     uint64 // current source
	seq     uint16 // highest sequence number sent
	ts      uint32 // highest timestamp sent
	last    int64  // unix nanos of the last send
	dSeq    uint16
	dTS     uint32
	packets uint32
	octets  uint32
	// recent remembers the timestamp offsets of the last few sources, so
	// that sources that interleave (a phone sending RFC 4733 events with
	// another SSRC than its audio, as SIPp does) keep their own timeline:
	// every packet of one event keeps the event's start timestamp
	// (decision 10, RFC 4733 §2.5.1.2).
	recent [4]recentSource
}

type recentSource struct {
	key  uint64
	dTS  uint32
	last int64
}

// recentWindow is how long a source's offsets are remembered.
const recentWindow = int64(2 * time.Second)

func (o *outStream) init() {
	o.ssrc = rand.Uint32()
}

// stamp maps a source's sequence number and timestamp to ours.
func (o *outStream) stamp(key uint64, seq uint16, ts uint32, now int64, payloadLen int) (uint16, uint32, bool) {
	o.mu.Lock()
	switched := !o.started || key != o.key
	if switched {
		switch r := o.recall(key, now); {
		case !o.started:
			o.started = true
			o.dSeq = uint16(rand.Uint32()) - seq
			o.dTS = rand.Uint32() - ts
		case r != nil:
			// A source seen a moment ago: its timeline continues; only
			// the sequence numbers are made to follow on.
			o.dSeq = o.seq + 1 - seq
			o.dTS = r.dTS
			switched = false
		default:
			elapsed := max(now-o.last, 0)
			adv := uint32(elapsed * SampleRate / int64(time.Second))
			o.dSeq = o.seq + 1 - seq
			o.dTS = o.ts + max(adv, 1) - ts
		}
		o.key = key
	}
	if o.held.Load() {
		o.held.Store(false)
		if o.started && !switched {
			o.dSeq = o.seq + 1 - seq
		}
	}
	o.remember(key, now)
	outSeq, outTS := seq+o.dSeq, ts+o.dTS
	if switched || int16(outSeq-o.seq) > 0 {
		o.seq = outSeq
	}
	if switched || int32(outTS-o.ts) > 0 {
		o.ts = outTS
		o.last = now
	}
	o.packets++
	o.octets += uint32(payloadLen)
	o.mu.Unlock()
	return outSeq, outTS, switched
}

// recall returns the remembered offsets of a recent source.
func (o *outStream) recall(key uint64, now int64) *recentSource {
	for i := range o.recent {
		if r := &o.recent[i]; r.key == key && r.last != 0 && now-r.last < recentWindow {
			return r
		}
	}
	return nil
}

// remember records the current source's offsets, replacing the oldest.
func (o *outStream) remember(key uint64, now int64) {
	oldest := 0
	for i := range o.recent {
		r := &o.recent[i]
		if r.key == key {
			r.dTS, r.last = o.dTS, now
			return
		}
		if r.last < o.recent[oldest].last {
			oldest = i
		}
	}
	o.recent[oldest] = recentSource{key: key, dTS: o.dTS, last: now}
}

// senderInfo returns what an RTCP SR needs: the RTP timestamp that
// corresponds to now, and the packet and octet counts.
func (o *outStream) senderInfo(now int64) (rtpNow, packets, octets uint32, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		return 0, 0, 0, false
	}
	adv := uint32(max(now-o.last, 0) * SampleRate / int64(time.Second))
	return o.ts + adv, o.packets, o.octets, true
}

func sourceKey(from *Endpoint, ssrc uint32) uint64 { return uint64(from.id)<<32 | uint64(ssrc) }

// generatedKey is the source key of the audio an endpoint generates itself.
func (e *Endpoint) generatedKey() uint64 { return 0xFFFFFFFF<<32 | uint64(e.id) }

// relayAudio sends an audio packet that from received out of e, rewriting
// its header in place (CSRCs and extensions are dropped) and transcoding
// the payload in place when the codecs differ. It runs on from's reader.
func (e *Endpoint) relayAudio(pkt []byte, h RTPHeader, payload []byte, in Codec, from *Endpoint, now int64) {
	st := e.remote.Load()
	if st == nil || !st.Send {
		e.out.held.Store(true)
		return
	}
	if e.inbandActive(now) {
		return
	}
	if st.Codec != in {
		transcode(st.Codec, payload)
	}
	seq, ts, switched := e.out.stamp(sourceKey(from, h.SSRC), h.SequenceNumber, h.Timestamp, now, len(payload))
	e.sendRewritten(pkt, payload, RTPHeader{
		Marker:         h.Marker || switched,
		PayloadType:    st.Codec.PayloadType(),
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           e.out.ssrc,
	}, st)
}

// relayEvent forwards an RFC 4733 packet, mapping its payload type to the
// one negotiated on e. Legs without telephone-event get in-band tones
// instead (relayDigitStart/inband).
func (e *Endpoint) relayEvent(pkt []byte, h RTPHeader, payload []byte, ev DTMFEvent, from *Endpoint, now int64) {
	st := e.remote.Load()
	if st == nil || !st.Send {
		e.out.held.Store(true)
		return
	}
	if st.TelephoneEvent < 0 {
		e.inbandExtend(ev, now)
		return
	}
	seq, ts, switched := e.out.stamp(sourceKey(from, h.SSRC), h.SequenceNumber, h.Timestamp, now, len(payload))
	e.sendRewritten(pkt, payload, RTPHeader{
		Marker:         h.Marker || switched,
		PayloadType:    uint8(st.TelephoneEvent),
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           e.out.ssrc,
	}, st)
}

// sendRewritten writes h just before payload inside pkt's buffer and sends
// the result. payload must be a subslice of pkt starting at least 12 bytes
// in.
func (e *Endpoint) sendRewritten(pkt, payload []byte, h RTPHeader, st *remoteState) {
	off := cap(pkt) - cap(payload)
	out := pkt[off-rtpHeaderLen : off+len(payload)]
	h.MarshalTo(out)
	e.write(out, st)
}

func (e *Endpoint) write(out []byte, st *remoteState) {
	if st.crypto != nil {
		var err error
		if out, err = st.crypto.protect(out); err != nil {
			return
		}
	}
	dst := st.sendRTP.Load()
	if _, err := e.rtp.WriteToUDPAddrPort(out, *dst); err != nil {
		return
	}
	e.stats.packetsOut.Add(1)
	e.stats.bytesOut.Add(uint64(len(out)))
}

func transcode(to Codec, payload []byte) {
	switch to {
	case CodecPCMA:
		PCMUToPCMA(payload, payload)
	case CodecPCMU:
		PCMAToPCMU(payload, payload)
	}
}

const rtpHeaderLen = 12
