package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrBadAudio is wrapped by every error of the audio decoders (DecodeWAV,
// DecodeMP3, DecodeAudio) and of the resampler for input they cannot
// decode: not WAV or MP3, a malformed or truncated header, an unsupported
// encoding, a sample rate out of range, or audio longer than
// MaxAudioDuration. Match it with errors.Is; errors.As with *AudioError
// gives the detail.
var ErrBadAudio = errors.New("media: invalid or unsupported audio")

// MaxAudioDuration bounds the audio one decode may produce (one hour,
// 57.6 MB of 8 kHz samples), whatever the input claims.
const MaxAudioDuration = time.Hour

const maxAudioSamples = int64(MaxAudioDuration / time.Second * SampleRate)

// AudioError describes audio that cannot be decoded. It wraps ErrBadAudio
// and, when there is one, the underlying cause Err.
type AudioError struct {
	Format string // "wav", "mp3", "pcm" or "audio" when unknown
	Reason string // what is wrong, lower case
	Err    error  // underlying cause, or nil
}

// Error names the format and what is wrong.
func (e *AudioError) Error() string {
	s := "media: bad " + e.Format + " audio: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrBadAudio and the cause, for errors.Is and errors.As.
func (e *AudioError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadAudio, e.Err}
	}
	return []error{ErrBadAudio}
}

func wavErr(format string, args ...any) error {
	return &AudioError{Format: "wav", Reason: fmt.Sprintf(format, args...)}
}

// WAVE format tags (RFC 2361, mmreg.h).
const (
	wavFormatPCM        = 0x0001
	wavFormatFloat      = 0x0003
	wavFormatALaw       = 0x0006
	wavFormatMuLaw      = 0x0007
	wavFormatExtensible = 0xFFFE
)

// ksSubtypeTail is bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID whose
// first two bytes are a WAVE format tag.
const ksSubtypeTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

// sampleKind is how one sample of one channel is stored.
type sampleKind uint8

const (
	kindPCM8 sampleKind = iota + 1 // unsigned, offset 128
	kindPCM16
	kindPCM24
	kindPCM32
	kindFloat32
	kindFloat64
	kindMuLaw
	kindALaw
)

// wavInfo is a parsed WAV header and its sample data.
type wavInfo struct {
	kind     sampleKind
	channels int
	rate     int
	width    int // bytes per sample of one channel
	block    int // bytes per frame of all channels (block align)
	data     []byte
}

// IsWAV reports whether data starts like a RIFF/WAVE (or RF64) file.
func IsWAV(data []byte) bool {
	return len(data) >= 12 && (string(data[:4]) == "RIFF" || string(data[:4]) == "RF64") &&
		string(data[8:12]) == "WAVE"
}

// DecodeWAV decodes a RIFF/WAVE file held in data to 16-bit PCM at 8 kHz
// mono. It reads linear PCM of 8, 16, 24 and 32 bits, IEEE float of 32
// and 64 bits, µ-law and A-law, plain or as WAVE_FORMAT_EXTENSIBLE, with
// any number of channels (averaged to mono) at any rate between
// MinInputRate and MaxInputRate (resampled to 8 kHz, see Resampler).
//
// The chunk walk follows RIFF (odd chunks padded, unknown chunks
// skipped) and is lenient where streaming writers are: a data size of
// 0xFFFFFFFF, one that runs past the end of data, or 0 in a file whose
// RIFF size does not match its length (a writer killed before it
// finalised the header) all mean "to the end of the file". RF64 files
// with a ds64 chunk are read too. Every other defect, and audio longer
// than MaxAudioDuration, is an *AudioError wrapping ErrBadAudio. DecodeWAV
// never panics on any input and is safe for concurrent use.
func DecodeWAV(data []byte) ([]int16, error) {
	w, err := parseWAV(data)
	if err != nil {
		return nil, err
	}
	return w.decode()
}

func parseWAV(data []byte) (*wavInfo, error) {
	if !IsWAV(data) {
		return nil, wavErr("not a RIFF/WAVE file")
	}
	le := binary.LittleEndian
	rf64 := string(data[:4]) == "RF64"
	riffSize := int64(le.Uint32(data[4:]))
	ds64Data := int64(-1)
	var w *wavInfo
	off := 12
	for off+8 <= len(data) {
		id := string(data[off : off+4])
		size := int64(le.Uint32(data[off+4:]))
		body := off + 8
		avail := int64(len(data) - body)
		switch id {
		case "ds64":
			if size >= 16 && avail >= 16 {
				if v := le.Uint64(data[body+8:]); v < math.MaxInt64 {
					ds64Data = int64(v)
				}
			}
		case "fmt ":
			if w != nil {
				return nil, wavErr("second fmt chunk")
			}
			if size < 16 || avail < min(size, 40) {
				return nil, wavErr("fmt chunk of %d bytes is too short", size)
			}
			var err error
			if w, err = parseFmt(data[body : body+int(min(size, 40))]); err != nil {
				return nil, err
			}
		case "data":
			if w == nil {
				return nil, wavErr("data chunk before fmt chunk")
			}
			n := size
			switch {
			case rf64 && size == math.MaxUint32 && ds64Data >= 0:
				n = ds64Data
			case size == math.MaxUint32:
				n = avail // streaming writer: to the end
			case size == 0 && riffSize+8 != int64(len(data)):
				n = avail // provisional header of a writer that never finished
			}
			w.data = data[body : body+int(min(n, avail))]
			return w, nil
		}
		next := int64(body) + size + size&1
		if next > int64(len(data)) {
			break // a chunk running past the end: nothing follows it
		}
		off = int(next)
	}
	if w == nil {
		return nil, wavErr("no fmt chunk")
	}
	return nil, wavErr("no data chunk")
}

