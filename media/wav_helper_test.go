package media

import (
	"encoding/binary"
	"os"
	"testing"
)

// readWAV reads a mono 8 kHz WAV file of 16-bit PCM, µ-law or A-law
// samples from testdata, for tests.
func readWAV(t testing.TB, name string) []int16 {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", name)
	}
	var format, channels, bits uint16
	var rate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8 : min(off+8+size, len(b))]
		switch id {
		case "fmt ":
			format = binary.LittleEndian.Uint16(body)
			channels = binary.LittleEndian.Uint16(body[2:])
			rate = binary.LittleEndian.Uint32(body[4:])
			bits = binary.LittleEndian.Uint16(body[14:])
		case "data":
			if channels != 1 || rate != SampleRate {
				t.Fatalf("%s: %d channels at %d Hz, want mono 8 kHz", name, channels, rate)
			}
			switch {
			case format == 1 && bits == 16:
				out := make([]int16, len(body)/2)
				for i := range out {
					out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
				}
				return out
			case format == 7 && bits == 8:
				out := make([]int16, len(body))
				DecodePCMU(out, body)
				return out
			case format == 6 && bits == 8:
				out := make([]int16, len(body))
				DecodePCMA(out, body)
				return out
			}
			t.Fatalf("%s: unsupported format %d/%d bits", name, format, bits)
		}
		off += 8 + size + size&1
	}
	t.Fatalf("%s: no data chunk", name)
	return nil
}
