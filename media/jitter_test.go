package media

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// jbPacket is one packet of a jitter buffer simulation.
type jbPacket struct {
	arrive time.Duration
	h      RTPHeader
	n      int  // samples
	cn     bool // comfort noise
}

// jbOut is one popped frame.
type jbOut struct {
	at    time.Duration
	state FrameState
	f     Frame
}

// tsSamples returns n samples whose values encode their RTP timestamp,
// so that the output shows exactly which audio was played.
func tsSamples(ts uint32, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16((ts + uint32(i)) & 0x7FFF)
	}
	return pcm
}

// stream returns the packets of a sender of n-sample packets every
// period, count of them, starting at timestamp ts0, each delayed by
// delay(k) (nil for none); lost(k) drops packet k.
func stream(ts0 uint32, n int, period time.Duration, count int, delay func(k int) time.Duration, lost func(k int) bool) []jbPacket {
	var out []jbPacket
	for k := range count {
		if lost != nil && lost(k) {
			continue
		}
		at := time.Duration(k) * period
		if delay != nil {
			at += delay(k)
		}
		out = append(out, jbPacket{arrive: at, n: n,
			h: RTPHeader{Marker: k == 0, PayloadType: 0, SequenceNumber: uint16(k), Timestamp: ts0 + uint32(k*n), SSRC: 7}})
	}
	return out
}

// simulate feeds packets in arrival order and pops a frame every 20 ms
// from popPhase until end.
func simulate(t testing.TB, j *JitterBuffer, pkts []jbPacket, popPhase, end time.Duration) []jbOut {
	t.Helper()
	pkts = slices.Clone(pkts)
	slices.SortStableFunc(pkts, func(a, b jbPacket) int { return int(a.arrive - b.arrive) })
	epoch := time.Unix(5000, 0)
	var out []jbOut
	i := 0
	for at := popPhase; at < end; at += FrameDuration {
		for ; i < len(pkts) && pkts[i].arrive <= at; i++ {
			p := pkts[i]
			if p.cn {
				j.PushSilence(p.h, epoch.Add(p.arrive))
			} else {
				j.Push(p.h, tsSamples(p.h.Timestamp, p.n), epoch.Add(p.arrive))
			}
			if b := j.Buffered(); b > j.capacityDuration() {
				t.Fatalf("at %v buffered %v > capacity", p.arrive, b)
			}
		}
		var o jbOut
		o.at = at
		o.state = j.Pop(&o.f)
		out = append(out, o)
	}
	return out
}

func (j *JitterBuffer) capacityDuration() time.Duration {
	return time.Duration(j.capacity) * time.Second / SampleRate
}

// summary counts states and checks that real frames play audio in order:
// each frame contiguous inside, never repeating or going back. It returns
// the timestamps (mod 2^15) at which gaps between real frames occur.
func summary(t testing.TB, out []jbOut) (real, concealed, silence int, gaps int) {
	t.Helper()
	out = trimTail(out)
	prevEnd := -1
	for _, o := range out {
		switch o.state {
		case FrameReal:
			real++
			for i := 1; i < FrameSamples; i++ {
				if (o.f[i]-o.f[i-1])&0x7FFF != 1 {
					t.Fatalf("at %v: real frame not contiguous at %d: %d, %d", o.at, i, o.f[i-1], o.f[i])
				}
			}
			start := int(o.f[0])
			if prevEnd >= 0 && start != prevEnd {
				d := (start - prevEnd) & 0x7FFF
				if d > 0x4000 {
					t.Fatalf("at %v: audio went back from %d to %d", o.at, prevEnd, start)
				}
				gaps++
			}
			prevEnd = (int(o.f[FrameSamples-1]) + 1) & 0x7FFF
		case FrameConcealed:
			concealed++
		case FrameSilence:
			silence++
			if o.f != (Frame{}) {
				t.Fatalf("at %v: silence frame not zero", o.at)
			}
		}
	}
	return real, concealed, silence, gaps
}

