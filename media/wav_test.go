package media

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// WAV building blocks for tests: every header variant is spelled out here.

func wavChunk(id string, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func wavChunkSized(id string, size uint32, body []byte) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte(id), size), body...)
}

func fmtBody(tag uint16, channels, rate, bits int) []byte {
	le := binary.LittleEndian
	width := (bits + 7) / 8
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*width))
	b = le.AppendUint16(b, uint16(channels*width))
	return le.AppendUint16(b, uint16(bits))
}

func fmtExtensible(sub uint16, channels, rate, bits int) []byte {
	le := binary.LittleEndian
	b := fmtBody(wavFormatExtensible, channels, rate, bits)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(bits))
	b = le.AppendUint32(b, 0) // channel mask
	b = le.AppendUint16(b, sub)
	return append(b, ksSubtypeTail...)
}

func riff(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// encodeSamples stores mono float samples (full scale ±1) on every
// channel in the given encoding.
func encodeSamples(kind sampleKind, channels int, x []float64) []byte {
	le := binary.LittleEndian
	var b []byte
	for _, v := range x {
		for range channels {
			s16 := int16(math.Round(v * 32767))
			switch kind {
			case kindPCM8:
				b = append(b, byte(int(math.Round(v*127))+128))
			case kindPCM16:
				b = le.AppendUint16(b, uint16(s16))
			case kindPCM24:
				u := uint32(int32(math.Round(v * 8388607)))
				b = append(b, byte(u), byte(u>>8), byte(u>>16))
			case kindPCM32:
				b = le.AppendUint32(b, uint32(int32(math.Round(v*2147483647))))
			case kindFloat32:
				b = le.AppendUint32(b, math.Float32bits(float32(v)))
			case kindFloat64:
				b = le.AppendUint64(b, math.Float64bits(v))
			case kindMuLaw:
				var e [1]byte
				EncodePCMU(e[:], []int16{s16})
				b = append(b, e[0])
			case kindALaw:
				var e [1]byte
				EncodePCMA(e[:], []int16{s16})
				b = append(b, e[0])
			}
		}
	}
	return b
}

func sineFloat(rate int, freq float64, n int, amp float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
	}
	return x
}

func TestDecodeWAVFormats(t *testing.T) {
	tests := []struct {
		name     string
		tag      uint16
		kind     sampleKind
		bits     int
		channels int
		rate     int
		ext      bool
	}{
		{"pcm16 mono 8k", wavFormatPCM, kindPCM16, 16, 1, 8000, false},
		{"pcm8 mono 8k", wavFormatPCM, kindPCM8, 8, 1, 8000, false},
		{"pcm24 stereo 48k", wavFormatPCM, kindPCM24, 24, 2, 48000, false},
		{"pcm32 mono 16k", wavFormatPCM, kindPCM32, 32, 1, 16000, false},
		{"pcm20 in 24-bit containers", wavFormatPCM, kindPCM24, 20, 1, 8000, false},
		{"float32 stereo 44.1k", wavFormatFloat, kindFloat32, 32, 2, 44100, false},
		{"float64 mono 22.05k", wavFormatFloat, kindFloat64, 64, 1, 22050, false},
		{"mulaw mono 8k", wavFormatMuLaw, kindMuLaw, 8, 1, 8000, false},
		{"alaw mono 8k", wavFormatALaw, kindALaw, 8, 1, 8000, false},
		{"extensible pcm16 6ch 48k", wavFormatPCM, kindPCM16, 16, 6, 48000, true},
		{"extensible float32 mono 11.025k", wavFormatFloat, kindFloat32, 32, 1, 11025, true},
		{"extensible pcm24 stereo 96k", wavFormatPCM, kindPCM24, 24, 2, 96000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := sineFloat(tt.rate, 1000, tt.rate/2, 0.5) // 0.5 s at -6 dBFS
			f := fmtBody(tt.tag, tt.channels, tt.rate, tt.bits)
			if tt.ext {
				f = fmtExtensible(tt.tag, tt.channels, tt.rate, tt.bits)
			}
			data := riff(wavChunk("fmt ", f), wavChunk("data", encodeSamples(tt.kind, tt.channels, x)))
			out, err := DecodeWAV(data)
			if err != nil {
				t.Fatal(err)
			}
			if d := len(out) - SampleRate/2; d < -1 || d > 1 {
				t.Errorf("%d samples, want %d", len(out), SampleRate/2)
			}
			mid := out[400 : len(out)-400]
			if s := ToneShare(mid, 1000); s < 0.95 {
				t.Errorf("1 kHz share %.3f", s)
			}
			want := 0.5 * 32767 / math.Sqrt2
			if tt.kind == kindPCM8 {
				want = 0.5 * 127 * 256 / math.Sqrt2
			}
			if g := 20 * math.Log10(rms(mid)/want); math.Abs(g) > 0.5 {
				t.Errorf("level %.2f dB off", g)
			}
		})
	}
}

