package media

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// sineAt returns n samples of a sine of freq Hz at rate Hz, peak amp.
func sineAt(rate int, freq float64, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return out
}

func rms(s []int16) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(max(len(s), 1)))
}

func TestResampleTone(t *testing.T) {
	for _, rate := range []int{8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000, 44056, 6000} {
		in := sineAt(rate, 1000, rate, 16000) // one second
		out, err := Resample(in, rate)
		if err != nil {
			t.Fatalf("%d Hz: %v", rate, err)
		}
		if d := len(out) - SampleRate; d < -1 || d > 1 {
			t.Errorf("%d Hz: %d samples out, want %d", rate, len(out), SampleRate)
		}
		// Skip the filter's edges.
		mid := out[800 : len(out)-800]
		if share := ToneShare(mid, 1000); share < 0.95 {
			t.Errorf("%d Hz: 1 kHz share %.3f, want > 0.95", rate, share)
		}
		if r := rms(mid); math.Abs(r-16000/math.Sqrt2) > 0.02*16000 {
			t.Errorf("%d Hz: rms %.0f, want %.0f (unity gain)", rate, r, 16000/math.Sqrt2)
		}
	}
}

func TestResampleStopBand(t *testing.T) {
	tests := []struct {
		rate int
		freq float64 // above 3.8 kHz: must be stopped, not folded back
	}{
		{44100, 6000},
		{44100, 4500},
		{48000, 5000},
		{16000, 7000},
		{22050, 4100},
		{44056, 6000},
	}
	for _, tt := range tests {
		ref, _ := Resample(sineAt(tt.rate, 1000, tt.rate, 16000), tt.rate)
		out, err := Resample(sineAt(tt.rate, tt.freq, tt.rate, 16000), tt.rate)
		if err != nil {
			t.Fatal(err)
		}
		att := 20 * math.Log10(rms(ref[800:len(ref)-800])/max(rms(out[800:len(out)-800]), 1e-9))
		if att < 40 {
			t.Errorf("%d Hz, %.0f Hz tone: attenuated %.1f dB, want > 40", tt.rate, tt.freq, att)
		}
	}
}

func TestResamplePassBand(t *testing.T) {
	// Speech band edges pass within 1 dB; 3.6 kHz is near half amplitude.
	for _, freq := range []float64{300, 3300} {
		out, _ := Resample(sineAt(44100, freq, 44100, 16000), 44100)
		g := 20 * math.Log10(rms(out[800:len(out)-800])/(16000/math.Sqrt2))
		if g < -1 || g > 0.5 {
			t.Errorf("%.0f Hz: gain %.2f dB, want within 1 dB", freq, g)
		}
	}
}

func TestResamplerChunking(t *testing.T) {
	in := sineAt(44100, 440, 30000, 12000)
	whole, err := Resample(in, 44100)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewResampler(44100)
	for _, size := range []int{1, 7, 1000, 4096} {
		r.Reset()
		var out []int16
		for rest := in; len(rest) > 0; {
			n := min(size, len(rest))
			out = r.Append(out, rest[:n])
			rest = rest[n:]
		}
		out = r.Flush(out)
		if !slices.Equal(out, whole) {
			t.Errorf("chunks of %d: output differs from one call (%d vs %d samples)", size, len(out), len(whole))
		}
	}
}

func TestResampleEdges(t *testing.T) {
	for _, rate := range []int{0, -1, MinInputRate - 1, MaxInputRate + 1} {
		if _, err := Resample(nil, rate); !errors.Is(err, ErrBadAudio) {
			t.Errorf("rate %d: err %v, want ErrBadAudio", rate, err)
		}
	}
	if out, err := Resample(nil, 44100); err != nil || len(out) != 0 {
		t.Errorf("empty input: %d samples, %v", len(out), err)
	}
	out, _ := Resample([]int16{1000}, 44100)
	if len(out) != 1 {
		t.Errorf("one sample in: %d out, want 1", len(out))
	}
	// A full-scale step overshoots (Gibbs): it must saturate, not wrap.
	step := make([]int16, 4410)
	for i := 2000; i < len(step); i++ {
		step[i] = math.MaxInt16
	}
	out, _ = Resample(step, 44100)
	if m := slices.Min(out); m < -math.MaxInt16/10 {
		t.Errorf("step: minimum %d: wrapped around", m)
	}
	if m := slices.Max(out); m != math.MaxInt16 {
		t.Errorf("step: maximum %d, want saturation at %d", m, math.MaxInt16)
	}
}

// BenchmarkResample44100 converts 20 ms of 44.1 kHz audio per op.
func BenchmarkResample44100(b *testing.B) {
	in := sineAt(44100, 1000, 882, 16000)
	r, _ := NewResampler(44100)
	out := make([]int16, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out = r.Append(out[:0], in)
	}
}

// BenchmarkResampleOddRate is the interpolated-coefficient path.
func BenchmarkResampleOddRate(b *testing.B) {
	in := sineAt(44056, 1000, 881, 16000)
	r, _ := NewResampler(44056)
	out := make([]int16, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out = r.Append(out[:0], in)
	}
}
