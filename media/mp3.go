package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// IsMP3 reports whether data starts like an MP3 file: an ID3v2 tag or
// the frame sync of an MPEG audio layer III frame.
func IsMP3(data []byte) bool {
	if len(data) >= 3 && string(data[:3]) == "ID3" {
		return true
	}
	return len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && (data[1]>>1)&3 == 1
}

// DecodeMP3 decodes MPEG-1 and MPEG-2 layer III audio (an .mp3 file of
// 16 to 48 kHz, with or without ID3 tags) held in data to 16-bit PCM at 8 kHz mono: the
// channels are averaged (decision 22) and the rate converted by
// Resampler. The decoder is github.com/hajimehoshi/go-mp3. The encoder's
// delay at the start (about 50 ms for LAME) is kept. Input that is not
// MP3, a truncated ID3 tag, a decoder failure (including a panic inside
// the decoder, which is recovered) and audio longer than MaxAudioDuration
// are *AudioError values wrapping ErrBadAudio. A truncated last frame
// ends the audio without error. MPEG-2.5 (8 to 12 kHz MP3) is not
// supported by go-mp3 and gives an error that says so. DecodeMP3 is safe
// for concurrent use.
func DecodeMP3(data []byte) (pcm []int16, err error) {
	defer func() {
		if p := recover(); p != nil {
			pcm, err = nil, &AudioError{Format: "mp3", Reason: fmt.Sprintf("decoder failed: %v", p)}
		}
	}()
	body, err := skipID3(data)
	if err != nil {
		return nil, err
	}
	// A reader without Seek, so that go-mp3 does not scan the whole input
	// for its length before decoding.
	dec, err := mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(body)})
	if err != nil {
		return nil, &AudioError{Format: "mp3", Reason: "no audio frame", Err: err}
	}
	r, err := NewResampler(dec.SampleRate())
	if err != nil {
		return nil, &AudioError{Format: "mp3", Reason: "unsupported sample rate", Err: err}
	}
	// go-mp3 always produces 16-bit little-endian stereo.
	const chunk = 4096
	raw := make([]byte, 4*chunk)
	mono := make([]float32, chunk)
	var out []int16
	var have int
	for {
		n, rerr := dec.Read(raw[have:])
		have += n
		frames := have / 4
		for i := range frames {
			l := int16(binary.LittleEndian.Uint16(raw[4*i:]))
			rr := int16(binary.LittleEndian.Uint16(raw[4*i+2:]))
			mono[i] = (float32(l) + float32(rr)) / 2
		}
		out = r.appendFloat(out, mono[:frames])
		have = copy(raw, raw[4*frames:have])
		if int64(len(out)) > maxAudioSamples {
			return nil, &AudioError{Format: "mp3", Reason: fmt.Sprintf("longer than %v", MaxAudioDuration)}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, &AudioError{Format: "mp3", Reason: "corrupt frame", Err: rerr}
		}
	}
	return r.Flush(out), nil
}

// skipID3 returns data after any ID3v2 tags at its start, checking their
// sizes against data (go-mp3 would allocate whatever size a tag claims).
func skipID3(data []byte) ([]byte, error) {
	for len(data) >= 3 && string(data[:3]) == "ID3" {
		if len(data) < 10 {
			return nil, &AudioError{Format: "mp3", Reason: "truncated ID3 tag"}
		}
		var size int
		for _, b := range data[6:10] {
			if b&0x80 != 0 {
				return nil, &AudioError{Format: "mp3", Reason: "invalid ID3 tag size"}
			}
			size = size<<7 | int(b)
		}
		size += 10
		if data[5]&0x10 != 0 {
			size += 10 // footer
		}
		if size > len(data) {
			return nil, &AudioError{Format: "mp3", Reason: "truncated ID3 tag"}
		}
		data = data[size:]
	}
	if len(data) == 0 {
		return nil, &AudioError{Format: "mp3", Reason: "no audio frame"}
	}
	return data, nil
}