func TestJitterSteady(t *testing.T) {
	for _, ms := range []int{10, 20, 30, 40, 60} {
		t.Run(time.Duration(ms*int(time.Millisecond)).String(), func(t *testing.T) {
			var j JitterBuffer
			n := ms * 8
			period := time.Duration(ms) * time.Millisecond
			pkts := stream(1000, n, period, 3000/ms, nil, nil) // 3 s
			out := simulate(t, &j, pkts, 5*time.Millisecond, 3*time.Second)
			real, concealed, _, gaps := summary(t, out)
			s := j.Stats()
			if concealed != 0 || gaps != 0 || s.Late != 0 || s.Underruns != 0 || s.Overflow != 0 || s.DriftDrops != 0 {
				t.Errorf("real %d concealed %d gaps %d stats %+v", real, concealed, gaps, s)
			}
			if real < 140 {
				t.Errorf("only %d real frames of 150", real)
			}
			if s.Jitter != 0 {
				t.Errorf("jitter %d for perfectly timed packets", s.Jitter)
			}
			// The first real frame is the first audio sent.
			for _, o := range out {
				if o.state == FrameReal {
					if o.f[0] != 1000 {
						t.Errorf("first frame starts at %d", o.f[0])
					}
					break
				}
			}
		})
	}
}

func TestJitterReorderDuplicateLoss(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name            string
		pkts            []jbPacket
		concealed       int
		gaps            int
		late, dup       uint64
		minReal         int
		underrunsAtMost uint64
		loose           bool // partly concealed frames expected
	}{
		{"adjacent swaps", stream(0, 160, 20*ms, 100, func(k int) time.Duration {
			if k%10 == 3 {
				return 25 * ms // arrives after k+1
			}
			return 0
		}, nil), 0, 0, 0, 0, 95, 0, false},
		{"every packet twice", func() []jbPacket {
			p := stream(0, 160, 20*ms, 100, nil, nil)
			for _, q := range slices.Clone(p) {
				q.arrive += 7 * ms
				p = append(p, q)
			}
			return p
		}(), 0, 0, 0, 100, 95, 0, false},
		{"single loss", stream(0, 160, 20*ms, 100, nil, func(k int) bool { return k == 50 }), 1, 1, 0, 0, 95, 1, false},
		{"late packet", stream(0, 160, 20*ms, 100, func(k int) time.Duration {
			if k == 50 {
				return 120 * ms
			}
			return 0
		}, nil), 1, 1, 1, 0, 95, 1, false},
		{"30 ms packets with a loss", stream(0, 240, 30*ms, 66, nil, func(k int) bool { return k == 30 }), 1, 1, 0, 0, 90, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j JitterBuffer
			out := simulate(t, &j, tt.pkts, 3*ms, 2100*ms)
			var real, concealed, gaps int
			if tt.loose {
				real, concealed, _, gaps = summaryLoose(out)
			} else {
				real, concealed, _, gaps = summary(t, out)
			}
			s := j.Stats()
			if concealed != tt.concealed || gaps != tt.gaps || s.Late != tt.late || s.Duplicates != tt.dup ||
				real < tt.minReal || s.Underruns-trailing(out) > tt.underrunsAtMost {
				t.Errorf("real %d concealed %d gaps %d stats %+v", real, concealed, gaps, s)
			}
		})
	}
}

func TestJitterBurstLossRecovers(t *testing.T) {
	var j JitterBuffer
	ms := time.Millisecond
	pkts := stream(0, 160, 20*ms, 300, nil, func(k int) bool { return k >= 100 && k < 110 })
	out := simulate(t, &j, pkts, 3*ms, 6*time.Second)
	_, concealed, _, gaps := summary(t, out)
	if concealed != jbMaxConceal || gaps != 1 {
		t.Errorf("concealed %d gaps %d", concealed, gaps)
	}
	// 200 ms of loss must not leave 200 ms of extra delay behind.
	for _, o := range out[150:] {
		if o.state != FrameReal && o.at < 5900*ms {
			t.Fatalf("at %v: %v after recovery", o.at, o.state)
		}
	}
	var pk jbPacket
	for _, p := range pkts {
		if p.arrive <= 4*time.Second {
			pk = p
		}
	}
	// Find the frame played at 4 s: its delay behind the newest packet.
	for _, o := range out {
		if o.at >= 4*time.Second && o.state == FrameReal {
			delay := int(pk.h.Timestamp) + pk.n - int(o.f[0])
			if delay > j.target+2*FrameSamples {
				t.Errorf("delay %d samples after the burst, target %d", delay, j.target)
			}
			break
		}
	}
}

func TestJitterRandomJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var j JitterBuffer
	ms := time.Millisecond
	pkts := stream(12345, 160, 20*ms, 1500, func(int) time.Duration {
		return time.Duration(rng.IntN(30)) * ms
	}, nil)
	out := simulate(t, &j, pkts, 1*ms, 30*time.Second)
	real, concealed, _, _ := summary(t, out)
	s := j.Stats()
	if real < 1450 || s.Overflow != 0 {
		t.Errorf("real %d concealed %d stats %+v", real, concealed, s)
	}
	if s.Jitter < 40 || s.Jitter > 150 {
		t.Errorf("jitter estimate %d samples for uniform 0-30 ms delay", s.Jitter)
	}
	if b := j.Buffered(); b > 120*ms {
		t.Errorf("delay grew to %v", b)
	}
}

