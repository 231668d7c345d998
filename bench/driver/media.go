package main

import (
	"bytes"
	"embed"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed scenarios/*.xml
var scenarios embed.FS

// tone returns secs seconds of a sine at freq Hz, 8 kHz, at half scale.
func tone(freq float64, secs int) []int16 {
	out := make([]int16, 8000*secs)
	for i := range out {
		out[i] = int16(16000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return out
}

// wav encodes PCM16 mono 8 kHz samples as a WAV file.
func wav(pcm []int16) []byte {
	var b bytes.Buffer
	data := len(pcm) * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}

// ulaw encodes one sample as G.711 µ-law.
func ulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, clip) + bias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// alaw encodes one sample as G.711 A-law (the ITU reference algorithm).
func alaw(s int16) byte {
	x := int(s) >> 3
	mask := 0xD5
	if x < 0 {
		x, mask = -x-1, 0x55
	}
	seg := 0
	for _, end := range []int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF} {
		if x <= end {
			break
		}
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	v := seg << 4
	if seg < 2 {
		v |= (x >> 1) & 0x0F
	} else {
		v |= (x >> seg) & 0x0F
	}
	return byte(v ^ mask)
}

func encode(pcm []int16, f func(int16) byte) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = f(s)
	}
	return out
}

// assets are the files a run needs, in the work directory.
type assets struct {
	Prompt    string // 10 s WAV the IVR loops
	ToneUlaw  string // raw µ-law the callers stream (1000 Hz)
	ToneAlaw  string // raw A-law for PCMA callees (440 Hz)
	ToneUlaw2 string // raw µ-law for PCMU callees (440 Hz)
	DTMF      string // RFC 4733 digit 5 pcap, empty when not usable
}

// writeAssets writes the prompt, the tones and the DTMF pcap. The pcap is
// sip-tester's dtmf_2833_5.pcap; unless shipped, the duration of its first
// (marker) packet is set to 160 instead of 0 (INTEROP.md: a decoder that
// takes the event from the first packet, like diago's, loses the digit
// otherwise).
func writeAssets(dir string, dtmf, shipped bool) (assets, error) {
	a := assets{
		Prompt:    filepath.Join(dir, "prompt10s.wav"),
		ToneUlaw:  filepath.Join(dir, "tone1000.ulaw"),
		ToneAlaw:  filepath.Join(dir, "tone440.alaw"),
		ToneUlaw2: filepath.Join(dir, "tone440.ulaw"),
	}
	// The prompt: 10 s alternating 600 Hz and 1800 Hz half-second tones,
	// away from the DTMF frequencies.
	var p []int16
	for i := 0; i < 10; i++ {
		p = append(p, tone(600, 1)[:4000]...)
		p = append(p, tone(1800, 1)[:4000]...)
	}
	files := map[string][]byte{
		a.Prompt:    wav(p),
		a.ToneUlaw:  encode(tone(1000, 10), ulaw),
		a.ToneAlaw:  encode(tone(440, 10), alaw),
		a.ToneUlaw2: encode(tone(440, 10), ulaw),
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return a, err
		}
	}
	if dtmf {
		src := "/usr/share/sip-tester/dtmf_2833_5.pcap"
		b, err := os.ReadFile(src)
		if err != nil {
			return a, fmt.Errorf("RFC 4733 pcap of sip-tester: %w", err)
		}
		a.DTMF = filepath.Join(dir, "dtmf_2833_5.pcap")
		if !shipped {
			if len(b) < 98 || b[96] != 0 || b[97] != 0 {
				return a, fmt.Errorf("%s: unexpected layout (first duration at bytes 96-97)", src)
			}
			b = append([]byte(nil), b...)
			b[96], b[97] = 0x00, 0xa0
			a.DTMF = filepath.Join(dir, "dtmf_2833_5-d160.pcap")
		}
		if err := os.WriteFile(a.DTMF, b, 0o644); err != nil {
			return a, err
		}
	}
	return a, nil
}

// render writes scenario name from the embedded templates with data.
func render(dir, name, out string, data any) (string, error) {
	t, err := template.ParseFS(scenarios, "scenarios/"+name)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	path := filepath.Join(dir, out)
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}
