package mediaservertest

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zaf/g711"
)

// wavFile builds a WAV file with the given fmt fields and data.
func wavFile(format, channels, rate, bits int, data []byte, dataSize int) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, uint16(format))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	b = append(b, "LIST"...) // an unrelated chunk, odd-sized and padded
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, "abc\x00"...)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(dataSize))
	b = append(b, data...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestDecodeWAV(t *testing.T) {
	pcm := sine(800, 1000, 0.3)
	pcmBytes := EncodeWAV(pcm)[44:]
	stereo := make([]byte, 0, 4*len(pcm))
	for _, s := range pcm {
		stereo = binary.LittleEndian.AppendUint16(stereo, uint16(s))
		stereo = binary.LittleEndian.AppendUint16(stereo, uint16(-s))
	}
	alaw, ulaw := g711.EncodeAlaw(pcmBytes), g711.EncodeUlaw(pcmBytes)

	tests := []struct {
		name     string
		file     []byte
		channels int
		check    func(w *WAV) bool
	}{
		{"pcm16 mono", EncodeWAV(pcm), 1, func(w *WAV) bool { return slices.Equal(w.Channels[0], pcm) }},
		{"pcm16 stereo", wavFile(1, 2, 8000, 16, stereo, len(stereo)), 2, func(w *WAV) bool {
			return slices.Equal(w.Channels[0], pcm) && w.Channels[1][10] == -pcm[10]
		}},
		{"alaw", wavFile(6, 1, 8000, 8, alaw, len(alaw)), 1, func(w *WAV) bool { return ToneShare(w.Channels[0], 1000) > 0.95 }},
		{"ulaw", wavFile(7, 1, 8000, 8, ulaw, len(ulaw)), 1, func(w *WAV) bool { return ToneShare(w.Channels[0], 1000) > 0.95 }},
		{"still being written (size 0)", wavFile(1, 1, 8000, 16, pcmBytes, 0), 1, func(w *WAV) bool { return len(w.Channels[0]) == len(pcm) }},
		{"half a frame at the end", wavFile(1, 2, 8000, 16, stereo[:len(stereo)-1], len(stereo)), 2, func(w *WAV) bool { return len(w.Channels[0]) == len(pcm)-1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := DecodeWAV(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if w.SampleRate != 8000 || len(w.Channels) != tt.channels || !tt.check(w) {
				t.Errorf("decoded %d Hz, %d channels of %d samples: unexpected content", w.SampleRate, len(w.Channels), len(w.Channels[0]))
			}
		})
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	tests := map[string][]byte{
		"empty":           nil,
		"not riff":        []byte("RIFX\x00\x00\x00\x00WAVE"),
		"no data chunk":   wavFile(1, 1, 8000, 16, nil, 0)[:36],
		"float format":    wavFile(3, 1, 8000, 32, make([]byte, 8), 8),
		"zero channels":   wavFile(1, 0, 8000, 16, make([]byte, 8), 8),
		"absurd rate":     wavFile(1, 1, 7, 16, make([]byte, 8), 8),
		"24-bit pcm":      wavFile(1, 1, 8000, 24, make([]byte, 9), 9),
		"data before fmt": append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00"), 0, 0),
	}
	for name, b := range tests {
		if _, err := DecodeWAV(b); !errors.Is(err, ErrBadWAV) {
			t.Errorf("%s: err = %v, want ErrBadWAV", name, err)
		}
	}
}

func TestReadWAV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tone.wav")
	if err := os.WriteFile(path, EncodeWAV(sine(8000, 440, 0.3)), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := ReadWAV(path)
	if err != nil || len(w.Channels[0]) != 8000 {
		t.Fatalf("ReadWAV = %v, %v", w, err)
	}
	if _, err := ReadWAV(filepath.Join(t.TempDir(), "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}

func FuzzDecodeWAV(f *testing.F) {
	f.Add(EncodeWAV(sine(160, 1000, 0.3)))
	f.Add(wavFile(6, 2, 8000, 8, make([]byte, 33), 0))
	f.Add(wavFile(0xFFFE, 1, 16000, 16, make([]byte, 10), 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeWAV(b)
		if err != nil {
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("error %v does not wrap ErrBadWAV", err)
			}
			return
		}
		if len(w.Channels) < 1 || len(w.Channels) > wavMaxChannels {
			t.Fatalf("%d channels", len(w.Channels))
		}
		for _, ch := range w.Channels {
			if len(ch) != len(w.Channels[0]) || len(ch) > len(b) {
				t.Fatalf("channel lengths %d and %d from %d bytes", len(ch), len(w.Channels[0]), len(b))
			}
		}
	})
}
