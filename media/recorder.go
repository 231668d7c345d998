package media

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// recorderDepth bounds the audio a Recorder buffers between the clock and
// its writer goroutine: 5 s. A disk slower than that drops frames (counted)
// rather than stalling the media clock.
const recorderDepth = 250

// Recorder streams audio to a WAV file without blocking the media clock:
// Write copies a frame into a bounded ring, and a goroutine owned by the
// Recorder writes it out through a WAVWriter, which rewrites the sizes in
// the header every second (decision 18).
//
// Write and WriteStereo are called from one goroutine (the clock); Close
// from any goroutine once writing stopped.
type Recorder struct {
	w        *WAVWriter
	channels int
	free     chan *[2]Frame
	work     chan *[2]Frame
	done     chan struct{}
	err      error // set by the writer goroutine before done closes
	frames   atomic.Int64
	dropped  atomic.Int64
	once     sync.Once
	closeErr error
}

// RecordingInfo describes a finished recording.
type RecordingInfo struct {
	Duration time.Duration
	Size     int64
	Dropped  int64 // frames lost to a slow disk
}

// NewRecorder starts recording to f, which it owns from now on: 1 channel
// (a mix) or 2 (decision 18: the first participant, then everyone else).
func NewRecorder(f *os.File, channels int) *Recorder {
	if channels != 2 {
		channels = 1
	}
	r := &Recorder{
		w:        NewWAVWriter(f, channels),
		channels: channels,
		free:     make(chan *[2]Frame, recorderDepth),
		work:     make(chan *[2]Frame, recorderDepth),
		done:     make(chan struct{}),
	}
	for range recorderDepth {
		r.free <- new([2]Frame)
	}
	go r.run()
	return r
}

// Write records one mono frame (or the left channel with silence right).
func (r *Recorder) Write(f *Frame) bool {
	select {
	case b := <-r.free:
		b[0] = *f
		b[1] = Frame{}
		r.work <- b
		return true
	default:
		r.dropped.Add(1)
		return false
	}
}

// WriteStereo records one frame per channel.
func (r *Recorder) WriteStereo(left, right *Frame) bool {
	select {
	case b := <-r.free:
		b[0], b[1] = *left, *right
		r.work <- b
		return true
	default:
		r.dropped.Add(1)
		return false
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	for b := range r.work {
		var err error
		if r.channels == 2 {
			err = r.w.WriteStereo(&b[0], &b[1])
		} else {
			err = r.w.WriteFrame(&b[0])
		}
		r.free <- b
		if err != nil && r.err == nil {
			r.err = err
		}
		r.frames.Add(1)
	}
}

// Duration returns the audio recorded so far.
func (r *Recorder) Duration() time.Duration { return time.Duration(r.frames.Load()) * FrameDuration }

// Close writes what is buffered, finishes the header, syncs and closes the
// file. Call it once Write is no longer called; it is idempotent.
func (r *Recorder) Close() (RecordingInfo, error) {
	r.once.Do(func() {
		close(r.work)
		<-r.done
		r.closeErr = errors.Join(r.err, r.w.Close())
	})
	return RecordingInfo{Duration: r.Duration(), Size: r.w.Size(), Dropped: r.dropped.Load()}, r.closeErr
}
