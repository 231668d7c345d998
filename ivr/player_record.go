package ivr

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// recPhase is where a record command is.
type recPhase uint8

const (
	recNone    recPhase = iota
	recWaiting          // phrases done; waiting for the beep or the file
	recRunning          // writing the caller's audio
	recClosing          // finishing the file on a player goroutine
	recDone
)

// Below this level a frame counts as silence for silenceTimeout.
const silenceLevel = 0.003 // about -50 dBFS RMS

// beepFrames is the length of the record beep.
const beepFrames = 10 // 200 ms

type recState struct {
	want     *Record
	state    recPhase
	file     *os.File
	fileErr  error
	fileSeen bool
	beepDone bool
	rec      *media.Recorder
	frames   int
	silent   int
	result   *RecordResult
	pending  *Result
}

// recOpened reports a recording file opened (or not) by the loader.
type recOpened struct {
	seq  uint64
	file *os.File
	err  error
}

// recClosed reports a recording finished on a player goroutine.
type recClosed struct {
	seq    uint64
	result RecordResult
}

func (r *recState) busy() bool {
	return r.state == recWaiting || r.state == recRunning || r.state == recClosing
}

// reset prepares for a new command's record (or none).
func (r *recState) reset(want *Record) {
	*r = recState{want: want}
}

// openRecording creates the command's file on the loader goroutine.
func (p *Player) openRecording(seq uint64, want *Record) {
	var f *os.File
	err := errNoRecordings
	if p.cfg.Recordings != nil {
		f, err = p.cfg.Recordings.Create(want.FileName)
	}
	if err != nil {
		p.log.Warn("record: cannot create the file", "fileName", want.FileName, "err", err)
	}
	p.mu.Lock()
	closed := p.inbox.closed
	if !closed {
		p.inbox.recFile = append(p.inbox.recFile, recOpened{seq: seq, file: f, err: err})
	}
	p.mu.Unlock()
	if closed {
		discardFile(f)
	}
}

// startAfterPhrases begins the recording once the phrases ended.
func (r *recState) startAfterPhrases(s *state) {
	r.state = recWaiting
	r.beepDone = !r.want.Beep
	if r.want.Beep {
		s.beepLeft = beepFrames
	}
	r.maybeRun(s)
}

func (s *state) onRecordingOpened(p *Player, o recOpened) {
	r := &s.rec
	if o.seq != s.seq || r.want == nil {
		discardFile(o.file) // for a replaced command: nothing to keep
		return
	}
	r.fileSeen, r.file, r.fileErr = true, o.file, o.err
	r.maybeRun(s)
}

// maybeRun starts writing once the beep is over and the file is open; a
// file that could not be created ends the recording at once.
func (r *recState) maybeRun(s *state) {
	if r.state != recWaiting || !r.beepDone || !r.fileSeen {
		return
	}
	if r.fileErr != nil {
		r.state = recDone
		r.result = &RecordResult{FileName: r.want.FileName, Reason: "error"}
		return
	}
	r.rec = media.NewRecorder(r.file, 1)
	r.state = recRunning
}

// hear records one frame of the caller's audio.
func (s *state) hear(p *Player, f *media.Frame) {
	r := &s.rec
	if r.state == recWaiting && r.beepDone {
		r.maybeRun(s)
	}
	if r.state != recRunning {
		return
	}
	r.rec.Write(f)
	r.frames++
	if rms(f) < silenceLevel {
		r.silent++
	} else {
		r.silent = 0
	}
	max := r.want.MaxDuration
	if max <= 0 {
		max = defaultMaxRecording
	}
	switch {
	case r.frames >= framesOf(max):
		r.stop(p, s, RecordMaxDuration)
	case r.want.SilenceTimeout > 0 && r.silent >= framesOf(r.want.SilenceTimeout):
		r.stop(p, s, RecordSilence)
	}
}

// stop finishes the recording on a player goroutine; the result follows
// through the inbox.
func (r *recState) stop(p *Player, s *state, reason string) {
	switch r.state {
	case recWaiting:
		r.state = recDone
		r.result = &RecordResult{FileName: r.want.FileName, Reason: reason}
		discardFile(r.file)
		r.file = nil
		s.afterRecording(p)
		return
	case recRunning:
	default:
		return
	}
	r.state = recClosing
	rec, seq := r.rec, s.seq
	name := r.want.FileName
	if r.file != nil {
		name = baseName(r.file.Name())
	}
	dur := time.Duration(r.frames) * media.FrameDuration
	p.mu.Lock()
	p.goFuncLocked(func() {
		if _, err := rec.Close(); err != nil {
			p.log.Warn("record: finishing the file", "fileName", name, "err", err)
		}
		p.mu.Lock()
		p.inbox.recDone = append(p.inbox.recDone, recClosed{seq: seq, result: RecordResult{FileName: name, Duration: dur, Reason: reason}})
		p.mu.Unlock()
	})
	p.mu.Unlock()
}

func (s *state) onRecordingClosed(p *Player, c recClosed) {
	if c.seq != s.seq || s.rec.state != recClosing {
		return
	}
	res := c.result
	s.rec.state, s.rec.result = recDone, &res
	s.afterRecording(p)
}

// afterRecording delivers a result that waited for the file.
func (s *state) afterRecording(p *Player) {
	if r := s.rec.pending; r != nil {
		s.rec.pending = nil
		s.deliver(p, *r)
	}
}

// closeRecording finishes a recording cut short by Close: a recording
// under way keeps what it has; a file opened for a recording that had not
// started yet is removed.
func (s *state) closeRecording() error {
	switch s.rec.state {
	case recRunning:
		s.rec.state = recDone
		_, err := s.rec.rec.Close()
		return err
	case recNone, recWaiting:
		discardFile(s.rec.file)
		s.rec.file = nil
	}
	return nil
}

// discardFile closes and removes a recording file that holds nothing.
func discardFile(f *os.File) {
	if f != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
}

func rms(f *media.Frame) float64 {
	var sum float64
	for _, v := range f {
		x := float64(v) / 32768
		sum += x * x
	}
	return math.Sqrt(sum / float64(len(f)))
}

var errNoRecordings = errors.New("ivr: no recording store configured")

func baseName(path string) string { return filepath.Base(path) }

// abandon finishes a recording whose command was replaced; its result is
// not reported.
func (r *recState) abandon(p *Player) {
	switch r.state {
	case recRunning:
		rec := r.rec
		p.mu.Lock()
		p.goFuncLocked(func() { _, _ = rec.Close() })
		p.mu.Unlock()
	case recNone, recWaiting:
		discardFile(r.file)
	}
}

// FinishRecording ends a recording cut short because the caller hung up
// and returns its result (reason hangup), or nil when none was running.
// It blocks while the file is finished. Call it only after the player was
// removed from the clock (no Process runs any more) and before Close.
func (p *Player) FinishRecording() *RecordResult {
	s := &p.st
	if s.rec.state != recRunning || s.cmd == nil {
		return nil
	}
	s.rec.state = recDone
	name := s.rec.want.FileName
	if s.rec.file != nil {
		name = baseName(s.rec.file.Name())
	}
	if _, err := s.rec.rec.Close(); err != nil {
		p.log.Warn("record: finishing the file", "fileName", name, "err", err)
	}
	return &RecordResult{FileName: name, Duration: time.Duration(s.rec.frames) * media.FrameDuration, Reason: RecordHangup}
}
