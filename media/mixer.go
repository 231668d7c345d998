package media

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Mixer mixes a conference on the media clock: each member hears the sum
// of the others (mix-minus), saturated to int16, O(N) a tick. A member's
// input comes from its endpoint's jitter buffer (one frame per tick, with
// loss concealment), so a late or lossy leg delays nobody else: the
// mixer never waits for a frame.
//
// Register the Mixer with Clock.AddProcessor; attach each member as a
// sink (its input) and a source (its output) of its endpoint. Join,
// Leave, SetMuted and SetDeaf are safe for concurrent use; the frame
// methods run on the clock goroutine.
type Mixer struct {
	mu      sync.Mutex // guards members
	members []*MixerMember

	sum [FrameSamples]int32
	mix Frame // the full mix of the last tick
}

// MixerMember is one member of a Mixer: a FrameSink for what it says and
// a FrameSource for what it hears.
type MixerMember struct {
	in    Frame
	fresh bool // in was written this tick
	out   Frame
	muted atomic.Bool // its voice is not mixed in
	deaf  atomic.Bool // it hears silence
}

// NewMixer returns an empty mixer.
func NewMixer() *Mixer { return &Mixer{} }

// Join adds a member.
func (m *Mixer) Join() *MixerMember {
	mm := &MixerMember{}
	m.mu.Lock()
	m.members = append(m.members, mm)
	m.mu.Unlock()
	return mm
}

// Leave removes a member; it returns how many are left.
func (m *Mixer) Leave(mm *MixerMember) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members = slices.DeleteFunc(m.members, func(x *MixerMember) bool { return x == mm })
	return len(m.members)
}

// Len returns the number of members.
func (m *Mixer) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.members)
}

// SetMuted mutes (true) or unmutes what the member says.
func (mm *MixerMember) SetMuted(v bool) { mm.muted.Store(v) }

// SetDeaf deafens (true) or undeafens the member: it hears silence.
func (mm *MixerMember) SetDeaf(v bool) { mm.deaf.Store(v) }

// WriteFrame takes what the member says this tick (FrameSink).
func (mm *MixerMember) WriteFrame(f *Frame) {
	mm.in = *f
	mm.fresh = true
}

// ReadFrame gives what the member hears this tick (FrameSource).
func (mm *MixerMember) ReadFrame(f *Frame) bool {
	*f = mm.out
	return true
}

// Process mixes one tick (Processor).
func (m *Mixer) Process(time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := &m.sum
	*sum = [FrameSamples]int32{}
	for _, mm := range m.members {
		if !mm.fresh || mm.muted.Load() {
			continue
		}
		for i, v := range mm.in {
			sum[i] += int32(v)
		}
	}
	for i, v := range sum {
		m.mix[i] = sat16(v)
	}
	for _, mm := range m.members {
		switch {
		case mm.deaf.Load():
			mm.out = Frame{}
		case !mm.fresh || mm.muted.Load():
			mm.out = m.mix
		default:
			for i, v := range sum {
				mm.out[i] = sat16(v - int32(mm.in[i]))
			}
		}
		mm.fresh = false
	}
}

// Mix copies the full mix of the last tick (everyone, for a recording or
// a monitor). It runs on the clock goroutine.
func (m *Mixer) Mix(f *Frame) { *f = m.mix }

func sat16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
