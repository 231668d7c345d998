package media

import (
	"errors"
	"testing"
	"time"
)

func TestDTMFEventParseMarshal(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want DTMFEvent
	}{
		// SIPp's pcap: digit 1, volume 10, the first packet of duration 0.
		{"sipp first", []byte{0x01, 0x0A, 0x00, 0x00}, DTMFEvent{Event: 1, Volume: 10}},
		{"end", []byte{0x0B, 0x8A, 0x03, 0x20}, DTMFEvent{Event: 11, End: true, Volume: 10, Duration: 800}},
		{"R bit ignored", []byte{0x05, 0x40 | 0x3F, 0xFF, 0xFF}, DTMFEvent{Event: 5, Volume: 63, Duration: 65535}},
		{"trailing reports", []byte{0x02, 0x00, 0x00, 0xA0, 0x03, 0x80, 0x00, 0x10}, DTMFEvent{Event: 2, Duration: 160}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDTMFEvent(tt.b)
			if err != nil || got != tt.want {
				t.Fatalf("ParseDTMFEvent = %+v, %v; want %+v", got, err, tt.want)
			}
			var b [4]byte
			if n := got.MarshalTo(b[:]); n != DTMFEventSize {
				t.Fatalf("MarshalTo = %d", n)
			}
			want := [4]byte(tt.b[:4])
			want[1] &^= 0x40 // R is written as zero
			if b != want {
				t.Errorf("MarshalTo = % x, want % x", b, want)
			}
		})
	}
	for n := range 4 {
		if _, err := ParseDTMFEvent(make([]byte, n)); !errors.Is(err, ErrMalformedDTMF) {
			t.Errorf("%d bytes: err = %v", n, err)
		}
	}
	if n := (DTMFEvent{}).MarshalTo(make([]byte, 3)); n != 0 {
		t.Errorf("MarshalTo(short) = %d", n)
	}
	var b [4]byte
	DTMFEvent{Volume: 0xFF}.MarshalTo(b[:])
	if b[1] != 0x3F {
		t.Errorf("volume not truncated: %#x", b[1])
	}
}

func TestDigitEvent(t *testing.T) {
	for i, d := range []byte("0123456789*#ABCD") {
		ev, ok := DigitEvent(d)
		if !ok || int(ev) != i {
			t.Errorf("DigitEvent(%q) = %d, %v", d, ev, ok)
		}
		back, ok := EventDigit(ev)
		if !ok || back != d {
			t.Errorf("EventDigit(%d) = %q, %v", ev, back, ok)
		}
	}
	for _, d := range []byte("abcd") {
		if ev, ok := DigitEvent(d); !ok || ev != d-'a'+12 {
			t.Errorf("DigitEvent(%q) = %d, %v", d, ev, ok)
		}
	}
	for _, d := range []byte("EeF!/:@ \x00\xff") {
		if _, ok := DigitEvent(d); ok {
			t.Errorf("DigitEvent(%q) accepted", d)
		}
	}
	for _, ev := range []uint8{16, 17, 255} {
		if _, ok := EventDigit(ev); ok {
			t.Errorf("EventDigit(%d) accepted", ev)
		}
	}
}

// dtmfPkt is one received telephone-event packet of a test script.
type dtmfPkt struct {
	at     time.Duration // arrival, from the test's epoch
	ssrc   uint32
	ts     uint32
	marker bool
	ev     uint8
	end    bool
	dur    uint16
}

// digitPackets returns the packets of one event as a sender on a 20 ms
// cadence sends them, from at: updates until dur, then three end packets.
// firstZero starts with a duration-0 packet, as SIPp's pcaps do.
func digitPackets(at time.Duration, ssrc, ts uint32, ev uint8, dur uint16, firstZero bool) []dtmfPkt {
	var out []dtmfPkt
	d := uint16(160)
	if firstZero {
		d = 0
	}
	for ; d < dur; d += 160 {
		out = append(out, dtmfPkt{at: at, ssrc: ssrc, ts: ts, marker: len(out) == 0, ev: ev, dur: d})
		at += FrameDuration
	}
	for range 3 {
		out = append(out, dtmfPkt{at: at, ssrc: ssrc, ts: ts, marker: len(out) == 0, ev: ev, end: true, dur: dur})
		at += FrameDuration
	}
	return out
}

func runDTMF(r *DTMFReceiver, pkts []dtmfPkt) (digits string, at []int) {
	epoch := time.Unix(1000, 0)
	for i, p := range pkts {
		h := RTPHeader{Marker: p.marker, PayloadType: 101, SSRC: p.ssrc, Timestamp: p.ts}
		if d, ok := r.Receive(h, DTMFEvent{Event: p.ev, End: p.end, Volume: 10, Duration: p.dur}, epoch.Add(p.at)); ok {
			digits += string(d)
			at = append(at, i)
		}
	}
	return digits, at
}

