package media

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// dtmfSignal describes generated test audio: digits as tones of on
// milliseconds separated by off milliseconds, after lead samples of
// silence, with each tone's peak level in dBFS and white noise.
type dtmfSignal struct {
	digits      string
	on, off     int     // ms
	lowDB       float64 // row tone level, dBFS
	highDB      float64 // column tone level, dBFS
	noiseDB     float64 // RMS noise level, dBFS; 0 for none
	lead        int     // samples of silence first (sets frame alignment)
	freqScale   float64 // multiplies both frequencies; 0 means 1
	seed        uint64
	dropoutAtMS int // a 10 ms hole this far into every tone; 0 for none
}

func (s dtmfSignal) samples(t testing.TB) []int16 {
	t.Helper()
	rng := rand.New(rand.NewPCG(s.seed, 42))
	scale := s.freqScale
	if scale == 0 {
		scale = 1
	}
	var out []float64
	out = append(out, make([]float64, s.lead)...)
	aLow := math.MaxInt16 * math.Pow(10, s.lowDB/20)
	aHigh := math.MaxInt16 * math.Pow(10, s.highDB/20)
	for _, d := range []byte(s.digits) {
		lo, hi, ok := DTMFFrequencies(d)
		if !ok {
			t.Fatalf("bad digit %q", d)
		}
		n := s.on * SampleRate / 1000
		ph := rng.Float64() * 2 * math.Pi
		for i := range n {
			ms := i * 1000 / SampleRate
			if s.dropoutAtMS > 0 && ms >= s.dropoutAtMS && ms < s.dropoutAtMS+10 {
				out = append(out, 0)
				continue
			}
			x := float64(i) / SampleRate
			out = append(out, aLow*math.Sin(2*math.Pi*lo*scale*x+ph)+aHigh*math.Sin(2*math.Pi*hi*scale*x))
		}
		out = append(out, make([]float64, s.off*SampleRate/1000)...)
	}
	out = append(out, make([]float64, 3*FrameSamples)...)
	pcm := make([]int16, len(out))
	sigma := 0.0
	if s.noiseDB != 0 {
		sigma = math.MaxInt16 * math.Pow(10, s.noiseDB/20)
	}
	for i, v := range out {
		pcm[i] = saturate(float32(v + sigma*rng.NormFloat64()))
	}
	return pcm
}

// detectAll runs a detector over pcm frame by frame and returns the digits.
func detectAll(pcm []int16) string {
	var d InbandDetector
	var got []byte
	var f Frame
	for off := 0; off < len(pcm); off += FrameSamples {
		f = Frame{}
		copy(f[:], pcm[off:])
		if digit, ok := d.Process(&f); ok {
			got = append(got, digit)
		}
	}
	return string(got)
}

func TestToneShare(t *testing.T) {
	pure := make([]int16, 4000)
	dual := make([]int16, 4000)
	for i := range pure {
		x := float64(i) / SampleRate
		pure[i] = int16(10000 * math.Sin(2*math.Pi*1000*x))
		dual[i] = int16(8000*math.Sin(2*math.Pi*600*x) + 8000*math.Sin(2*math.Pi*1800*x))
	}
	tests := []struct {
		name     string
		x        []int16
		freq     float64
		min, max float64
	}{
		{"pure tone", pure, 1000, 0.98, 1.02},
		{"pure tone elsewhere", pure, 1200, 0, 0.01},
		{"dual first", dual, 600, 0.48, 0.52},
		{"dual second", dual, 1800, 0.48, 0.52},
		{"dual absent", dual, 440, 0, 0.01},
		{"silence", make([]int16, 160), 1000, 0, 0},
		{"empty", nil, 1000, 0, 0},
	}
	for _, tt := range tests {
		if got := ToneShare(tt.x, tt.freq); got < tt.min || got > tt.max {
			t.Errorf("%s: ToneShare = %.3f, want %.2f..%.2f", tt.name, got, tt.min, tt.max)
		}
	}
}

func TestInbandDetectorDigits(t *testing.T) {
	all := "123A456B789C*0#D"
	tests := []struct {
		name string
		sig  dtmfSignal
		want string
	}{
		{"loud", dtmfSignal{digits: all, on: 100, off: 100, lowDB: -6, highDB: -4}, all},
		{"nominal", dtmfSignal{digits: all, on: 70, off: 60, lowDB: -12, highDB: -10}, all},
		{"quiet", dtmfSignal{digits: all, on: 70, off: 60, lowDB: -28, highDB: -28}, all},
		{"minimum 40 ms tone and 40 ms pause", dtmfSignal{digits: all, on: 40, off: 40, lowDB: -10, highDB: -10, lead: 37}, all},
		{"normal twist 7 dB", dtmfSignal{digits: all, on: 60, off: 60, lowDB: -8, highDB: -15}, all},
		{"reverse twist 3.5 dB", dtmfSignal{digits: all, on: 60, off: 60, lowDB: -13.5, highDB: -10}, all},
		{"noise 20 dB below", dtmfSignal{digits: all, on: 60, off: 60, lowDB: -12, highDB: -10, noiseDB: -35, seed: 1}, all},
		{"noise 12 dB below", dtmfSignal{digits: all, on: 80, off: 60, lowDB: -12, highDB: -10, noiseDB: -27, seed: 2}, all},
		{"frequency +1.5%", dtmfSignal{digits: all, on: 60, off: 60, lowDB: -10, highDB: -10, freqScale: 1.015}, all},
		{"frequency -1.5%", dtmfSignal{digits: all, on: 60, off: 60, lowDB: -10, highDB: -10, freqScale: 0.985}, all},
		{"long press reported once", dtmfSignal{digits: "55", on: 2000, off: 100, lowDB: -10, highDB: -10}, "55"},
		{"10 ms dropout in a tone", dtmfSignal{digits: "789", on: 200, off: 100, lowDB: -10, highDB: -10, dropoutAtMS: 90}, "789"},
		{"repeated digit", dtmfSignal{digits: "1111", on: 50, off: 50, lowDB: -10, highDB: -10, lead: 80}, "1111"},
		// Must not detect:
		{"too quiet", dtmfSignal{digits: all, on: 100, off: 100, lowDB: -40, highDB: -40}, ""},
		{"normal twist 10 dB", dtmfSignal{digits: all, on: 100, off: 100, lowDB: -6, highDB: -16}, ""},
		{"reverse twist 6 dB", dtmfSignal{digits: all, on: 100, off: 100, lowDB: -16, highDB: -10}, ""},
		{"20 ms tones", dtmfSignal{digits: all, on: 20, off: 80, lowDB: -10, highDB: -10, lead: 80}, ""},
		{"noise only", dtmfSignal{digits: "", noiseDB: -10, seed: 3, lead: 8000 * 5}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every frame alignment class: the tone may start anywhere in a frame.
			for _, lead := range []int{0, 13, 40, 80, 119, 159} {
				sig := tt.sig
				sig.lead += lead
				if got := detectAll(sig.samples(t)); got != tt.want {
					t.Fatalf("lead %d: detected %q, want %q", sig.lead, got, tt.want)
				}
			}
		})
	}
}

