package media

import (
	"encoding/binary"
	"time"
)

// RFC 4733 §2.3 telephone-event payload (one event report):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

// DTMFEventSize is the size in bytes of one RFC 4733 event report.
const DTMFEventSize = 4

const (
	dtmfEndBit     = 0x80
	dtmfVolumeMask = 0x3F
)

// DTMFEvent is one RFC 4733 event report.
type DTMFEvent struct {
	// Event is the event code; 0-15 are the DTMF digits (see EventDigit).
	Event uint8
	// End is the E bit: this report ends the event.
	End bool
	// Volume is the power level of the tone in -dBm0 (0-63); larger is
	// quieter.
	Volume uint8
	// Duration is the length of the event so far, in RTP timestamp units
	// (samples at 8 kHz) from the packet's timestamp, the event's start.
	Duration uint16
}

// ParseDTMFEvent parses the first event report of a telephone-event
// payload. The R bit is ignored (RFC 4733 §2.3.4) and further reports
// (RFC 4733 §2.5.1.5 allows several) are not read. Errors wrap
// ErrMalformedDTMF. It does not allocate.
func ParseDTMFEvent(payload []byte) (DTMFEvent, error) {
	if len(payload) < DTMFEventSize {
		return DTMFEvent{}, errDTMFShort
	}
	return DTMFEvent{
		Event:    payload[0],
		End:      payload[1]&dtmfEndBit != 0,
		Volume:   payload[1] & dtmfVolumeMask,
		Duration: binary.BigEndian.Uint16(payload[2:]),
	}, nil
}

// MarshalTo writes e as a 4-byte event report at the start of b and
// returns DTMFEventSize, or returns 0 and writes nothing when b is
// shorter. The R bit is zero and Volume is truncated to 6 bits.
func (e DTMFEvent) MarshalTo(b []byte) int {
	if len(b) < DTMFEventSize {
		return 0
	}
	b[0] = e.Event
	b[1] = e.Volume & dtmfVolumeMask
	if e.End {
		b[1] |= dtmfEndBit
	}
	binary.BigEndian.PutUint16(b[2:], e.Duration)
	return DTMFEventSize
}

// dtmfDigits maps event codes 0-15 to digits (RFC 4733 §3.2).
const dtmfDigits = "0123456789*#ABCD"

// DigitEvent returns the RFC 4733 event code of a DTMF digit: '0'-'9' are
// 0-9, '*' 10, '#' 11 and 'A'-'D' (or 'a'-'d') 12-15. It reports false for
// any other byte.
func DigitEvent(d byte) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return d - '0', true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return d - 'A' + 12, true
	case d >= 'a' && d <= 'd':
		return d - 'a' + 12, true
	}
	return 0, false
}

// EventDigit returns the DTMF digit of an RFC 4733 event code 0-15 (upper
// case for A-D). It reports false for other events (flash, tones).
func EventDigit(ev uint8) (byte, bool) {
	if int(ev) >= len(dtmfDigits) {
		return 0, false
	}
	return dtmfDigits[ev], true
}

// DTMF receiver tuning (decision 14).
const (
	// dtmfRecent is how many events a DTMFReceiver remembers, so that
	// retransmissions of one event interleaved with another (two SSRCs)
	// are still recognised.
	dtmfRecent = 4
	// dtmfCloseIntervals is after how many packet intervals without a
	// packet an event is closed.
	dtmfCloseIntervals = 3
	// Bounds of the packet interval estimate; FrameDuration until one is
	// observed.
	dtmfMinInterval = 10 * time.Millisecond
	dtmfMaxInterval = 100 * time.Millisecond
)

// dtmfState is what a DTMFReceiver remembers of one event.
type dtmfState struct {
	valid    bool
	ssrc, ts uint32
	event    uint8
	ended    bool
	duration uint16        // highest duration seen
	last     time.Time     // arrival of the latest packet
	interval time.Duration // packet interval estimate, 0 before known
}

