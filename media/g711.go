package media

import "github.com/zaf/g711"

// G.711 (ITU-T G.711, RTP payload types 0 and 8 of RFC 3551) by table
// lookup. The tables are built once at package initialisation from the
// reference per-sample functions of github.com/zaf/g711 and never change
// afterwards, so every function here is safe for concurrent use and does
// not allocate.
//
// Encoding depends only on the top 14 bits of a sample (µ-law works on
// 14-bit magnitudes, A-law on 13), so one 16 K-entry table per law covers
// every int16 exactly; the tests check all 65536 inputs against zaf/g711.
var (
	pcmuEncode [1 << 14]byte // index: uint16(sample) >> 2
	pcmaEncode [1 << 14]byte // index: uint16(sample) >> 2
	pcmuDecode [256]int16    // µ-law byte to linear
	pcmaDecode [256]int16    // A-law byte to linear
	pcmuToPCMA [256]byte     // direct µ-law to A-law (G.711 tables)
	pcmaToPCMU [256]byte     // direct A-law to µ-law (G.711 tables)
)

// Silence in each law: the code of linear 0.
const (
	pcmuSilence = 0xFF
	pcmaSilence = 0xD5
)

func init() {
	for i := range pcmuEncode {
		s := int16(uint16(i) << 2)
		pcmuEncode[i] = g711.EncodeUlawFrame(s)
		pcmaEncode[i] = g711.EncodeAlawFrame(s)
	}
	for i := range 256 {
		pcmuDecode[i] = g711.DecodeUlawFrame(uint8(i))
		pcmaDecode[i] = g711.DecodeAlawFrame(uint8(i))
		pcmuToPCMA[i] = g711.Ulaw2AlawFrame(uint8(i))
		pcmaToPCMU[i] = g711.Alaw2UlawFrame(uint8(i))
	}
}

// EncodePCMU encodes linear samples to µ-law, one byte per sample. It
// converts min(len(dst), len(src)) samples.
func EncodePCMU(dst []byte, src []int16) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = pcmuEncode[uint16(s)>>2]
	}
}

// DecodePCMU decodes µ-law bytes to linear samples. It converts
// min(len(dst), len(src)) samples.
func DecodePCMU(dst []int16, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = pcmuDecode[b]
	}
}

// EncodePCMA encodes linear samples to A-law, one byte per sample. It
// converts min(len(dst), len(src)) samples.
func EncodePCMA(dst []byte, src []int16) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = pcmaEncode[uint16(s)>>2]
	}
}

// DecodePCMA decodes A-law bytes to linear samples. It converts
// min(len(dst), len(src)) samples.
func DecodePCMA(dst []int16, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = pcmaDecode[b]
	}
}

// PCMUToPCMA transcodes µ-law to A-law byte by byte with the direct
// conversion table of G.711 (no detour through linear PCM). It converts
// min(len(dst), len(src)) bytes; dst and src may be the same slice, which
// transcodes a payload in place.
func PCMUToPCMA(dst, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = pcmuToPCMA[b]
	}
}

// PCMAToPCMU transcodes A-law to µ-law byte by byte with the direct
// conversion table of G.711. It converts min(len(dst), len(src)) bytes; dst
// and src may be the same slice.
func PCMAToPCMU(dst, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = pcmaToPCMU[b]
	}
}

// Encode encodes linear samples with codec c, converting
// min(len(dst), len(src)) samples. For CodecNone it writes nothing.
func (c Codec) Encode(dst []byte, src []int16) {
	switch c {
	case CodecPCMU:
		EncodePCMU(dst, src)
	case CodecPCMA:
		EncodePCMA(dst, src)
	}
}

// Decode decodes bytes of codec c to linear samples, converting
// min(len(dst), len(src)) samples. For CodecNone it writes nothing.
func (c Codec) Decode(dst []int16, src []byte) {
	switch c {
	case CodecPCMU:
		DecodePCMU(dst, src)
	case CodecPCMA:
		DecodePCMA(dst, src)
	}
}

// SilenceByte returns the code of digital silence (linear 0) in codec c:
// 0xFF for µ-law and 0xD5 for A-law. CodecNone gets µ-law's.
func (c Codec) SilenceByte() byte {
	if c == CodecPCMA {
		return pcmaSilence
	}
	return pcmuSilence
}