func concat(parts ...[]dtmfPkt) []dtmfPkt {
	var out []dtmfPkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func drop(pkts []dtmfPkt, keep func(i int, p dtmfPkt) bool) []dtmfPkt {
	var out []dtmfPkt
	for i, p := range pkts {
		if keep(i, p) {
			out = append(out, p)
		}
	}
	return out
}

func TestDTMFReceiver(t *testing.T) {
	const s1, s2 = 0xCA110000, 0x1234
	ms := time.Millisecond
	tests := []struct {
		name   string
		pkts   []dtmfPkt
		digits string
		at     []int // index of the packet that reports each digit
	}{
		{"sipp duration-0 first packet", digitPackets(0, s1, 1000, 1, 800, true), "1", []int{0}},
		{"rfc sender", digitPackets(0, s1, 1000, 11, 800, false), "#", []int{0}},
		{"same digit twice", concat(digitPackets(0, s1, 1000, 5, 800, false), digitPackets(300*ms, s1, 3400, 5, 800, false)), "55", []int{0, 7}},
		{"two digits back to back", concat(digitPackets(0, s1, 1000, 1, 480, false), digitPackets(100*ms, s1, 1800, 2, 480, false)), "12", []int{0, 5}},
		{"all end packets lost", concat(
			drop(digitPackets(0, s1, 1000, 7, 800, false), func(_ int, p dtmfPkt) bool { return !p.end }),
			digitPackets(200*ms, s1, 2600, 7, 800, false)), "77", []int{0, 4}},
		{"only end packets arrive", drop(digitPackets(0, s1, 1000, 9, 800, false), func(_ int, p dtmfPkt) bool { return p.end }), "9", []int{0}},
		{"first packets lost", drop(digitPackets(0, s1, 1000, 3, 800, false), func(i int, _ dtmfPkt) bool { return i >= 2 }), "3", []int{0}},
		{"end retransmissions reordered", func() []dtmfPkt {
			p := digitPackets(0, s1, 1000, 4, 480, false)
			p[2], p[4] = p[4], p[2]
			return p
		}(), "4", []int{0}},
		{"pcap replayed: same ssrc and timestamp", concat(digitPackets(0, s1, 1000, 1, 800, true), digitPackets(time.Second, s1, 1000, 1, 800, true)), "11", []int{0, 8}},
		{"late end retransmission after close", concat(digitPackets(0, s1, 1000, 6, 480, false),
			[]dtmfPkt{{at: 500 * ms, ssrc: s1, ts: 1000, ev: 6, end: true, dur: 480}}), "6", []int{0}},
		{"long key press with a loss gap", concat(
			digitPackets(0, s1, 1000, 8, 320, false)[:1],
			[]dtmfPkt{{at: 200 * ms, ssrc: s1, ts: 1000, ev: 8, dur: 1760}},
			[]dtmfPkt{{at: 220 * ms, ssrc: s1, ts: 1000, ev: 8, end: true, dur: 1920}}), "8", []int{0}},
		{"interleaved ssrcs", func() []dtmfPkt {
			a := digitPackets(0, s1, 1000, 1, 480, false)
			b := digitPackets(10*ms, s2, 9000, 2, 480, false)
			var out []dtmfPkt
			for i := range a {
				out = append(out, a[i], b[i])
			}
			return out
		}(), "12", []int{0, 1}},
		{"two digits under one timestamp", concat(digitPackets(0, s1, 1000, 1, 320, false), digitPackets(100*ms, s1, 1000, 2, 320, false)), "12", []int{0, 4}},
		{"flash is not a digit", digitPackets(0, s1, 1000, 16, 800, false), "", nil},
		{"timestamp wrap", concat(digitPackets(0, s1, 0xFFFFFF60, 0, 480, false), digitPackets(200*ms, s1, 0x640, 0, 480, false)), "00", []int{0, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r DTMFReceiver
			digits, at := runDTMF(&r, tt.pkts)
			if digits != tt.digits {
				t.Fatalf("digits %q, want %q", digits, tt.digits)
			}
			for i := range at {
				if at[i] != tt.at[i] {
					t.Errorf("digit %d reported at packet %d, want %d", i, at[i], tt.at[i])
				}
			}
		})
	}
}

func TestDTMFReceiverActive(t *testing.T) {
	var r DTMFReceiver
	epoch := time.Unix(0, 0)
	h := RTPHeader{Marker: true, SSRC: 1, Timestamp: 160}
	if _, ok := r.Active(epoch); ok {
		t.Fatal("zero receiver active")
	}
	r.Receive(h, DTMFEvent{Event: 12, Duration: 160}, epoch)
	if d, ok := r.Active(epoch.Add(10 * time.Millisecond)); !ok || d != 'A' {
		t.Errorf("Active = %q %v, want A", d, ok)
	}
	h.Marker = false
	r.Receive(h, DTMFEvent{Event: 12, Duration: 320}, epoch.Add(20*time.Millisecond))
	// Three intervals of 20 ms after the last packet it is closed.
	if _, ok := r.Active(epoch.Add(79 * time.Millisecond)); !ok {
		t.Error("closed too early")
	}
	if _, ok := r.Active(epoch.Add(81 * time.Millisecond)); ok {
		t.Error("not closed after 3 intervals")
	}
	r.Receive(h, DTMFEvent{Event: 12, End: true, Duration: 480}, epoch.Add(40*time.Millisecond))
	if _, ok := r.Active(epoch.Add(41 * time.Millisecond)); ok {
		t.Error("active after its end packet")
	}
	r.Reset()
	if _, ok := r.Receive(h, DTMFEvent{Event: 12, End: true, Duration: 480}, epoch.Add(50*time.Millisecond)); !ok {
		t.Error("Reset did not forget the event")
	}
}

// TestDTMFReceiverInterval checks that a sender updating every 50 ms is
// not closed between its packets once its interval is known.
func TestDTMFReceiverInterval(t *testing.T) {
	var r DTMFReceiver
	epoch := time.Unix(0, 0)
	h := RTPHeader{SSRC: 1, Timestamp: 160}
	n := 0
	for i := range 10 {
		h.Marker = i == 0
		if _, ok := r.Receive(h, DTMFEvent{Event: 1, Duration: uint16(400 * (i + 1))}, epoch.Add(time.Duration(i)*50*time.Millisecond)); ok {
			n++
		}
		if _, ok := r.Active(epoch.Add(time.Duration(i)*50*time.Millisecond + 49*time.Millisecond)); !ok && i > 0 {
			t.Fatalf("closed between 50 ms updates at %d", i)
		}
	}
	if n != 1 {
		t.Errorf("%d digits", n)
	}
}

func TestDTMFSender(t *testing.T) {
	tests := []struct {
		name string
		dur  time.Duration
		want []uint16 // durations; the last three are end packets
	}{
		{"default", 0, []uint16{160, 320, 480, 640, 800, 800, 800}},
		{"100ms", 100 * time.Millisecond, []uint16{160, 320, 480, 640, 800, 800, 800}},
		{"rounded up", 30 * time.Millisecond, []uint16{160, 320, 320, 320}},
		{"one tick", time.Millisecond, []uint16{160, 160, 160}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s DTMFSender
			if err := s.Start('#', tt.dur); err != nil {
				t.Fatal(err)
			}
			var buf [8]byte
			for i, want := range tt.want {
				n, marker, done := s.Next(buf[:])
				if n != DTMFEventSize {
					t.Fatalf("packet %d: n = %d", i, n)
				}
				ev, _ := ParseDTMFEvent(buf[:n])
				wantEnd := i >= len(tt.want)-3
				if ev.Event != 11 || ev.Duration != want || ev.End != wantEnd || ev.Volume != DefaultDTMFVolume {
					t.Errorf("packet %d: %+v, want duration %d end %v", i, ev, want, wantEnd)
				}
				if marker != (i == 0) {
					t.Errorf("packet %d: marker %v", i, marker)
				}
				if done != (i == len(tt.want)-1) || s.Busy() == done {
					t.Errorf("packet %d: done %v busy %v", i, done, s.Busy())
				}
			}
			if n, _, done := s.Next(buf[:]); n != 0 || !done {
				t.Errorf("after the digit: n %d done %v", n, done)
			}
		})
	}
}