func TestDecodeWAVExact(t *testing.T) {
	// 16-bit mono at 8 kHz passes through bit-exact.
	in := sineAt(8000, 700, 1234, 20000)
	pcm := make([]byte, 0, 2*len(in))
	for _, s := range in {
		pcm = binary.LittleEndian.AppendUint16(pcm, uint16(s))
	}
	out, err := DecodeWAV(riff(wavChunk("fmt ", fmtBody(1, 1, 8000, 16)), wavChunk("data", pcm)))
	if err != nil || !slices.Equal(out, in) {
		t.Fatalf("not bit-exact (%v)", err)
	}
}

func TestDecodeWAVDownmix(t *testing.T) {
	le := binary.LittleEndian
	var opposite, oneSided []byte
	for _, s := range sineAt(8000, 1000, 800, 16000) {
		opposite = le.AppendUint16(le.AppendUint16(opposite, uint16(s)), uint16(-s))
		oneSided = le.AppendUint16(le.AppendUint16(oneSided, uint16(s)), 0)
	}
	f := wavChunk("fmt ", fmtBody(1, 2, 8000, 16))
	out, err := DecodeWAV(riff(f, wavChunk("data", opposite)))
	if err != nil || slices.Max(out) != 0 || slices.Min(out) != 0 {
		t.Errorf("L = -R: want silence, got %d..%d (%v)", slices.Min(out), slices.Max(out), err)
	}
	out, _ = DecodeWAV(riff(f, wavChunk("data", oneSided)))
	if m := slices.Max(out); m < 7990 || m > 8010 {
		t.Errorf("R silent: peak %d, want half of 16000", m)
	}
}

