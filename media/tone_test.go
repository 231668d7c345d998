package media

import (
	"math"
	"testing"
	"time"
)

func TestToneGenerator(t *testing.T) {
	g := NewToneGenerator(1000, 0, 0.5)
	var pcm []int16
	var f Frame
	for range 25 { // 0.5 s in frames: continuity across ReadFrame calls
		if !g.ReadFrame(&f) {
			t.Fatal("ReadFrame returned false")
		}
		pcm = append(pcm, f[:]...)
	}
	peak := 0.5 * math.MaxInt16
	for i, v := range pcm {
		want := peak * math.Sin(2*math.Pi*1000*float64(i)/SampleRate)
		if d := math.Abs(float64(v) - want); d > 2 {
			t.Fatalf("sample %d = %d, want %.1f", i, v, want)
		}
	}
	if s := ToneShare(pcm, 1000); s < 0.99 {
		t.Errorf("share at 1000 Hz = %.3f", s)
	}
}

func TestToneGeneratorDual(t *testing.T) {
	g := NewToneGenerator(600, 1800, 0.3)
	pcm := make([]int16, 0, 4000)
	var f Frame
	for len(pcm) < 4000 {
		g.ReadFrame(&f)
		pcm = append(pcm, f[:]...)
	}
	for _, fr := range []float64{600, 1800} {
		if s := ToneShare(pcm, fr); s < 0.48 || s > 0.52 {
			t.Errorf("share at %v Hz = %.3f, want about 0.5", fr, s)
		}
	}
	// An exact frequency stays phase-continuous over a long run: after
	// 1000 frames the phase matches the ideal sine.
	g = NewToneGenerator(1234.5, 0, 1)
	for range 1000 {
		g.ReadFrame(&f)
	}
	g.ReadFrame(&f)
	n := 1000 * FrameSamples
	for i, v := range f {
		want := math.MaxInt16 * math.Sin(2*math.Pi*1234.5*float64(n+i)/SampleRate)
		if math.Abs(float64(v)-want) > 3 {
			t.Fatalf("after 20 s sample %d = %d, want %.1f", i, v, want)
		}
	}
}

func TestToneGeneratorEdgeCases(t *testing.T) {
	var f Frame
	for _, g := range []ToneGenerator{
		{},
		NewToneGenerator(0, 0, 0.5),
		NewToneGenerator(-5, 4000, 0.5),
		NewToneGenerator(1000, 0, 0),
		NewToneGenerator(1000, 0, -1),
		NewDTMFTone('x'),
	} {
		f[0] = 1
		g.ReadFrame(&f)
		if f != (Frame{}) {
			t.Errorf("%+v: not silent", g)
		}
	}
	// Two full-scale components saturate instead of wrapping.
	g := NewToneGenerator(1000, 1000, 5)
	g.ReadFrame(&f)
	if f[2] != math.MaxInt16 || f[6] != math.MinInt16 {
		t.Errorf("no saturation: %v", f[:8])
	}
	g.Reset()
	g.ReadFrame(&f)
	if f[0] != 0 {
		t.Errorf("Reset: first sample %d", f[0])
	}
}

func TestDTMFFrequencies(t *testing.T) {
	tests := []struct {
		d         byte
		low, high float64
	}{
		{'1', 697, 1209}, {'2', 697, 1336}, {'3', 697, 1477}, {'A', 697, 1633},
		{'4', 770, 1209}, {'5', 770, 1336}, {'6', 770, 1477}, {'B', 770, 1633},
		{'7', 852, 1209}, {'8', 852, 1336}, {'9', 852, 1477}, {'C', 852, 1633},
		{'*', 941, 1209}, {'0', 941, 1336}, {'#', 941, 1477}, {'D', 941, 1633},
		{'d', 941, 1633},
	}
	for _, tt := range tests {
		lo, hi, ok := DTMFFrequencies(tt.d)
		if !ok || lo != tt.low || hi != tt.high {
			t.Errorf("DTMFFrequencies(%q) = %v %v %v", tt.d, lo, hi, ok)
		}
		g := NewDTMFTone(tt.d)
		x := make([]int16, 0, 800)
		var f Frame
		for range 5 {
			g.ReadFrame(&f)
			x = append(x, f[:]...)
		}
		sl, sh := ToneShare(x, lo), ToneShare(x, hi)
		if sl < 0.35 || sh < 0.5 || sl+sh < 0.97 || sh <= sl {
			t.Errorf("%q: shares %.2f %.2f", tt.d, sl, sh)
		}
	}
	if _, _, ok := DTMFFrequencies('E'); ok {
		t.Error("DTMFFrequencies('E') ok")
	}
}