func TestDTMFSenderErrors(t *testing.T) {
	var s DTMFSender
	if n, _, done := s.Next(make([]byte, 4)); n != 0 || !done {
		t.Errorf("idle Next = %d %v", n, done)
	}
	if err := s.Start('x', 0); !errors.Is(err, ErrInvalidDigit) {
		t.Errorf("Start('x') = %v", err)
	}
	for _, d := range []time.Duration{-time.Millisecond, MaxDTMFDuration + time.Millisecond} {
		if err := s.Start('1', d); !errors.Is(err, ErrInvalidDuration) {
			t.Errorf("Start(%v) = %v", d, err)
		}
	}
	if err := s.Start('1', MaxDTMFDuration); err != nil {
		t.Fatal(err)
	}
	if err := s.Start('2', 0); !errors.Is(err, ErrDTMFBusy) {
		t.Errorf("Start while busy = %v", err)
	}
	if n, _, done := s.Next(make([]byte, 3)); n != 0 || !done {
		t.Errorf("short dst: %d %v", n, done)
	}
	// The longest event still fits the 16-bit duration.
	var last DTMFEvent
	for s.Busy() {
		var b [4]byte
		s.Next(b[:])
		last, _ = ParseDTMFEvent(b[:])
	}
	if !last.End || last.Duration != 64000 {
		t.Errorf("8 s event ends %+v", last)
	}
	s = DTMFSender{Volume: 20}
	if err := s.Start('a', 0); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	s.Next(b[:])
	if ev, _ := ParseDTMFEvent(b[:]); ev.Volume != 20 || ev.Event != 12 {
		t.Errorf("volume/event %+v", ev)
	}
}