func TestDecodeWAVChunkWalk(t *testing.T) {
	le := binary.LittleEndian
	pcm := encodeSamples(kindPCM16, 1, sineFloat(8000, 500, 800, 0.5))
	f := wavChunk("fmt ", fmtBody(1, 1, 8000, 16))
	ds64 := le.AppendUint64(le.AppendUint64(nil, 0), uint64(len(pcm)))
	ds64 = le.AppendUint64(ds64, 800)
	rf64 := riff(wavChunk("ds64", ds64), f, wavChunkSized("data", math.MaxUint32, pcm))
	copy(rf64, "RF64")
	binary.LittleEndian.PutUint32(rf64[4:], math.MaxUint32)
	// A provisional header: sizes never rewritten by a killed writer.
	crashed := append(riff(f, wavChunkSized("data", 0, nil)), pcm...)
	binary.LittleEndian.PutUint32(crashed[4:], 36)

	tests := []struct {
		name    string
		data    []byte
		samples int
	}{
		{"odd unknown chunk before fmt", riff(wavChunk("junk", []byte{1, 2, 3}), f, wavChunk("data", pcm)), 800},
		{"chunks after data", riff(f, wavChunk("data", pcm), wavChunk("LIST", []byte("INFOISFT"))), 800},
		{"odd data chunk with pad", riff(f, wavChunk("data", pcm[:801]), wavChunk("id3 ", []byte{9})), 400},
		{"odd data chunk, pad byte missing", riff(f, wavChunkSized("data", 801, pcm[:801])), 400},
		{"streaming size 0xFFFFFFFF", riff(f, wavChunkSized("data", math.MaxUint32, pcm)), 800},
		{"espeak size 0x7ffff000", riff(f, wavChunkSized("data", 0x7ffff000, pcm)), 800},
		{"size 0 of a killed writer", crashed, 800},
		{"size 0 and a consistent RIFF size", riff(f, wavChunk("data", nil)), 0},
		{"data truncated", riff(f, wavChunkSized("data", 4000, pcm[:1000])), 500},
		{"RIFF size wrong", func() []byte { b := riff(f, wavChunk("data", pcm)); le.PutUint32(b[4:], 7); return b }(), 800},
		{"RF64 with ds64", rf64, 800},
		{"partial last frame dropped", riff(wavChunk("fmt ", fmtBody(1, 2, 8000, 16)), wavChunk("data", pcm[:803])), 200},
		{"fmt chunk of 18 bytes", riff(wavChunk("fmt ", append(fmtBody(1, 1, 8000, 16), 0, 0)), wavChunk("data", pcm)), 800},
		{"block align 0", riff(wavChunk("fmt ", func() []byte { b := fmtBody(1, 1, 8000, 16); b[12], b[13] = 0, 0; return b }()), wavChunk("data", pcm)), 800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := DecodeWAV(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tt.samples {
				t.Errorf("%d samples, want %d", len(out), tt.samples)
			}
		})
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	pcm := make([]byte, 320)
	f := wavChunk("fmt ", fmtBody(1, 1, 8000, 16))
	fmtWith := func(edit func(b []byte)) []byte {
		b := fmtBody(1, 1, 8000, 16)
		edit(b)
		return riff(wavChunk("fmt ", b), wavChunk("data", pcm))
	}
	badGUID := fmtExtensible(1, 1, 8000, 16)
	badGUID[30] ^= 0xFF
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte("RIFF")},
		{"not riff", []byte("RIFX\x00\x00\x00\x00WAVEfmt ")},
		{"not wave", []byte("RIFF\x00\x00\x00\x00AVI fmt ")},
		{"no chunks", riff()},
		{"no fmt", riff(wavChunk("data", pcm))},
		{"no data", riff(f)},
		{"data before fmt", riff(wavChunk("data", pcm), f)},
		{"two fmt", riff(f, f, wavChunk("data", pcm))},
		{"short fmt", riff(wavChunk("fmt ", make([]byte, 14)), wavChunk("data", pcm))},
		{"fmt past end", riff(wavChunkSized("fmt ", 16, make([]byte, 10)))},
		{"zero channels", fmtWith(func(b []byte) { b[2] = 0 })},
		{"rate 0", fmtWith(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 0) })},
		{"rate 4 GHz", fmtWith(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], math.MaxUint32) })},
		{"40 bits", fmtWith(func(b []byte) { b[14] = 40 })},
		{"0 bits", fmtWith(func(b []byte) { b[14] = 0 })},
		{"4-bit pcm", fmtWith(func(b []byte) { b[14] = 4 })},
		{"float 16", fmtWith(func(b []byte) { b[0] = wavFormatFloat })},
		{"mulaw 16", fmtWith(func(b []byte) { b[0] = wavFormatMuLaw })},
		{"adpcm", fmtWith(func(b []byte) { b[0] = 2 })},
		{"mp3 in wav", fmtWith(func(b []byte) { b[0] = 0x55 })},
		{"block align too small", fmtWith(func(b []byte) { b[12] = 1 })},
		{"extensible too short", riff(wavChunk("fmt ", fmtBody(wavFormatExtensible, 1, 8000, 16)), wavChunk("data", pcm))},
		{"extensible unknown GUID", riff(wavChunk("fmt ", badGUID), wavChunk("data", pcm))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := DecodeWAV(tt.data)
			if !errors.Is(err, ErrBadAudio) {
				t.Fatalf("err %v (%d samples), want ErrBadAudio", err, len(out))
			}
			var ae *AudioError
			if !errors.As(err, &ae) || ae.Format != "wav" {
				t.Errorf("err %v is not a wav *AudioError", err)
			}
		})
	}
}

