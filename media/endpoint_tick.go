package media

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// tickState is the part of an endpoint the media clock owns.
type tickState struct {
	genSeq   uint16
	genTS    uint32
	frame    Frame
	buf      [rtpHeaderLen + MaxPacketSize + SRTPTailroom]byte
	decoding bool
	nextRTCP int64
	tone     ToneGenerator
	toneFor  uint32 // digit+1 the tone generator is set up for
	detector InbandDetector
}

// inbandState carries a digit relayed to a leg without telephone-event:
// the clock plays it as DTMF tones while relayed audio is held back.
type inbandState struct {
	digit atomic.Uint32 // digit+1, 0 when none
	start atomic.Int64
	until atomic.Int64
}

// Minimum in-band digit length and how long a digit lasts past its last
// RFC 4733 packet when its end packets are lost.
const (
	inbandMin   = int64(80 * time.Millisecond)
	inbandGrace = int64(60 * time.Millisecond)
)

func (e *Endpoint) inbandActive(now int64) bool {
	return e.inband.digit.Load() != 0 && now < e.inband.until.Load()
}

// inbandExtend starts or prolongs the in-band tone of an RFC 4733 event.
func (e *Endpoint) inbandExtend(ev DTMFEvent, now int64) {
	d, ok := EventDigit(ev.Event)
	if !ok {
		return
	}
	if cur := e.inband.digit.Load(); cur != uint32(d)+1 || now >= e.inband.until.Load() {
		e.inband.start.Store(now)
		e.inband.digit.Store(uint32(d) + 1)
	}
	until := now + inbandGrace
	if ev.End {
		until = max(now, e.inband.start.Load()+inbandMin)
	}
	e.inband.until.Store(until)
}

// tickIn delivers one jitter-buffered frame of what e received to its
// sinks.
func (e *Endpoint) tickIn(now int64) {
	w := e.wiring.Load()
	if !w.decode() {
		if e.tick.decoding {
			e.rxMu.Lock()
			if e.jitter != nil {
				e.jitter.Reset()
			}
			e.rxMu.Unlock()
			e.tick.decoding = false
		}
		return
	}
	e.tick.decoding = true
	e.rxMu.Lock()
	e.jitterLocked().Pop(&e.tick.frame)
	e.rxMu.Unlock()
	if e.cfg.InbandDTMF && !e.sawEvent.Load() {
		if st := e.remote.Load(); st != nil && st.TelephoneEvent < 0 {
			if d, ok := e.tick.detector.Process(&e.tick.frame); ok {
				e.stats.digits.Add(1)
				e.emit(Event{Kind: EventDTMF, Digit: d, Source: DigitInband})
			}
		}
	}
	for _, s := range w.sinks {
		s.WriteFrame(&e.tick.frame)
	}
}

// tickOut sends one generated frame unless a peer relays into e.
func (e *Endpoint) tickOut(now int64) {
	e.tick.genSeq++
	e.tick.genTS += FrameSamples
	st := e.remote.Load()
	if st == nil || !st.Send {
		if st != nil && !e.out.held.Load() {
			e.out.held.Store(true)
		}
		return
	}
	w := e.wiring.Load()
	inband := e.inbandActive(now)
	if w.fedBy != nil && !inband {
		return
	}
	payload := e.tick.buf[rtpHeaderLen : rtpHeaderLen+FrameSamples]
	switch {
	case inband:
		if d := e.inband.digit.Load(); d != e.tick.toneFor {
			e.tick.tone = NewDTMFTone(byte(d - 1))
			e.tick.toneFor = d
		}
		e.tick.tone.ReadFrame(&e.tick.frame)
		st.Codec.Encode(payload, e.tick.frame[:])
	case w.source == nil:
		fillSilence(payload, st.Codec)
	default:
		if es, ok := w.source.(EncodedSource); ok && es.ReadEncoded(st.Codec, payload) {
			break
		}
		if w.source.ReadFrame(&e.tick.frame) {
			st.Codec.Encode(payload, e.tick.frame[:])
		} else {
			fillSilence(payload, st.Codec)
		}
	}
	if !inband {
		e.tick.toneFor = 0
	}
	seq, ts, switched := e.out.stamp(e.generatedKey(), e.tick.genSeq, e.tick.genTS, now, FrameSamples)
	RTPHeader{
		Marker:         switched,
		PayloadType:    st.Codec.PayloadType(),
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           e.out.ssrc,
	}.MarshalTo(e.tick.buf[:])
	e.write(e.tick.buf[:rtpHeaderLen+FrameSamples], st)
}

func fillSilence(b []byte, c Codec) {
	s := c.SilenceByte()
	for i := range b {
		b[i] = s
	}
}

// RTCP report interval (RFC 3550 §6.2: 5 s minimum, randomised ±50 %).
const rtcpInterval = 5 * time.Second

// housekeeping runs about once a second per endpoint: the media-timeout
// sweep (decision 12) and RTCP reports.
func (e *Endpoint) housekeeping(now int64) {
	st := e.remote.Load()
	if st == nil {
		return
	}
	if t := e.cfg.MediaTimeout; t > 0 && st.Receive && now-e.lastRecv.Load() > int64(t) {
		if e.timedOut.CompareAndSwap(false, true) {
			e.emit(Event{Kind: EventMediaTimeout})
		}
	}
	if now >= e.tick.nextRTCP {
		jitter := rand.Int64N(int64(rtcpInterval))
		e.tick.nextRTCP = now + int64(rtcpInterval)/2 + jitter
		e.sendRTCP(st, now)
	}
}

func (e *Endpoint) sendRTCP(st *remoteState, now int64) {
	dst := st.sendRTCP.Load()
	if dst == nil || !dst.IsValid() || dst.Addr().IsUnspecified() {
		return
	}
	var sender *SenderInfo
	var si SenderInfo
	if rtpNow, packets, octets, ok := e.out.senderInfo(now); ok {
		si = SenderInfo{RTPTime: rtpNow, Packets: packets, Octets: octets}
		sender = &si
	}
	buf := e.tick.buf[:]
	e.rxMu.Lock()
	n := BuildReport(buf, e.out.ssrc, sender, &e.rstats, time.Unix(0, now))
	e.rxMu.Unlock()
	if n <= 0 {
		return
	}
	conn := e.rtcp
	if st.RTCPMux {
		conn = e.rtp
	}
	out := buf[:n]
	if st.crypto != nil {
		var err error
		if out, err = st.crypto.protectRTCP(out); err != nil {
			return
		}
	}
	_, _ = conn.WriteToUDPAddrPort(out, *dst)
}
