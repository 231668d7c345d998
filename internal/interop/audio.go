package interop

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/mediaserver-go/mediaserver/mediaservertest"
	"github.com/zaf/g711"
)

// SampleRate is the rate of all audio here: 8 kHz, as G.711.
const SampleRate = mediaservertest.SampleRate

// Tone returns d of a sine wave at hz (8 kHz samples) with peak amplitude
// amp, a fraction of full scale (0.3 is about -13 dBFS RMS).
func Tone(hz float64, amp float64, d time.Duration) []int16 {
	n := int(d.Seconds() * SampleRate)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/SampleRate)))
	}
	return out
}

// WriteULaw writes samples to path as raw G.711 µ-law, the format of SIPp's
// rtp_stream files (as `sox -t ul` writes them).
func WriteULaw(path string, samples []int16) error {
	b := make([]byte, len(samples))
	for i, s := range samples {
		b[i] = g711.EncodeUlawFrame(s)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}

// WriteWAV writes samples to path as an 8 kHz mono 16-bit PCM WAV file, the
// format baresip's aufile reads.
func WriteWAV(path string, samples []int16) error {
	if err := os.WriteFile(path, mediaservertest.EncodeWAV(samples), 0o644); err != nil {
		return fmt.Errorf("interop: %w", err)
	}
	return nil
}

// ReadWAVMono reads a WAV file (for example one baresip's sndfile wrote) and
// returns its first channel. It fails unless the file is 8 kHz.
func ReadWAVMono(path string) ([]int16, error) {
	w, err := mediaservertest.ReadWAV(path)
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	if w.SampleRate != SampleRate {
		return nil, fmt.Errorf("interop: %s: %d Hz, want %d", path, w.SampleRate, SampleRate)
	}
	return w.Channels[0], nil
}

// Share returns the fraction of the energy of samples at freq Hz (see
// mediaservertest.ToneShare): about 1 for a pure tone, 0.5 each for two equal
// tones, 0 for silence.
func Share(samples []int16, freq float64) float64 {
	return mediaservertest.ToneShare(samples, freq)
}

// Describe summarises samples for a failure message: length, level, dominant
// frequency and the share of each of freqs.
func Describe(samples []int16, freqs ...float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.2f s, %.1f dBFS, dominant %.0f Hz",
		float64(len(samples))/SampleRate, mediaservertest.LevelDBFS(samples),
		mediaservertest.DominantFrequency(samples))
	for _, f := range freqs {
		fmt.Fprintf(&b, ", share(%.0f Hz) %.2f", f, Share(samples, f))
	}
	return b.String()
}