func TestDecodeWAVTooLong(t *testing.T) {
	// 8-bit mono at 1 kHz: each byte is 8 output samples, so 3.6 MB is
	// over an hour.
	n := int(maxAudioSamples/8) + 1000
	data := riff(wavChunk("fmt ", fmtBody(1, 1, 1000, 8)), wavChunk("data", make([]byte, n)))
	if _, err := DecodeWAV(data); !errors.Is(err, ErrBadAudio) {
		t.Fatalf("err %v, want ErrBadAudio", err)
	}
}

func TestDecodeWAVTestdata(t *testing.T) {
	// The talk-off files are µ-law at 8 kHz: decoding must match the
	// reference reader sample for sample.
	for _, name := range []string{"speech-en.wav", "music.wav"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecodeWAV(data)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out, readWAV(t, name)) {
			t.Errorf("%s: differs from readWAV", name)
		}
	}
}

func TestDecodeAudioSniff(t *testing.T) {
	wav := riff(wavChunk("fmt ", fmtBody(1, 1, 8000, 16)), wavChunk("data", make([]byte, 320)))
	if out, err := DecodeAudio(wav); err != nil || len(out) != 160 {
		t.Errorf("wav: %d samples, %v", len(out), err)
	}
	mp3data, err := os.ReadFile("testdata/prompts/tone440-16k-mono-id3.mp3")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := DecodeAudio(mp3data); err != nil || len(out) < 3500 {
		t.Errorf("mp3: %d samples, %v", len(out), err)
	}
	for _, b := range [][]byte{nil, []byte("<!DOCTYPE html><html>"), []byte("OggS\x00\x02"), []byte("fLaC")} {
		if _, err := DecodeAudio(b); !errors.Is(err, ErrBadAudio) {
			t.Errorf("%q: err %v, want ErrBadAudio", b, err)
		}
	}
}

func FuzzDecodeWAV(f *testing.F) {
	pcm := encodeSamples(kindPCM16, 2, sineFloat(44100, 1000, 300, 0.5))
	f.Add(riff(wavChunk("fmt ", fmtBody(1, 2, 44100, 16)), wavChunk("data", pcm)))
	f.Add(riff(wavChunk("fmt ", fmtExtensible(3, 1, 22050, 32)), wavChunk("data", make([]byte, 64))))
	f.Add(riff(wavChunk("fmt ", fmtBody(7, 1, 8000, 8)), wavChunkSized("data", math.MaxUint32, make([]byte, 99))))
	f.Add(riff(wavChunk("junk", []byte{1}), wavChunk("fmt ", fmtBody(1, 3, 16000, 24)), wavChunk("data", make([]byte, 90))))
	if b, err := os.ReadFile("testdata/speech-intl.wav"); err == nil {
		f.Add(b[:2000])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := DecodeWAV(data)
		if err != nil {
			var ae *AudioError
			if !errors.Is(err, ErrBadAudio) || !errors.As(err, &ae) {
				t.Fatalf("untyped error %v", err)
			}
			if out != nil {
				t.Fatal("output with an error")
			}
			return
		}
		// At most 8 output samples per input byte (8-bit at 1 kHz).
		if int64(len(out)) > 8*int64(len(data))+1 || int64(len(out)) > maxAudioSamples {
			t.Fatalf("%d samples from %d bytes", len(out), len(data))
		}
	})
}
