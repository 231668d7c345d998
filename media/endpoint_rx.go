package media

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Comfort noise payload type (RFC 3389); it decodes to silence (decision 9).
const payloadTypeCN = 13

// Latching window after each offer/answer (decision 4).
const (
	latchWindow  = 2 * time.Second
	latchPackets = 10
)

// latch implements symmetric RTP (RFC 4961) with latching, then lock
// (decision 4): after each offer/answer the first source actually seen is
// latched and becomes where we send. While the window lasts (2 s or 10
// packets) a packet from the SDP address itself takes precedence over an
// earlier stray source; after the window the source is locked and packets
// from anywhere else are foreign.
type latch struct {
	gen     uint64
	src     netip.AddrPort
	packets int
	since   int64
	locked  bool
}

// accept decides whether a packet from src is from the far end, updating
// where we send when the latch moves.
func (l *latch) accept(src netip.AddrPort, st *remoteState, sdp netip.AddrPort, send *atomic.Pointer[netip.AddrPort], strict bool, now int64) bool {
	if strict {
		return src == sdp
	}
	if l.gen != st.gen || !l.src.IsValid() {
		// New offer/answer: latch on the first source seen.
		*l = latch{gen: st.gen, src: src, since: now, packets: 1}
		latched := src // declared here so only a move allocates
		send.Store(&latched)
		return true
	}
	if src == l.src {
		if !l.locked {
			l.packets++
			if l.packets >= latchPackets || now-l.since >= int64(latchWindow) {
				l.locked = true
			}
		}
		return true
	}
	if !l.locked && src == sdp && now-l.since < int64(latchWindow) {
		// The SDP address wins over an earlier stray source.
		l.src, l.packets = src, 1
		latched := src
		send.Store(&latched)
		return true
	}
	return false
}

// Flood control: a leg may send at most maxPacketRate RTP packets a
// second (with a burst of floodBurst); a peer sending far faster than any
// real phone costs bounded CPU and is never relayed at its own rate.
const (
	maxPacketRate = 400 // 10 ms audio plus RFC 4733 events, with room
	floodBurst    = 200
)

// bucket is a token bucket owned by the RTP reader goroutine.
type bucket struct {
	tokens float64
	last   int64
}

func (b *bucket) allow(now int64) bool {
	if b.last == 0 {
		b.tokens = floodBurst
	} else {
		b.tokens = min(floodBurst, b.tokens+float64(now-b.last)*maxPacketRate/1e9)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (e *Endpoint) receiveRTP(pkt []byte, src netip.AddrPort, now time.Time) {
	if !e.flood.allow(now.UnixNano()) {
		e.stats.flooded.Add(1)
		return
	}
	h, payload, err := ParseRTP(pkt)
	if err != nil {
		e.stats.malformed.Add(1)
		return
	}
	st := e.remote.Load()
	if st == nil {
		e.stats.foreign.Add(1)
		return
	}
	nanos := now.UnixNano()
	if !e.rtpLatch.accept(src, st, st.RTP, &st.sendRTP, e.cfg.StrictSource, nanos) {
		e.stats.foreign.Add(1)
		return
	}
	e.lastRecv.Store(nanos)
	e.stats.packetsIn.Add(1)
	e.stats.bytesIn.Add(uint64(len(pkt)))

	w := e.wiring.Load()
	switch {
	case int(h.PayloadType) == st.TelephoneEvent:
		e.rxMu.Lock()
		e.rstats.Update(h, now)
		e.rxMu.Unlock()
		e.receiveDTMF(pkt, h, payload, st, w, now)
	case h.PayloadType == payloadTypeCN:
		if w.decode() {
			e.rxMu.Lock()
			e.rstats.Update(h, now)
			e.jitterLocked().PushSilence(h, now)
			e.rxMu.Unlock()
		}
	case h.PayloadType == st.Codec.PayloadType():
		if w.decode() {
			if e.decodeBuf == nil {
				e.decodeBuf = new([MaxPacketSize]int16)
			}
			n := min(len(payload), len(e.decodeBuf))
			pcm := e.decodeBuf[:n]
			st.Codec.Decode(pcm, payload[:n])
			e.rxMu.Lock()
			e.rstats.Update(h, now)
			e.jitterLocked().Push(h, pcm, now)
			e.rxMu.Unlock()
		} else {
			e.rxMu.Lock()
			e.rstats.Update(h, now)
			e.rxMu.Unlock()
		}
		if w.relayTo != nil {
			w.relayTo.relayAudio(pkt, h, payload, st.Codec, e, nanos)
		}
	default:
		e.stats.unknownPT.Add(1)
	}
}

func (e *Endpoint) receiveDTMF(pkt []byte, h RTPHeader, payload []byte, st *remoteState, w *wiring, now time.Time) {
	ev, err := ParseDTMFEvent(payload)
	if err != nil {
		e.stats.malformed.Add(1)
		return
	}
	e.sawEvent.Store(true)
	if digit, ok := e.dtmf.Receive(h, ev, now); ok {
		e.stats.digits.Add(1)
		e.emit(Event{Kind: EventDTMF, Digit: digit, Source: DigitRFC4733})
	}
	if w.relayTo != nil {
		w.relayTo.relayEvent(pkt, h, payload, ev, e, now.UnixNano())
	}
}

func (e *Endpoint) receiveRTCP(pkt []byte, src netip.AddrPort, now time.Time, onRTCPPort bool) {
	st := e.remote.Load()
	if st == nil {
		e.stats.foreign.Add(1)
		return
	}
	l, sdp := &e.rtpLatch, st.RTP
	send := &st.sendRTP
	if onRTCPPort {
		l, sdp, send = &e.rtcpLatch, st.RTCP, &st.sendRTCP
	} else if !st.RTCPMux {
		// RTCP on the RTP port without rtcp-mux: accept it from the
		// latched RTP source only, and never move the RTP latch for it.
		if e.rtpLatch.gen != st.gen || src != e.rtpLatch.src {
			e.stats.foreign.Add(1)
			return
		}
		l = nil
	}
	if l != nil && !l.accept(src, st, sdp, send, e.cfg.StrictSource, now.UnixNano()) {
		e.stats.foreign.Add(1)
		return
	}
	e.rxMu.Lock()
	err := ParseRTCP(pkt, &e.rstats, now)
	e.rxMu.Unlock()
	if err != nil {
		e.stats.malformed.Add(1)
		return
	}
	e.lastRecv.Store(now.UnixNano())
}

// jitterLocked returns the jitter buffer, allocating it on first use.
// e.rxMu must be held.
func (e *Endpoint) jitterLocked() *JitterBuffer {
	if e.jitter == nil {
		e.jitter = new(JitterBuffer)
	}
	return e.jitter
}