func TestJitterClockDrift(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		period time.Duration
	}{
		{"sender 0.5% fast", 19900 * time.Microsecond},
		{"sender 0.5% slow", 20100 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j JitterBuffer
			count := int(60 * time.Second / tc.period)
			pkts := stream(0, 160, tc.period, count, nil, nil)
			out := simulate(t, &j, pkts, 2*ms, 60*time.Second)
			real, concealed, _, gaps := summary(t, out)
			s := j.Stats()
			// 0.5 % of 3000 frames is 15 frames to drop or insert.
			if s.Late != 0 || s.Overflow != 0 || real < 2900 {
				t.Errorf("real %d concealed %d gaps %d stats %+v", real, concealed, gaps, s)
			}
			if tc.period < FrameDuration && (s.DriftDrops < 10 || s.DriftDrops > 20 || s.Underruns != 0) {
				t.Errorf("fast sender: %d drift drops, %d underruns", s.DriftDrops, s.Underruns)
			}
			if tc.period > FrameDuration && (s.Underruns < 10 || s.Underruns > 20 || s.DriftDrops != 0) {
				t.Errorf("slow sender: %d underruns, %d drift drops", s.Underruns, s.DriftDrops)
			}
			if b := j.Buffered(); b > 80*ms {
				t.Errorf("delay %v at the end", b)
			}
		})
	}
}

func TestJitterDTX(t *testing.T) {
	ms := time.Millisecond
	talk := func(at time.Duration, ts uint32, frames int) []jbPacket {
		p := stream(ts, 160, 20*ms, frames, nil, nil)
		for i := range p {
			p[i].arrive += at
		}
		return p
	}
	// 1 s talk, comfort noise, 2 s pause, 1 s talk with the marker bit;
	// timestamps advance through the pause as RFC 3551 says.
	pkts := talk(0, 1000, 50)
	pkts = append(pkts, jbPacket{arrive: 1000 * ms, cn: true, h: RTPHeader{PayloadType: 13, Timestamp: 1000 + 50*160, SSRC: 7}})
	pkts = append(pkts, talk(3000*ms, 1000+150*160, 50)...)
	for _, withCN := range []bool{true, false} {
		name := "without comfort noise"
		if withCN {
			name = "with comfort noise"
		}
		t.Run(name, func(t *testing.T) {
			p := pkts
			if !withCN {
				p = slices.DeleteFunc(slices.Clone(p), func(q jbPacket) bool { return q.cn })
			}
			var j JitterBuffer
			out := simulate(t, &j, p, 3*ms, 4500*ms)
			real, concealed, _, gaps := summary(t, out)
			s := j.Stats()
			if real != 100 || gaps != 1 || s.Late != 0 || s.Restarts != 1 {
				t.Errorf("real %d gaps %d stats %+v", real, gaps, s)
			}
			if withCN && (concealed != 0 || s.Underruns != trailing(out) || s.ComfortNoise != 1) {
				t.Errorf("comfort noise: concealed %d stats %+v", concealed, s)
			}
			if !withCN && concealed != jbMaxConceal {
				t.Errorf("no comfort noise: concealed %d", concealed)
			}
		})
	}
}