func (s *dtmfState) closed(now time.Time) bool {
	iv := s.interval
	if iv == 0 {
		iv = FrameDuration
	}
	return now.Sub(s.last) > dtmfCloseIntervals*iv
}

// DTMFReceiver turns a stream of RFC 4733 packets into digits, reporting
// each event once (decision 14). Events are keyed by (SSRC, RTP
// timestamp): the first packet of a key reports its digit, whether or not
// its duration is zero (SIPp's pcaps start with duration 0) and whether or
// not it is already an end packet. Updates and the repeated end packets of
// the same key report nothing. An event is closed once no packet of it
// has arrived for three packet intervals (estimated from its duration
// increments, 20 ms until known), which covers events whose end packets
// are all lost; a closed key that shows up again with the marker bit or a
// duration smaller than the one seen is a new key press (the same pcap
// replayed twice), while a late retransmission of the old one is not. A
// different event code under the same key is a new press too (senders
// that reuse a timestamp for quick successive digits).
//
// The zero value is ready to use. A DTMFReceiver is not safe for
// concurrent use: it belongs to the goroutine reading the leg's RTP.
type DTMFReceiver struct {
	recent [dtmfRecent]dtmfState
	next   int // slot of recent to overwrite next
}

// Receive processes one telephone-event packet, with h its RTP header, ev
// its parsed payload and now its arrival time. It returns the digit and
// true when the packet starts a new DTMF event (0-9, *, #, A-D); events
// with other codes are tracked but not reported. It does not allocate.
func (r *DTMFReceiver) Receive(h RTPHeader, ev DTMFEvent, now time.Time) (digit byte, ok bool) {
	for i := range r.recent {
		s := &r.recent[i]
		if !s.valid || s.ssrc != h.SSRC || s.ts != h.Timestamp || s.event != ev.Event {
			continue
		}
		if s.closed(now) && ((h.Marker && !ev.End) || ev.Duration < s.duration) {
			// The same key again after the event closed: a new press.
			*s = dtmfState{}
			break
		}
		s.update(ev, now)
		return 0, false
	}
	s := &r.recent[r.next]
	r.next = (r.next + 1) % dtmfRecent
	*s = dtmfState{valid: true, ssrc: h.SSRC, ts: h.Timestamp, event: ev.Event,
		ended: ev.End, duration: ev.Duration, last: now}
	return EventDigit(ev.Event)
}

// update records a further packet of the event.
func (s *dtmfState) update(ev DTMFEvent, now time.Time) {
	if ev.Duration > s.duration && !s.ended {
		iv := time.Duration(ev.Duration-s.duration) * time.Second / SampleRate
		iv = min(max(iv, dtmfMinInterval), dtmfMaxInterval)
		if s.interval == 0 || iv < s.interval {
			s.interval = iv
		}
	}
	s.duration = max(s.duration, ev.Duration)
	s.ended = s.ended || ev.End
	if now.After(s.last) {
		s.last = now
	}
}

// Active returns the digit of the most recent event if it is still in
// progress at now: neither ended nor closed. Callers use it to know how
// long a digit lasts (for example to play it as in-band tones).
func (r *DTMFReceiver) Active(now time.Time) (digit byte, ok bool) {
	s := &r.recent[(r.next+dtmfRecent-1)%dtmfRecent]
	if !s.valid || s.ended || s.closed(now) {
		return 0, false
	}
	return EventDigit(s.event)
}

// Reset forgets every event.
func (r *DTMFReceiver) Reset() { *r = DTMFReceiver{} }

