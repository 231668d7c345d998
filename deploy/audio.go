package deploy

import (
	"encoding/binary"
	"math"
	"time"
)

// sampleRate is the rate of the generated audio: 8 kHz, as G.711.
const sampleRate = 8000

// tone returns d of a sine wave at hz, peak amp (a fraction of full
// scale), as 16-bit samples at 8 kHz.
func tone(hz, amp float64, d time.Duration) []int16 {
	n := int(d.Seconds() * sampleRate)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(i)/sampleRate))
	}
	return out
}

// wav encodes samples as an 8 kHz mono 16-bit PCM WAV file.
func wav(samples []int16) []byte {
	data := len(samples) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], sampleRate)
	binary.LittleEndian.PutUint32(b[28:], sampleRate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}

// ulaw encodes samples as raw G.711 µ-law (ITU-T G.711, the format of
// SIPp's rtp_stream files).
func ulaw(samples []int16) []byte {
	const bias, clip = 0x84, 32635
	out := make([]byte, len(samples))
	for i, s := range samples {
		v := int(s)
		sign := 0
		if v < 0 {
			v, sign = -v, 0x80
		}
		v = min(v, clip) + bias
		exp := 7
		for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
			exp--
		}
		mant := (v >> (exp + 3)) & 0x0f
		out[i] = ^byte(sign | exp<<4 | mant)
	}
	return out
}