// TestInbandDetectorThroughG711 checks detection of tones that went
// through each codec, and of our own DTMF generator.
func TestInbandDetectorThroughG711(t *testing.T) {
	all := "0123456789*#ABCD"
	pcm := dtmfSignal{digits: all, on: 60, off: 60, lowDB: -20, highDB: -18}.samples(t)
	for _, c := range []Codec{CodecPCMU, CodecPCMA} {
		enc := make([]byte, len(pcm))
		dec := make([]int16, len(pcm))
		c.Encode(enc, pcm)
		c.Decode(dec, enc)
		if got := detectAll(dec); got != all {
			t.Errorf("%v: detected %q", c, got)
		}
	}
	var gen []int16
	for _, d := range []byte(all) {
		g := NewDTMFTone(d)
		var f Frame
		for range 3 { // 60 ms on
			g.ReadFrame(&f)
			gen = append(gen, f[:]...)
		}
		gen = append(gen, make([]int16, 3*FrameSamples)...)
	}
	if got := detectAll(gen); got != all {
		t.Errorf("NewDTMFTone: detected %q", got)
	}
}

// TestInbandDetectorTalkOff runs speech and music (see testdata/README.md)
// through the detector at several levels and frame alignments: no digit
// may come out.
func TestInbandDetectorTalkOff(t *testing.T) {
	for _, name := range []string{"speech-en.wav", "speech-intl.wav", "music.wav"} {
		pcm := readWAV(t, name)
		for _, gainDB := range []float64{0, -10, -20} {
			g := math.Pow(10, gainDB/20)
			for _, lead := range []int{0, 40, 80, 120} {
				x := make([]int16, lead, lead+len(pcm))
				for _, v := range pcm {
					x = append(x, int16(float64(v)*g))
				}
				if got := detectAll(x); got != "" {
					t.Errorf("%s at %+.0f dB, lead %d: false digits %q", name, gainDB, lead, got)
				}
			}
		}
	}
}

// TestInbandDetectorOverSpeechPauses checks that digits between words
// are found after speech ran through the same detector.
func TestInbandDetectorOverSpeechPauses(t *testing.T) {
	speech := readWAV(t, "speech-en.wav")[:3*SampleRate]
	digits := dtmfSignal{digits: "42#", on: 80, off: 80, lowDB: -10, highDB: -9}.samples(t)
	x := append(append(append([]int16{}, speech...), digits...), speech...)
	if got := detectAll(x); got != "42#" {
		t.Errorf("detected %q, want %q", got, "42#")
	}
}

func TestInbandDetectorReset(t *testing.T) {
	var d InbandDetector
	pcm := dtmfSignal{digits: "9", on: 200, lowDB: -10, highDB: -10}.samples(t)
	var f Frame
	copy(f[:], pcm)
	d.Process(&f)
	copy(f[:], pcm[160:])
	if dg, ok := d.Process(&f); !ok || dg != '9' {
		t.Fatalf("Process = %q %v", dg, ok)
	}
	d.Reset()
	copy(f[:], pcm[320:])
	d.Process(&f)
	copy(f[:], pcm[480:])
	if dg, ok := d.Process(&f); !ok || dg != '9' {
		t.Errorf("after Reset: %q %v, want a new report", dg, ok)
	}
}

func BenchmarkInbandDetector(b *testing.B) {
	for _, tc := range []struct {
		name string
		sig  dtmfSignal
	}{
		{"silence", dtmfSignal{lead: 8000}},
		{"noise", dtmfSignal{noiseDB: -20, lead: 8000, seed: 1}},
		{"digits", dtmfSignal{digits: "0123456789", on: 100, off: 100, lowDB: -10, highDB: -10}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			pcm := tc.sig.samples(b)
			frames := len(pcm) / FrameSamples
			var d InbandDetector
			var f Frame
			i := 0
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				copy(f[:], pcm[(i%frames)*FrameSamples:])
				d.Process(&f)
				i++
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(i), "ns/frame")
		})
	}
}

func BenchmarkToneShare(b *testing.B) {
	x := make([]int16, 4000)
	b.ReportAllocs()
	for b.Loop() {
		ToneShare(x, 1000)
	}
}