// TestDTMFSenderToReceiver sends digits through a sender and a receiver
// as an endpoint would: one sequence number per packet, the event's start
// timestamp, the end packet retransmitted.
func TestDTMFSenderToReceiver(t *testing.T) {
	var s DTMFSender
	var r DTMFReceiver
	now := time.Unix(0, 0)
	var ts uint32 = 0xFFFFF000
	var seq uint16 = 65530
	var got string
	for _, d := range []byte("123#*0D") {
		if err := s.Start(d, 60*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		evTS := ts
		for {
			var b [4]byte
			n, marker, done := s.Next(b[:])
			ev, err := ParseDTMFEvent(b[:n])
			if err != nil {
				t.Fatal(err)
			}
			if digit, ok := r.Receive(RTPHeader{Marker: marker, PayloadType: 101, SequenceNumber: seq, Timestamp: evTS, SSRC: 9}, ev, now); ok {
				got += string(digit)
			}
			seq++
			ts += FrameSamples
			now = now.Add(FrameDuration)
			if done {
				break
			}
		}
		ts += 4 * FrameSamples // inter-digit gap
		now = now.Add(4 * FrameDuration)
	}
	if got != "123#*0D" {
		t.Errorf("received %q", got)
	}
}

func FuzzParseDTMFEvent(f *testing.F) {
	f.Add([]byte{0x01, 0x0A, 0x00, 0x00}, uint32(1000), true)
	f.Add([]byte{0x0B, 0x8A, 0x03, 0x20}, uint32(1000), false)
	f.Add([]byte{0x10, 0x7F}, uint32(0), false)
	var r DTMFReceiver
	now := time.Unix(0, 0)
	f.Fuzz(func(t *testing.T, b []byte, ts uint32, marker bool) {
		ev, err := ParseDTMFEvent(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedDTMF) || len(b) >= DTMFEventSize {
				t.Fatalf("err %v for %d bytes", err, len(b))
			}
			return
		}
		if ev.Volume > 63 {
			t.Fatalf("volume %d", ev.Volume)
		}
		var out [DTMFEventSize]byte
		if ev.MarshalTo(out[:]) != DTMFEventSize {
			t.Fatal("MarshalTo")
		}
		want := [4]byte(b[:4])
		want[1] &^= 0x40
		if out != want {
			t.Fatalf("round trip % x -> % x", b[:4], out)
		}
		now = now.Add(7 * time.Millisecond)
		d, ok := r.Receive(RTPHeader{Marker: marker, SSRC: 1, Timestamp: ts}, ev, now)
		if ok && d != dtmfDigits[ev.Event] {
			t.Fatalf("digit %q for event %d", d, ev.Event)
		}
		if _, again := r.Receive(RTPHeader{SSRC: 1, Timestamp: ts}, ev, now); again {
			t.Fatal("a repeated packet reported a second digit")
		}
	})
}

func BenchmarkParseDTMFEvent(b *testing.B) {
	p := []byte{0x01, 0x8A, 0x03, 0x20}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDTMFEvent(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDTMFReceiver(b *testing.B) {
	var r DTMFReceiver
	now := time.Unix(0, 0)
	h := RTPHeader{SSRC: 1}
	var i uint32
	b.ReportAllocs()
	for b.Loop() {
		// A new event every 8 packets: first, updates, 3 ends.
		k := i % 8
		h.Timestamp = i / 8 * 1600
		h.Marker = k == 0
		r.Receive(h, DTMFEvent{Event: 1, End: k >= 5, Duration: uint16(min(k, 5)+1) * 160}, now)
		now = now.Add(FrameDuration)
		i++
	}
}

func BenchmarkDTMFSender(b *testing.B) {
	var s DTMFSender
	var buf [4]byte
	b.ReportAllocs()
	for b.Loop() {
		if !s.Busy() {
			_ = s.Start('5', 0)
		}
		s.Next(buf[:])
	}
}
