package media

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func toneFrame(freq, amp float64) Frame {
	var f Frame
	for i := range f {
		f[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	return f
}

// TestMixMinus: each member hears the others and not itself; muted members
// are not heard, deaf members hear nothing; sums saturate.
func TestMixMinus(t *testing.T) {
	m := NewMixer()
	freqs := []float64{500, 1000, 1500}
	var mm []*MixerMember
	for range freqs {
		mm = append(mm, m.Join())
	}
	tick := func() {
		for i, f := range freqs {
			fr := toneFrame(f, 5000)
			mm[i].WriteFrame(&fr)
		}
		m.Process(time.Time{})
	}
	tick()
	for i := range mm {
		var out Frame
		mm[i].ReadFrame(&out)
		for j, f := range freqs {
			s := ToneShare(out[:], f)
			if i == j && s > 0.01 {
				t.Errorf("member %d hears itself (share %.2f)", i, s)
			}
			if i != j && s < 0.3 {
				t.Errorf("member %d hears %v Hz at share %.2f only", i, f, s)
			}
		}
	}
	mm[1].SetMuted(true)
	mm[2].SetDeaf(true)
	tick()
	var out Frame
	mm[0].ReadFrame(&out)
	if ToneShare(out[:], 1000) > 0.01 || ToneShare(out[:], 1500) < 0.9 {
		t.Errorf("member 0 hears the muted member or misses member 2")
	}
	mm[2].ReadFrame(&out)
	if out != (Frame{}) {
		t.Error("a deaf member hears something")
	}
	mm[1].ReadFrame(&out) // muted: hears everyone else
	if ToneShare(out[:], 500) < 0.3 || ToneShare(out[:], 1500) < 0.3 {
		t.Error("a muted member does not hear the others")
	}
	// Saturation: three loud in-phase members.
	for _, x := range mm {
		x.SetMuted(false)
		x.SetDeaf(false)
		loud := Frame{}
		for i := range loud {
			loud[i] = 30000
		}
		x.WriteFrame(&loud)
	}
	m.Process(time.Time{})
	mm[0].ReadFrame(&out)
	if out[0] != 32767 {
		t.Errorf("sum of two 30000 samples is %d, want saturated 32767", out[0])
	}
	if n := m.Leave(mm[0]); n != 2 {
		t.Errorf("%d members after a leave", n)
	}
}

// BenchmarkMixer measures one tick for N members; report ns/member.
func BenchmarkMixer(b *testing.B) {
	for _, n := range []int{3, 10, 50, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := NewMixer()
			var mm []*MixerMember
			frames := make([]Frame, n)
			for i := range n {
				mm = append(mm, m.Join())
				frames[i] = toneFrame(200+float64(i)*10, 3000)
			}
			var out Frame
			b.ReportAllocs()
			start := time.Now()
			ticks := 0
			for b.Loop() {
				for i, x := range mm {
					x.WriteFrame(&frames[i])
				}
				m.Process(time.Time{})
				for _, x := range mm {
					x.ReadFrame(&out)
				}
				ticks++
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(ticks*n), "ns/member")
		})
	}
}