// cadenceFrames reads n frames and reports for each whether it has sound.
func cadenceFrames(c *Cadence, n int) (on []bool, pcm []int16) {
	var f Frame
	for range n {
		if !c.ReadFrame(&f) {
			panic("ReadFrame false")
		}
		pcm = append(pcm, f[:]...)
		on = append(on, f != Frame{})
	}
	return on, pcm
}

func TestCadence(t *testing.T) {
	tests := []struct {
		name     string
		c        Cadence
		on, off  int // frames
		freqs    []float64
		minShare float64
	}{
		{"ETSI ringback", NewRingbackETSI(), 50, 200, []float64{425}, 0.95},
		{"US ringback", NewRingbackUS(), 100, 200, []float64{440, 480}, 0.45},
		{"busy 500/500 ms", NewCadence(NewToneGenerator(425, 0, 0.2), 500*time.Millisecond, 500*time.Millisecond), 25, 25, []float64{425}, 0.95},
		{"odd edges", NewCadence(NewToneGenerator(400, 0, 0.2), 30*time.Millisecond, 50*time.Millisecond), 0, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if tt.on == 0 {
				// 80 ms period, frames of 20: on for 240 samples of each 640.
				_, pcm := cadenceFrames(&c, 20)
				for i, v := range pcm {
					if i%640 >= 240 && v != 0 {
						t.Fatalf("sample %d = %d in the off part", i, v)
					}
				}
				return
			}
			on, pcm := cadenceFrames(&c, 2*(tt.on+tt.off))
			for i, o := range on {
				if want := i%(tt.on+tt.off) < tt.on; o != want {
					t.Fatalf("frame %d: sound %v, want %v", i, o, want)
				}
			}
			tone := pcm[:tt.on*FrameSamples]
			for _, fr := range tt.freqs {
				if s := ToneShare(tone, fr); s < tt.minShare {
					t.Errorf("share at %v Hz = %.2f", fr, s)
				}
			}
			// Fades: the first sample of each burst is quiet, the
			// middle loud; the second burst starts like the first.
			if a := math.Abs(float64(pcm[1])); a > 2000 {
				t.Errorf("no fade in: %v", pcm[:4])
			}
			second := pcm[(tt.on+tt.off)*FrameSamples:]
			for i := range 2 * FrameSamples {
				if second[i] != pcm[i] {
					t.Fatalf("second burst differs at %d", i)
				}
			}
			c.Reset()
			var f Frame
			c.ReadFrame(&f)
			if [FrameSamples]int16(pcm[:FrameSamples]) != f {
				t.Error("Reset does not restart the cadence")
			}
		})
	}
	var zero Cadence
	var f Frame
	f[3] = 9
	zero.ReadFrame(&f)
	if f != (Frame{}) {
		t.Error("zero Cadence not silent")
	}
	cont := NewCadence(NewToneGenerator(1000, 0, 0.5), time.Second, 0)
	for i, o := range func() []bool { o, _ := cadenceFrames(&cont, 120); return o }() {
		if !o {
			t.Fatalf("continuous tone silent at frame %d", i)
		}
	}
}

func BenchmarkToneGenerator(b *testing.B) {
	g := NewDTMFTone('5')
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		g.ReadFrame(&f)
	}
}

func BenchmarkCadence(b *testing.B) {
	c := NewRingbackETSI()
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		c.ReadFrame(&f)
	}
}