// parseFmt reads a fmt chunk body of 16 to 40 bytes.
func parseFmt(b []byte) (*wavInfo, error) {
	le := binary.LittleEndian
	tag := le.Uint16(b)
	channels := int(le.Uint16(b[2:]))
	rate := int64(le.Uint32(b[4:]))
	block := int(le.Uint16(b[12:]))
	bits := int(le.Uint16(b[14:]))
	if tag == wavFormatExtensible {
		if len(b) < 40 || le.Uint16(b[16:]) < 22 {
			return nil, wavErr("WAVE_FORMAT_EXTENSIBLE fmt chunk too short")
		}
		if string(b[26:40]) != ksSubtypeTail {
			return nil, wavErr("unknown WAVE_FORMAT_EXTENSIBLE sub-format")
		}
		tag = le.Uint16(b[24:])
	}
	if channels < 1 {
		return nil, wavErr("no channels")
	}
	if rate < MinInputRate || rate > MaxInputRate {
		return nil, wavErr("sample rate %d Hz out of range", rate)
	}
	w := &wavInfo{channels: channels, rate: int(rate), width: (bits + 7) / 8}
	switch {
	case bits < 1:
		return nil, wavErr("%d bits per sample", bits)
	case tag == wavFormatPCM && bits == 8:
		w.kind = kindPCM8
	case tag == wavFormatPCM && bits > 8 && bits <= 16:
		w.kind = kindPCM16
	case tag == wavFormatPCM && bits > 16 && bits <= 24:
		w.kind = kindPCM24
	case tag == wavFormatPCM && bits > 24 && bits <= 32:
		w.kind = kindPCM32
	case tag == wavFormatFloat && bits == 32:
		w.kind = kindFloat32
	case tag == wavFormatFloat && bits == 64:
		w.kind = kindFloat64
	case tag == wavFormatMuLaw && bits == 8:
		w.kind = kindMuLaw
	case tag == wavFormatALaw && bits == 8:
		w.kind = kindALaw
	default:
		return nil, wavErr("unsupported encoding: format 0x%04x, %d bits", tag, bits)
	}
	need := w.width * channels
	switch {
	case block == 0:
		block = need // some writers leave it out
	case block < need:
		return nil, wavErr("block align %d is less than %d channels of %d bytes", block, channels, w.width)
	}
	w.block = block
	return w, nil
}

// decode converts the sample data to 8 kHz mono.
func (w *wavInfo) decode() ([]int16, error) {
	frames := int64(len(w.data) / w.block) // a partial last frame is dropped
	outLen := frames * SampleRate / int64(w.rate)
	if outLen > maxAudioSamples {
		return nil, wavErr("longer than %v", MaxAudioDuration)
	}
	r, err := NewResampler(w.rate)
	if err != nil {
		return nil, err
	}
	out := make([]int16, 0, outLen+2)
	const chunk = 4096
	mono := make([]float32, chunk)
	for start := int64(0); start < frames; start += chunk {
		n := min(chunk, frames-start)
		src := w.data[start*int64(w.block) : (start+n)*int64(w.block)]
		w.mix(mono[:n], src)
		out = r.appendFloat(out, mono[:n])
	}
	return r.Flush(out), nil
}

// mix writes one mono sample per frame of src into dst, averaging the
// channels, in int16 scale.
func (w *wavInfo) mix(dst []float32, src []byte) {
	scale := 1 / float32(w.channels)
	for i := range dst {
		frame := src[i*w.block:]
		var sum float32
		for c := range w.channels {
			sum += w.sample(frame[c*w.width:])
		}
		dst[i] = sum * scale
	}
}

// sample reads one sample at the start of b, in int16 scale.
func (w *wavInfo) sample(b []byte) float32 {
	le := binary.LittleEndian
	switch w.kind {
	case kindPCM8:
		return float32(int(b[0])-128) * 256
	case kindPCM16:
		return float32(int16(le.Uint16(b)))
	case kindPCM24:
		return float32(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)) / 65536
	case kindPCM32:
		return float32(int32(le.Uint32(b))) / 65536
	case kindFloat32:
		return floatSample(float64(math.Float32frombits(le.Uint32(b))))
	case kindFloat64:
		return floatSample(math.Float64frombits(le.Uint64(b)))
	case kindMuLaw:
		return float32(pcmuDecode[b[0]])
	case kindALaw:
		return float32(pcmaDecode[b[0]])
	}
	return 0
}

// floatSample scales a float sample (full scale ±1) to int16 range,
// mapping NaN to 0 and clipping beyond full scale.
func floatSample(v float64) float32 {
	switch {
	case v != v:
		return 0
	case v > 1:
		v = 1
	case v < -1:
		v = -1
	}
	return float32(v * 32768)
}

// DecodeAudio decodes WAV or MP3 audio, chosen by content (see IsWAV and
// IsMP3), to 16-bit PCM at 8 kHz mono. Other content is an *AudioError
// wrapping ErrBadAudio.
func DecodeAudio(data []byte) ([]int16, error) {
	switch {
	case IsWAV(data):
		return DecodeWAV(data)
	case IsMP3(data):
		return DecodeMP3(data)
	}
	return nil, &AudioError{Format: "audio", Reason: "neither WAV nor MP3"}
}
