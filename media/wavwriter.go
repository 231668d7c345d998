package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// ErrWAVFull is returned by WAVWriter when one more frame would take the
// file past the 4 GiB a RIFF size can describe (about 74 hours mono, 37
// hours two-channel).
var ErrWAVFull = errors.New("media: wav file full")

// errWAVChannels reports a WriteFrame on a two-channel writer or the
// reverse: a programmer error.
var errWAVChannels = errors.New("media: wav writer: frame call does not match the channel count")

// errWAVClosed reports a write after Close.
var errWAVClosed = errors.New("media: wav writer: closed")

// Canonical WAV header of 16-bit PCM at 8 kHz: RIFF header, a 16-byte fmt
// chunk and the data chunk header.
const (
	wavHeaderSize  = 44
	wavRIFFSizeOff = 4
	wavDataSizeOff = 40
	maxWAVData     = math.MaxUint32 - (wavHeaderSize - 8)
)

// WAVWriter streams a recording to a WAV file (16-bit PCM, 8 kHz, mono
// or two channels) so that a crash loses at most the last second
// (decision 18). It writes the header first with sizes of zero, then
// buffers one second of audio at a time; each full second it writes the
// audio and rewrites the RIFF and data sizes in place, so the file on
// disk is always a complete WAV file of every whole second recorded so
// far, readable by DecodeWAV and by standard tools even after the process
// is killed. Close writes the rest, rewrites the sizes, syncs and closes
// the file.
//
// Writes go through WriteAt, so the file must not be opened with
// O_APPEND. A WAVWriter is not safe for concurrent use. WriteFrame and
// WriteStereo do not allocate; once a second they make two write system
// calls. After a write error every later call returns that error.
type WAVWriter struct {
	f        *os.File
	channels int
	buf      []byte // one second of audio
	n        int    // bytes used in buf
	written  int64  // audio bytes in the file
	err      error
	closed   bool
	hdr      [8]byte
}

// NewWAVWriter writes a WAV header to f and returns a writer of channels
// channels into it. The writer owns f from then on and closes it in
// Close. An error writing the header is returned by the first write and
// by Close. It panics if channels is not 1 or 2 (a programmer error).
func NewWAVWriter(f *os.File, channels int) *WAVWriter {
	if channels != 1 && channels != 2 {
		panic(fmt.Sprintf("media: NewWAVWriter with %d channels, want 1 or 2", channels))
	}
	w := &WAVWriter{f: f, channels: channels, buf: make([]byte, SampleRate*2*channels)}
	var h [wavHeaderSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], wavHeaderSize-8)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], wavFormatPCM)
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], SampleRate)
	le.PutUint32(h[28:], uint32(SampleRate*2*channels))
	le.PutUint16(h[32:], uint16(2*channels))
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], 0)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		w.err = fmt.Errorf("media: wav writer: write header: %w", err)
	}
	return w
}

// Channels returns the number of channels of the file.
func (w *WAVWriter) Channels() int { return w.channels }

// Duration returns how much audio has been written, buffered audio
// included.
func (w *WAVWriter) Duration() time.Duration {
	samples := (w.written + int64(w.n)) / int64(2*w.channels)
	return time.Duration(samples) * time.Second / SampleRate
}

// Size returns the size of the WAV file in bytes once everything written
// so far is flushed: the header and the audio, buffered audio included.
func (w *WAVWriter) Size() int64 { return wavHeaderSize + w.written + int64(w.n) }

// WriteFrame appends a frame to a mono file. The writer does not keep f.
func (w *WAVWriter) WriteFrame(f *Frame) error {
	if err := w.check(1); err != nil {
		return err
	}
	b := w.buf[w.n : w.n+2*FrameSamples]
	for i, s := range f {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return w.advance(2 * FrameSamples)
}

// WriteStereo appends a frame to each channel of a two-channel file:
// left is channel 1, right channel 2; nil is silence. The writer keeps
// neither frame.
func (w *WAVWriter) WriteStereo(left, right *Frame) error {
	if err := w.check(2); err != nil {
		return err
	}
	b := w.buf[w.n : w.n+4*FrameSamples]
	var zero Frame
	if left == nil {
		left = &zero
	}
	if right == nil {
		right = &zero
	}
	for i := range FrameSamples {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(left[i]))
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(right[i]))
	}
	return w.advance(4 * FrameSamples)
}

func (w *WAVWriter) check(channels int) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return errWAVClosed
	case channels != w.channels:
		return errWAVChannels
	case w.written+int64(w.n)+int64(2*channels*FrameSamples) > maxWAVData:
		return ErrWAVFull
	}
	return nil
}

// advance accounts for n bytes just put in buf and writes a full second.
func (w *WAVWriter) advance(n int) error {
	w.n += n
	if w.n == len(w.buf) {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered audio and rewrites the sizes in the header.
// The writer calls it every second of audio; call it to make a shorter
// recording visible early.
func (w *WAVWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errWAVClosed
	}
	if w.n > 0 {
		if _, err := w.f.WriteAt(w.buf[:w.n], wavHeaderSize+w.written); err != nil {
			w.err = fmt.Errorf("media: wav writer: write audio: %w", err)
			return w.err
		}
		w.written += int64(w.n)
		w.n = 0
	}
	// Audio first, sizes after: the sizes never cover unwritten bytes.
	le := binary.LittleEndian
	le.PutUint32(w.hdr[:4], uint32(w.written+wavHeaderSize-8))
	le.PutUint32(w.hdr[4:], uint32(w.written))
	if _, err := w.f.WriteAt(w.hdr[:4], wavRIFFSizeOff); err != nil {
		w.err = fmt.Errorf("media: wav writer: write header: %w", err)
		return w.err
	}
	if _, err := w.f.WriteAt(w.hdr[4:], wavDataSizeOff); err != nil {
		w.err = fmt.Errorf("media: wav writer: write header: %w", err)
		return w.err
	}
	return nil
}

// Close writes the buffered audio, rewrites the sizes, syncs the file to
// stable storage and closes it. It returns the first error met: an
// earlier write error, or that of the flush, sync or close. Calling Close
// again returns nil.
func (w *WAVWriter) Close() error {
	if w.closed {
		return nil
	}
	err := w.Flush()
	w.closed = true
	if serr := w.f.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("media: wav writer: sync: %w", serr)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("media: wav writer: close: %w", cerr)
	}
	return err
}