func TestJitterRestarts(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		mod  func(p []jbPacket) []jbPacket
		want func(t *testing.T, s JitterStats, real, gaps int)
	}{
		{"new ssrc", func(p []jbPacket) []jbPacket {
			for i := 50; i < len(p); i++ {
				p[i].h.SSRC = 99
				p[i].h.Timestamp += 1 << 20
			}
			return p
		}, func(t *testing.T, s JitterStats, real, gaps int) {
			if s.Restarts != 1 || s.Late != 0 || real < 95 {
				t.Errorf("real %d stats %+v", real, s)
			}
		}},
		{"timestamp jumps forward without marker", func(p []jbPacket) []jbPacket {
			for i := 50; i < len(p); i++ {
				p[i].h.Timestamp += 100000
			}
			return p
		}, func(t *testing.T, s JitterStats, real, gaps int) {
			if s.Restarts != 1 || s.Late != 0 || real < 95 {
				t.Errorf("real %d stats %+v", real, s)
			}
		}},
		{"timestamp jumps back without marker", func(p []jbPacket) []jbPacket {
			for i := 50; i < len(p); i++ {
				p[i].h.Timestamp -= 100000
			}
			return p
		}, func(t *testing.T, s JitterStats, real, gaps int) {
			if s.Restarts != 1 || s.Late != jbStaleResync-1 || real < 90 {
				t.Errorf("real %d stats %+v", real, s)
			}
		}},
		{"timestamp wraps", func(p []jbPacket) []jbPacket {
			for i := range p {
				p[i].h.Timestamp -= 50*160 + 1000 + 37
			}
			return p
		}, func(t *testing.T, s JitterStats, real, gaps int) {
			if s.Restarts != 0 || s.Late != 0 || real < 97 || gaps != 0 {
				t.Errorf("real %d gaps %d stats %+v", real, gaps, s)
			}
		}},
		{"first packets reordered while filling", func(p []jbPacket) []jbPacket {
			p[0].arrive, p[1].arrive = 15*ms, 0
			return p
		}, func(t *testing.T, s JitterStats, real, gaps int) {
			if s.Late != 0 || gaps != 0 || real < 97 {
				t.Errorf("real %d gaps %d stats %+v", real, gaps, s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j JitterBuffer
			p := tt.mod(stream(1000, 160, 20*ms, 100, nil, nil))
			out := simulate(t, &j, p, 3*ms, 2100*ms)
			real, _, _, gaps := summaryLoose(out)
			tt.want(t, j.Stats(), real, gaps)
		})
	}
}

// trimTail drops the frames after the last real one: the end of the
// stream, not a loss.
func trimTail(out []jbOut) []jbOut {
	for len(out) > 0 && out[len(out)-1].state != FrameReal {
		out = out[:len(out)-1]
	}
	return out
}

// trailing returns how many frames follow the last real one.
func trailing(out []jbOut) uint64 { return uint64(len(out) - len(trimTail(out))) }

// summaryLoose counts without checking monotony or contiguity: restarts
// and partly concealed frames.
func summaryLoose(out []jbOut) (real, concealed, silence, gaps int) {
	out = trimTail(out)
	prevEnd := -1
	for _, o := range out {
		switch o.state {
		case FrameReal:
			real++
			if prevEnd >= 0 && int(o.f[0]) != prevEnd {
				gaps++
			}
			prevEnd = (int(o.f[FrameSamples-1]) + 1) & 0x7FFF
		case FrameConcealed:
			concealed++
		default:
			silence++
		}
	}
	return
}

func TestJitterOverflow(t *testing.T) {
	j := NewJitterBuffer(JitterConfig{Capacity: 200 * time.Millisecond})
	now := time.Unix(0, 0)
	// One second of 20 ms packets arrives at once, nothing popped.
	for k := range 50 {
		j.Push(RTPHeader{SSRC: 1, Timestamp: uint32(k * 160)}, tsSamples(uint32(k*160), 160), now)
	}
	if b := j.Buffered(); b != 200*time.Millisecond {
		t.Errorf("buffered %v", b)
	}
	s := j.Stats()
	if s.Overflow != 40 {
		t.Errorf("overflow %d frames, want 40", s.Overflow)
	}
	var f Frame
	if st := j.Pop(&f); st != FrameReal || f[0] != 40*160 {
		t.Errorf("first pop %v at %d, want the newest 200 ms", st, f[0])
	}
	// An oversized packet keeps its newest samples.
	j.Reset()
	j.Push(RTPHeader{SSRC: 1, Timestamp: 0}, tsSamples(0, 2000), now)
	if b := j.Buffered(); b != 200*time.Millisecond {
		t.Errorf("oversized packet: buffered %v", b)
	}
	j.Pop(&f)
	if f[0] != 2000-1600 {
		t.Errorf("oversized packet: plays from %d", f[0])
	}
}

func TestJitterConfig(t *testing.T) {
	tests := []struct {
		cfg              JitterConfig
		target, capacity int
	}{
		{JitterConfig{}, 320, 2400},
		{JitterConfig{Target: 50 * time.Millisecond}, 480, 2400},
		{JitterConfig{Target: time.Second, Capacity: time.Hour}, 2000, 4000},
		{JitterConfig{Target: -1, Capacity: time.Millisecond}, 160, 320},
	}
	for _, tt := range tests {
		j := NewJitterBuffer(tt.cfg)
		if j.target != tt.target || j.capacity != tt.capacity {
			t.Errorf("%+v: target %d capacity %d, want %d %d", tt.cfg, j.target, j.capacity, tt.target, tt.capacity)
		}
		j.Reset()
		if j.target != tt.target || j.cfg != tt.cfg {
			t.Errorf("Reset lost the configuration")
		}
	}
	// Playout starts once the target is buffered: 100 ms = 5 frames.
	j := NewJitterBuffer(JitterConfig{Target: 100 * time.Millisecond})
	out := simulate(t, j, stream(0, 160, 20*time.Millisecond, 20, nil, nil), time.Millisecond, 400*time.Millisecond)
	for i, o := range out {
		// 100 ms buffered beyond the frame played: 6 packets.
		if want := i >= 5; (o.state == FrameReal) != want {
			t.Errorf("pop %d: %v", i, o.state)
		}
	}
}

func TestJitterZeroValueAndStrings(t *testing.T) {
	var j JitterBuffer
	var f Frame
	f[0] = 5
	if st := j.Pop(&f); st != FrameSilence || f != (Frame{}) {
		t.Errorf("zero buffer pops %v", st)
	}
	if j.Buffered() != 0 {
		t.Error("zero buffer has audio")
	}
	j.PushSilence(RTPHeader{PayloadType: 13}, time.Unix(0, 0)) // before any audio
	j.Push(RTPHeader{}, nil, time.Unix(0, 0))                  // empty packet
	if s := j.Stats(); s.Packets != 1 || s.ComfortNoise != 1 {
		t.Errorf("stats %+v", s)
	}
	for st, want := range map[FrameState]string{FrameSilence: "silence", FrameReal: "real", FrameConcealed: "concealed", 9: "silence"} {
		if st.String() != want {
			t.Errorf("%d.String() = %q", st, st.String())
		}
	}
}

// FuzzJitterBuffer drives a buffer with arbitrary pushes and pops. It
// checks that nothing panics, the buffer never exceeds its capacity,
// silence is silent and states are valid.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0x10, 0x20, 0x30, 0xF0, 0xF1, 0x05, 0x15, 0x25, 0x35, 0x45})
	f.Add([]byte{0xFF, 0x00, 0xFF, 0x80, 0x81, 0x82, 0x83})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 2048 {
			ops = ops[:2048] // keep executions (and minimisation) fast
		}
		j := NewJitterBuffer(JitterConfig{Capacity: time.Duration(len(ops)%5+1) * 100 * time.Millisecond})
		now := time.Unix(0, 0)
		ts := uint32(0xFFFFF000)
		var seq uint16
		var ssrc uint32 = 1
		pcm := make([]int16, 1000)
		var fr Frame
		for i, op := range ops {
			now = now.Add(time.Duration(op&7) * 3 * time.Millisecond)
			switch op >> 6 {
			case 0, 1: // push a packet of 10-80 ms, forward or a bit back
				n := int(op&7+1) * 80
				d := int32(int8(op<<2)) * 40
				h := RTPHeader{Marker: op&0x20 != 0 && i%3 == 0, SequenceNumber: seq, Timestamp: ts + uint32(d), SSRC: ssrc}
				j.Push(h, pcm[:n], now)
				ts += uint32(n)
				seq++
			case 2:
				switch op & 0x3F {
				case 0:
					ssrc++
				case 1:
					ts += 1 << 30
				case 2:
					j.PushSilence(RTPHeader{PayloadType: 13, Timestamp: ts, SSRC: ssrc}, now)
				case 3:
					j.Reset()
				default:
					ts += uint32(op&0x3F) * 160
				}
			case 3:
				st := j.Pop(&fr)
				if st > FrameConcealed {
					t.Fatalf("state %d", st)
				}
				if st == FrameSilence && fr != (Frame{}) {
					t.Fatal("silence not silent")
				}
			}
			if b := j.Buffered(); b > j.capacityDuration() {
				t.Fatalf("buffered %v > capacity %v", b, j.capacityDuration())
			}
		}
		n := 0
		for _, v := range j.valid {
			if v {
				n++
			}
		}
		if n > j.capacity {
			t.Fatalf("%d samples held, capacity %d", n, j.capacity)
		}
	})
}

func BenchmarkJitterBuffer(b *testing.B) {
	var j JitterBuffer
	pcm := make([]int16, FrameSamples)
	now := time.Unix(0, 0)
	h := RTPHeader{SSRC: 1}
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		j.Push(h, pcm, now)
		j.Pop(&f)
		h.SequenceNumber++
		h.Timestamp += FrameSamples
		now = now.Add(FrameDuration)
	}
}
