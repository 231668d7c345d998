package mediaservertest

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/zaf/g711"
)

// WAV is decoded WAV audio.
type WAV struct {
	// SampleRate is the sample rate in Hz.
	SampleRate int
	// Channels holds one slice of linear 16-bit samples per channel; for a
	// stereo file Channels[0] is the left channel.
	Channels [][]int16
}

// WAV format codes.
const (
	wavFormatPCM        = 1
	wavFormatALaw       = 6
	wavFormatULaw       = 7
	wavFormatExtensible = 0xFFFE
	wavMaxChannels      = 8
)

// ReadWAV reads and decodes the WAV file at path. See DecodeWAV.
func ReadWAV(path string) (*WAV, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mediaservertest: read wav: %w", err)
	}
	w, err := DecodeWAV(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// DecodeWAV decodes a RIFF WAV file held in data: 8- or 16-bit linear PCM,
// A-law or µ-law, 1 to 8 channels, at any sample rate. A file still being
// written, whose RIFF or data sizes are stale or zero, is decoded up to its
// last whole frame. It returns an error wrapping ErrBadWAV for anything else
// and never panics on bad input.
func DecodeWAV(data []byte) (*WAV, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: no RIFF WAVE header", ErrBadWAV)
	}
	var format, channels, bits int
	var rate int
	haveFmt := false
	rest := data[12:]
	for len(rest) >= 8 {
		id, size := string(rest[0:4]), int64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		switch id {
		case "fmt ":
			if size < 16 || int64(len(body)) < size {
				return nil, fmt.Errorf("%w: short fmt chunk", ErrBadWAV)
			}
			format = int(binary.LittleEndian.Uint16(body[0:2]))
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
			if format == wavFormatExtensible && size >= 26 {
				format = int(binary.LittleEndian.Uint16(body[24:26])) // first bytes of the sub-format GUID
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadWAV)
			}
			if size == 0 || size > int64(len(body)) {
				size = int64(len(body)) // still being written
			}
			return decodeWAVData(body[:size], format, channels, bits, rate)
		}
		next := size + size%2 // chunks are padded to even sizes
		if next > int64(len(body)) {
			break
		}
		rest = body[next:]
	}
	return nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
}

// decodeWAVData decodes the samples of a data chunk.
func decodeWAVData(b []byte, format, channels, bits, rate int) (*WAV, error) {
	if channels < 1 || channels > wavMaxChannels {
		return nil, fmt.Errorf("%w: %d channels", ErrBadWAV, channels)
	}
	if rate < 1000 || rate > 192000 {
		return nil, fmt.Errorf("%w: sample rate %d", ErrBadWAV, rate)
	}
	var width int
	var decode func(b []byte) int16
	switch {
	case format == wavFormatPCM && bits == 16:
		width, decode = 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) }
	case format == wavFormatPCM && bits == 8:
		width, decode = 1, func(b []byte) int16 { return (int16(b[0]) - 128) << 8 }
	case format == wavFormatALaw && bits == 8:
		width, decode = 1, func(b []byte) int16 { return g711.DecodeAlawFrame(b[0]) }
	case format == wavFormatULaw && bits == 8:
		width, decode = 1, func(b []byte) int16 { return g711.DecodeUlawFrame(b[0]) }
	default:
		return nil, fmt.Errorf("%w: format %d with %d bits", ErrBadWAV, format, bits)
	}
	frames := len(b) / (width * channels)
	w := &WAV{SampleRate: rate, Channels: make([][]int16, channels)}
	for ch := range w.Channels {
		w.Channels[ch] = make([]int16, frames)
	}
	for i := range frames {
		for ch := range channels {
			off := (i*channels + ch) * width
			w.Channels[ch][i] = decode(b[off : off+width])
		}
	}
	return w, nil
}

// EncodeWAV returns samples (8 kHz mono) as a 16-bit PCM WAV file. It is the
// inverse of DecodeWAV, handy to write what a call heard to disk:
// os.WriteFile("heard.wav", EncodeWAV(call.Heard().Samples()), 0o644).
func EncodeWAV(samples []int16) []byte {
	const header = 44
	b := make([]byte, header+2*len(samples))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], SampleRate)
	binary.LittleEndian.PutUint32(b[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(samples)))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[header+2*i:], uint16(s))
	}
	return b
}
