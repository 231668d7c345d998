package mediaservertest

import (
	"math"
	"testing"
)

// sine returns n samples of a sine at freq Hz with peak amplitude amp (0..1).
func sine(n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	return out
}

func mix(parts ...[]int16) []int16 {
	out := make([]int16, len(parts[0]))
	for _, p := range parts {
		for i := range out {
			out[i] += p[i]
		}
	}
	return out
}

func TestToneShare(t *testing.T) {
	tests := []struct {
		name     string
		samples  []int16
		freq     float64
		min, max float64
	}{
		{"pure tone", sine(4000, 1000, 0.3), 1000, 0.95, 1},
		{"pure tone 3 Hz off", sine(4000, 1003, 0.3), 1000, 0.7, 1},
		{"other tone", sine(4000, 1800, 0.3), 1000, 0, 0.01},
		{"two equal tones", mix(sine(4000, 600, 0.3), sine(4000, 1800, 0.3)), 600, 0.4, 0.6},
		{"short tail block", sine(1000, 440, 0.3), 440, 0.95, 1},
		{"silence", make([]int16, 4000), 1000, 0, 0},
		{"empty", nil, 1000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ToneShare(tt.samples, tt.freq)
			if got < tt.min || got > tt.max {
				t.Errorf("ToneShare = %.3f, want %.2f..%.2f", got, tt.min, tt.max)
			}
		})
	}
}

func TestLevelDBFS(t *testing.T) {
	if got := LevelDBFS(sine(8000, 1000, 0.3)); math.Abs(got-(-13.5)) > 0.2 {
		t.Errorf("level of a 0.3 sine = %.2f dBFS, want about -13.5 (INTEROP.md)", got)
	}
	if got := LevelDBFS(make([]int16, 100)); !math.IsInf(got, -1) {
		t.Errorf("level of silence = %v, want -Inf", got)
	}
	if got := LevelDBFS(sine(8000, 1000, 0.001)); got > SilenceDBFS || got < -70 {
		t.Errorf("level of a 0.001 sine = %.1f, want just below %v", got, SilenceDBFS)
	}
}

func TestDominantFrequency(t *testing.T) {
	for _, f := range []float64{150, 440, 600, 1000, 1025, 1800, 3300} {
		got := DominantFrequency(sine(4000, f, 0.3))
		if math.Abs(got-f) > 5 {
			t.Errorf("DominantFrequency(%v Hz) = %.1f", f, got)
		}
	}
	got := DominantFrequency(mix(sine(4000, 600, 0.1), sine(4000, 1800, 0.3)))
	if math.Abs(got-1800) > 5 {
		t.Errorf("DominantFrequency(600 quiet + 1800 loud) = %.1f, want 1800", got)
	}
	if got := DominantFrequency(make([]int16, 4000)); got != 0 {
		t.Errorf("DominantFrequency(silence) = %v, want 0", got)
	}
	if got := DominantFrequency(sine(100, 1000, 0.3)); got != 0 {
		t.Errorf("DominantFrequency(100 samples) = %v, want 0", got)
	}
}

// dtmfSignal renders digits as the inband sender does: 100 ms tone, 100 ms gap.
func dtmfSignal(digits string, background float64) []int16 {
	g := generator{toneHz: background}
	for i := range len(digits) {
		g.queue = append(g.queue, &dtmfItem{digit: digits[i], mode: DTMFInband, done: make(chan struct{})})
	}
	out := make([]int16, (len(digits)+1)*(digitSamples+gapSamples))
	g.fill(out)
	return out
}

func TestDetectDigits(t *testing.T) {
	tests := []struct {
		name       string
		samples    []int16
		background float64
		want       string
	}{
		{"all digits", dtmfSignal("0123456789*#ABCD", 0), 0, "0123456789*#ABCD"},
		{"repeated digit", dtmfSignal("5555", 0), 0, "5555"},
		{"over a 440 Hz tone", dtmfSignal("159#", 440), 440, "159#"},
		{"over a 1000 Hz tone", dtmfSignal("2580", 1000), 1000, "2580"},
		{"tone alone", sine(8000, 1000, 0.3), 0, ""},
		{"two non-DTMF tones", mix(sine(8000, 600, 0.3), sine(8000, 1800, 0.3)), 0, ""},
		{"silence", make([]int16, 8000), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectDigits(tt.samples); got != tt.want {
				t.Errorf("DetectDigits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseInfoDigit(t *testing.T) {
	tests := []struct {
		ct, body string
		want     byte
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'},
		{"application/dtmf-relay", "signal = #\nDuration=100", '#'},
		{"Application/DTMF-Relay; charset=utf-8", "Signal=10\r\n", '*'},
		{"application/dtmf-relay", "Signal=11\r\n", '#'},
		{"application/dtmf-relay", "Signal=d\r\n", 'D'},
		{"application/dtmf", "7", '7'},
		{"application/dtmf-relay", "Duration=100\r\n", 0},
		{"application/dtmf-relay", "Signal=X\r\n", 0},
		{"text/plain", "Signal=5", 0},
	}
	for _, tt := range tests {
		if got := parseInfoDigit(tt.ct, []byte(tt.body)); got != tt.want {
			t.Errorf("parseInfoDigit(%q, %q) = %q, want %q", tt.ct, tt.body, got, tt.want)
		}
	}
}

func TestTelephoneEventRoundTrip(t *testing.T) {
	in := telephoneEvent{Event: 11, End: true, Volume: 10, Duration: 800}
	var b [4]byte
	in.marshalTo(b[:])
	out, err := parseTelephoneEvent(b[:])
	if err != nil || out != in {
		t.Errorf("round trip = %+v, %v; want %+v", out, err, in)
	}
	if _, err := parseTelephoneEvent(b[:3]); err == nil {
		t.Error("3-byte payload parsed without error")
	}
}

func FuzzParseTelephoneEvent(f *testing.F) {
	f.Add([]byte{5, 0x8a, 0x03, 0x20})
	f.Add([]byte{5, 0x0a, 0x00, 0x00}) // SIPp's first packet: duration 0
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := parseTelephoneEvent(b)
		if err != nil {
			return
		}
		var out [4]byte
		ev.marshalTo(out[:])
		if ev.Volume > eventVolumeMask || out[0] != b[0] || out[2] != b[2] || out[3] != b[3] || out[1]&0xbf != b[1]&0xbf {
			t.Errorf("round trip of % x gave % x", b[:4], out)
		}
	})
}
