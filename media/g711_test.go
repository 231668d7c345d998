package media

import (
	"math"
	"testing"

	"github.com/zaf/g711"
)

// TestG711TablesMatchReference checks every int16 and every code byte
// against the per-sample functions of zaf/g711 the tables were built from.
func TestG711TablesMatchReference(t *testing.T) {
	var u, a [1]byte
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		s := []int16{int16(i)}
		EncodePCMU(u[:], s)
		EncodePCMA(a[:], s)
		if want := g711.EncodeUlawFrame(int16(i)); u[0] != want {
			t.Fatalf("EncodePCMU(%d) = %#x, want %#x", i, u[0], want)
		}
		if want := g711.EncodeAlawFrame(int16(i)); a[0] != want {
			t.Fatalf("EncodePCMA(%d) = %#x, want %#x", i, a[0], want)
		}
	}
	var pcm [1]int16
	for i := range 256 {
		b := []byte{byte(i)}
		DecodePCMU(pcm[:], b)
		if want := g711.DecodeUlawFrame(byte(i)); pcm[0] != want {
			t.Errorf("DecodePCMU(%#x) = %d, want %d", i, pcm[0], want)
		}
		DecodePCMA(pcm[:], b)
		if want := g711.DecodeAlawFrame(byte(i)); pcm[0] != want {
			t.Errorf("DecodePCMA(%#x) = %d, want %d", i, pcm[0], want)
		}
		PCMUToPCMA(u[:], b)
		if want := g711.Ulaw2AlawFrame(byte(i)); u[0] != want {
			t.Errorf("PCMUToPCMA(%#x) = %#x, want %#x", i, u[0], want)
		}
		PCMAToPCMU(a[:], b)
		if want := g711.Alaw2UlawFrame(byte(i)); a[0] != want {
			t.Errorf("PCMAToPCMU(%#x) = %#x, want %#x", i, a[0], want)
		}
	}
}

// TestG711RoundTrip checks that decoding an encoded sample stays within
// the quantisation step of its segment, and that re-encoding a decoded
// code gives the same code (codes are fixed points).
func TestG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{CodecPCMU, CodecPCMA} {
		t.Run(c.String(), func(t *testing.T) {
			var b [1]byte
			var d [1]int16
			for i := math.MinInt16; i <= math.MaxInt16; i++ {
				c.Encode(b[:], []int16{int16(i)})
				c.Decode(d[:], b[:])
				// The largest G.711 step is 1024 (A-law) / 1024 (µ-law
				// top segment, scaled to 16 bits); half a step plus the
				// µ-law clip at 32124 bounds the error.
				if diff := int(d[0]) - i; diff > 1024 || diff < -1024 {
					t.Fatalf("%d -> %#x -> %d: error %d", i, b[0], d[0], diff)
				}
			}
			for code := range 256 {
				c.Decode(d[:], []byte{byte(code)})
				c.Encode(b[:], d[:])
				// µ-law has two codes for zero (0x7F, 0xFF); A-law none.
				if b[0] != byte(code) && !(c == CodecPCMU && code == 0x7F && b[0] == 0xFF) {
					t.Errorf("code %#x -> %d -> %#x", code, d[0], b[0])
				}
			}
		})
	}
}

func TestSilenceByte(t *testing.T) {
	tests := []struct {
		c    Codec
		want byte
	}{
		{CodecPCMU, 0xFF},
		{CodecPCMA, 0xD5},
		{CodecNone, 0xFF},
	}
	for _, tt := range tests {
		if got := tt.c.SilenceByte(); got != tt.want {
			t.Errorf("%v.SilenceByte() = %#x, want %#x", tt.c, got, tt.want)
		}
		if tt.c == CodecNone {
			continue
		}
		var d [1]int16
		tt.c.Decode(d[:], []byte{tt.want})
		if d[0] != 0 && d[0] != 8 && d[0] != -8 {
			// A-law has no zero code; 0xD5 decodes to +8, the smallest step.
			t.Errorf("%v silence decodes to %d", tt.c, d[0])
		}
		var e [1]byte
		tt.c.Encode(e[:], []int16{0})
		if e[0] != tt.want {
			t.Errorf("%v encodes 0 as %#x, want %#x", tt.c, e[0], tt.want)
		}
	}
}

func TestG711LengthsAndInPlace(t *testing.T) {
	src := []int16{1000, -1000, 0, 32767, -32768}
	dst := make([]byte, 3)
	EncodePCMU(dst, src) // shorter dst: converts 3, no panic
	want := []byte{g711.EncodeUlawFrame(1000), g711.EncodeUlawFrame(-1000), 0xFF}
	if string(dst) != string(want) {
		t.Errorf("EncodePCMU short dst = %x, want %x", dst, want)
	}
	pcm := make([]int16, 10)
	DecodePCMA(pcm, []byte{0xD5, 0x55})
	if pcm[2] != 0 {
		t.Errorf("DecodePCMA wrote past src: %v", pcm)
	}
	buf := []byte{0x00, 0x7F, 0x80, 0xFF}
	ref := []byte{g711.Ulaw2AlawFrame(0x00), g711.Ulaw2AlawFrame(0x7F), g711.Ulaw2AlawFrame(0x80), g711.Ulaw2AlawFrame(0xFF)}
	PCMUToPCMA(buf, buf)
	if string(buf) != string(ref) {
		t.Errorf("in-place PCMUToPCMA = %x, want %x", buf, ref)
	}
	CodecNone.Encode(dst, src) // no-op
	CodecNone.Decode(pcm, dst)
}

func benchFrame() (*Frame, []byte) {
	var f Frame
	for i := range f {
		f[i] = int16(8000 * math.Sin(2*math.Pi*float64(i)*440/SampleRate))
	}
	b := make([]byte, FrameSamples)
	EncodePCMU(b, f[:])
	return &f, b
}

func BenchmarkEncodePCMU(b *testing.B) {
	f, out := benchFrame()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		EncodePCMU(out, f[:])
	}
}

func BenchmarkDecodePCMU(b *testing.B) {
	f, in := benchFrame()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		DecodePCMU(f[:], in)
	}
}

func BenchmarkEncodePCMA(b *testing.B) {
	f, out := benchFrame()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		EncodePCMA(out, f[:])
	}
}

func BenchmarkDecodePCMA(b *testing.B) {
	f, in := benchFrame()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		DecodePCMA(f[:], in)
	}
}

func BenchmarkPCMUToPCMA(b *testing.B) {
	_, in := benchFrame()
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		PCMUToPCMA(in, in)
	}
}

// BenchmarkZafEncodeUlaw is the reference per-sample function, for
// comparison with the table.
func BenchmarkZafEncodeUlaw(b *testing.B) {
	f, out := benchFrame()
	b.ReportAllocs()
	for b.Loop() {
		for i, s := range f {
			out[i] = g711.EncodeUlawFrame(s)
		}
	}
}