// DTMF sender defaults and limits.
const (
	// DefaultDTMFDuration is the tone length DTMFSender.Start uses for a
	// zero duration.
	DefaultDTMFDuration = 100 * time.Millisecond
	// MaxDTMFDuration is the longest event DTMFSender sends; longer ones
	// would need RFC 4733 §2.5.1.3 segments, which it does not implement.
	MaxDTMFDuration = 8 * time.Second
	// DefaultDTMFVolume is the power level (in -dBm0) sent when
	// DTMFSender.Volume is zero.
	DefaultDTMFVolume = 10
	// dtmfEndPackets is how many times the final packet goes out
	// (RFC 4733 §2.5.1.4).
	dtmfEndPackets = 3
)

// DTMFSender produces the RFC 4733 packets of one digit at a time, one
// packet per call to Next on the 20 ms media clock tick:
//
//   - the first packet has the marker bit and duration 160 (one tick; RFC
//     4733 allows 0, but some receivers mishandle it);
//   - each further packet adds 160 to the duration;
//   - the packet that reaches the digit's length has the E bit, and is sent
//     three times in all (§2.5.1.4), on three consecutive ticks.
//
// A 100 ms digit is therefore durations 160, 320, 480, 640, 800(E),
// 800(E), 800(E): seven packets. The caller owns the RTP header: every
// packet of the event carries the same timestamp, the one of the tick of
// the first packet (§2.2.1); every packet, retransmitted end packets
// included, takes the next sequence number (§2.5.1.6: "to permit the
// receiver to detect lost packets"); audio for the same ticks is not sent.
//
// The zero value is ready to use. A DTMFSender is not safe for concurrent
// use: it belongs to the goroutine running the leg's media clock tick.
type DTMFSender struct {
	// Volume is the power level sent in -dBm0 (0-63). Zero means
	// DefaultDTMFVolume.
	Volume uint8

	event    uint8
	busy     bool
	sent     int    // packets sent for the current event
	total    uint16 // event length in samples
	duration uint16 // duration of the last packet
	ends     int    // end packets sent
}

// Start begins sending digit (0-9, *, #, A-D) for duration d, rounded up
// to whole 20 ms ticks; zero means DefaultDTMFDuration. It returns
// ErrInvalidDigit for another digit, ErrInvalidDuration for a negative
// duration or one above MaxDTMFDuration, and ErrDTMFBusy while the
// previous digit is still being sent. It leaves no gap after the digit:
// callers wait before the next Start (typically 50-100 ms).
func (s *DTMFSender) Start(digit byte, d time.Duration) error {
	ev, ok := DigitEvent(digit)
	if !ok {
		return ErrInvalidDigit
	}
	if d == 0 {
		d = DefaultDTMFDuration
	}
	if d < 0 || d > MaxDTMFDuration {
		return ErrInvalidDuration
	}
	if s.busy {
		return ErrDTMFBusy
	}
	ticks := (d + FrameDuration - 1) / FrameDuration
	*s = DTMFSender{Volume: s.Volume, event: ev, busy: true, total: uint16(ticks * FrameSamples)}
	return nil
}

// Busy reports whether a digit is being sent, that is whether Next has
// packets left.
func (s *DTMFSender) Busy() bool { return s.busy }

// Next writes the event report of the next packet into dst and returns
// its length (DTMFEventSize), whether the packet carries the marker bit,
// and whether it is the last packet of the digit. When no digit is being
// sent, or dst is shorter than DTMFEventSize, it writes nothing and
// returns (0, false, true). It does not allocate.
func (s *DTMFSender) Next(dst []byte) (n int, marker, done bool) {
	if !s.busy || len(dst) < DTMFEventSize {
		return 0, false, true
	}
	if s.duration < s.total {
		s.duration += FrameSamples
	}
	end := s.duration >= s.total
	if end {
		s.ends++
	}
	vol := s.Volume
	if vol == 0 {
		vol = DefaultDTMFVolume
	}
	n = DTMFEvent{Event: s.event, End: end, Volume: vol, Duration: s.duration}.MarshalTo(dst)
	marker = s.sent == 0
	s.sent++
	done = s.ends >= dtmfEndPackets
	if done {
		s.busy = false
	}
	return n, marker, done
}
