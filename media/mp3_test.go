package media

import (
	"errors"
	"os"
	"testing"
	"time"
)

func readPromptData(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/prompts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMP3(t *testing.T) {
	tests := []struct {
		file string
		freq float64
		dur  time.Duration
	}{
		{"tone1k-44k-stereo.mp3", 1000, time.Second},
		{"tone440-16k-mono-id3.mp3", 440, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := DecodeMP3(readPromptData(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			// LAME adds its delay and pads the last frame: up to ~100 ms.
			got := time.Duration(len(out)) * time.Second / SampleRate
			if got < tt.dur || got > tt.dur+150*time.Millisecond {
				t.Errorf("duration %v, want about %v", got, tt.dur)
			}
			mid := out[len(out)/4 : len(out)*3/4]
			if s := ToneShare(mid, tt.freq); s < 0.95 {
				t.Errorf("%.0f Hz share %.3f", tt.freq, s)
			}
			if r := rms(mid); r < 10000 || r > 13000 { // -6 dBFS sine: 11600
				t.Errorf("rms %.0f, want about 11600", r)
			}
		})
	}
}

func TestDecodeMP3Errors(t *testing.T) {
	good := readPromptData(t, "tone1k-44k-stereo.mp3")
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"html", []byte("<html><body>not found</body></html>")},
		{"id3 only", []byte("ID3\x03\x00\x00\x00\x00\x00\x00")},
		{"id3 claiming 256 MB", []byte("ID3\x03\x00\x00\x7f\x7f\x7f\x7fxxxx")},
		{"id3 bad size byte", []byte("ID3\x03\x00\x00\x80\x00\x00\x00xxxx")},
		{"truncated id3", []byte("ID3\x03")},
		{"sync then garbage", []byte("\xff\xfb\x00\x00garbage")},
		{"mpeg 2.5 (8 kHz)", readPromptData(t, "tone800-8k-mono.mp3")},
		{"first frame cut", good[:100]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := DecodeMP3(tt.data)
			if !errors.Is(err, ErrBadAudio) {
				t.Fatalf("err %v (%d samples), want ErrBadAudio", err, len(out))
			}
			var ae *AudioError
			if !errors.As(err, &ae) || ae.Format != "mp3" {
				t.Errorf("err %v is not an mp3 *AudioError", err)
			}
		})
	}
}

func TestDecodeMP3Truncated(t *testing.T) {
	// A file cut mid-frame decodes up to the cut.
	good := readPromptData(t, "tone1k-44k-stereo.mp3")
	out, err := DecodeMP3(good[:len(good)/2])
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(len(out)) * time.Second / SampleRate; got < 400*time.Millisecond || got > 600*time.Millisecond {
		t.Errorf("half a file gave %v of audio", got)
	}
}

func TestIsMP3(t *testing.T) {
	for _, tt := range []struct {
		b    string
		want bool
	}{
		{"ID3\x04", true},
		{"\xff\xfb\x90\x00", true},  // MPEG-1 layer III
		{"\xff\xf3\x90\x00", true},  // MPEG-2 layer III
		{"\xff\xfd\x90\x00", false}, // layer II
		{"RIFF", false},
		{"\xff", false},
		{"", false},
	} {
		if got := IsMP3([]byte(tt.b)); got != tt.want {
			t.Errorf("IsMP3(%q) = %v", tt.b, got)
		}
	}
}

// maxFuzzMP3 bounds fuzz inputs: decoding is linear in the input, and
// larger inputs only slow the fuzzer down.
const maxFuzzMP3 = 64 << 10

func FuzzDecodeMP3(f *testing.F) {
	for _, name := range []string{"tone1k-44k-stereo.mp3", "tone440-16k-mono-id3.mp3", "tone800-8k-mono.mp3"} {
		b := readPromptData(f, name)
		f.Add(b[:min(len(b), 3000)])
	}
	f.Add([]byte("ID3\x03\x00\x10\x00\x00\x00\x05xxxxxxxxxxxxxxxxxxxx\xff\xfb"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzMP3 {
			t.Skip()
		}
		out, err := DecodeMP3(data)
		if err != nil {
			var ae *AudioError
			if !errors.Is(err, ErrBadAudio) || !errors.As(err, &ae) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// A layer III frame of at least 24 bytes yields at most 576
		// samples at 16 kHz or more, so at most 12 samples per byte at
		// 8 kHz, plus the resampler's tail.
		if len(out) > 12*len(data)+1000 {
			t.Fatalf("%d samples from %d bytes", len(out), len(data))
		}
	})
}
