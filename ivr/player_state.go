package ivr

import (
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// Collection defaults (API.md §5.2).
const (
	defaultTimeout      = 10 * time.Second
	defaultInterDigit   = 5 * time.Second
	maxCollectedDigits  = 64
	defaultMaxRecording = 60 * time.Second
)

// state is the command state machine, owned by the clock goroutine.
type state struct {
	now time.Time
	seq uint64 // the running command's sequence number
	cmd *Command
	// active is true from a command's start until its result was given.
	active bool

	phrases     []slot
	idx         int // phrase playing
	cur         cursor
	phrasesDone bool
	phrasesEnd  time.Time

	collecting bool
	collect    Collect
	digits     []byte
	lastDigit  time.Time
	afterAt    time.Time // getIVRCommandAfter deadline, zero if none

	bg    *media.Prompt
	bgPh  Phrase
	bgCur cursor

	rec recState

	beep     media.ToneGenerator
	beepLeft int // frames

	out output
}

// slot is one phrase of the running command.
type slot struct {
	ready  bool
	prompt *media.Prompt // nil: failed, skipped
	phrase Phrase
}

func (s *state) init() {
	s.phrasesDone = true // idle until the first command
	s.beep = media.NewToneGenerator(1000, 0, 0.3)
	s.digits = make([]byte, 0, maxCollectedDigits)
}

// start replaces the running command by c (decision 15).
func (s *state) start(p *Player, c *Command, seq uint64) {
	s.rec.abandon(p)
	s.seq, s.cmd, s.active = seq, c, true
	s.phrases = make([]slot, len(c.Phrases))
	for i, ph := range c.Phrases {
		s.phrases[i].phrase = ph
	}
	s.idx, s.cur = 0, cursor{}
	s.phrasesDone, s.phrasesEnd = false, time.Time{}
	s.collecting = c.Dtmf != nil
	s.digits = s.digits[:0]
	s.lastDigit, s.afterAt = time.Time{}, time.Time{}
	s.beepLeft = 0
	if c.Dtmf != nil {
		s.collect = *c.Dtmf
		if s.collect.Timeout <= 0 {
			s.collect.Timeout = defaultTimeout
		}
		if s.collect.InterDigitTimeout <= 0 {
			s.collect.InterDigitTimeout = defaultInterDigit
		}
		if s.collect.MaxDigits <= 0 {
			s.collect.MaxDigits = 1
			if s.collect.TerminationKey != 0 {
				s.collect.MaxDigits = maxCollectedDigits
			}
		}
		s.collect.MaxDigits = min(s.collect.MaxDigits, maxCollectedDigits)
	}
	s.rec.reset(c.Record)
	if len(c.Phrases) == 0 {
		s.endPhrases()
	}
}

func (s *state) onLoaded(l loaded) {
	if l.seq != s.seq {
		return // for a command that was replaced
	}
	if l.index < 0 {
		if l.prompt != nil {
			s.bg, s.bgPh = l.prompt, l.phrase
			s.bgCur = cursor{prompt: l.prompt, pause: framesOf(l.phrase.RepeatPause)}
		}
		return
	}
	if l.index < len(s.phrases) {
		s.phrases[l.index].ready = true
		s.phrases[l.index].prompt = l.prompt
	}
}

// tick advances playback and timers by one frame and prepares the output.
func (s *state) tick(p *Player) {
	s.out.silence()
	if !s.phrasesDone {
		// Phrases go on after DTMF collection ended, until the next
		// command replaces them (unless bargeIn stopped them).
		s.playPhrases()
	}
	if s.active {
		s.checkDeadlines(p)
	}
	switch {
	case s.beepLeft > 0:
		s.beepLeft--
		s.out.pcmFrom(&s.beep)
		if s.beepLeft == 0 {
			s.rec.beepDone = true
		}
	case s.out.kind == outSilence && s.rec.state != recRunning && s.bg != nil:
		if !s.bgCur.next(&s.out) {
			s.bgCur.restart()
			s.bgCur.next(&s.out)
		}
	}
}

// playPhrases plays the next frame of the phrases, skipping failed ones
// and waiting (in silence or background) for ones still loading.
func (s *state) playPhrases() {
	for s.idx < len(s.phrases) {
		sl := &s.phrases[s.idx]
		if !sl.ready {
			return
		}
		if sl.prompt != nil {
			if s.cur.prompt != sl.prompt {
				s.cur = cursor{prompt: sl.prompt, repeat: max(sl.phrase.Repeat, 1), pause: framesOf(sl.phrase.RepeatPause)}
			}
			if s.cur.next(&s.out) {
				return
			}
		}
		s.idx++
		s.cur = cursor{}
	}
	s.endPhrases()
}

// endPhrases marks the end of the command's phrases: DTMF and
// getIVRCommandAfter timers start, recording starts.
func (s *state) endPhrases() {
	if s.phrasesDone {
		return
	}
	s.phrasesDone, s.phrasesEnd = true, s.now
	s.idx = len(s.phrases)
	if a := s.cmd.After; a > 0 {
		s.afterAt = s.now.Add(a)
	}
	if s.rec.want != nil && s.active {
		s.rec.startAfterPhrases(s)
	}
}

// checkDeadlines ends the command when its rules say so (decision 15).
func (s *state) checkDeadlines(p *Player) {
	c := s.cmd
	if s.collecting && s.phrasesDone {
		base := s.phrasesEnd
		wait := s.collect.Timeout
		if len(s.digits) > 0 {
			base = later(s.lastDigit, s.phrasesEnd)
			wait = s.collect.InterDigitTimeout
		}
		if !s.now.Before(base.Add(wait)) {
			s.endCollect(p, DtmfTimeout)
			return
		}
	}
	if !s.afterAt.IsZero() && !s.now.Before(s.afterAt) {
		s.finish(p, ReasonTimer)
		return
	}
	if !s.phrasesDone || s.rec.busy() {
		return
	}
	switch {
	case c.Hangup:
		s.finish(p, ReasonCompleted)
	case s.collecting || !s.afterAt.IsZero():
		// waiting for digits or the deadline
	case len(c.Phrases) > 0 || c.Record != nil:
		s.finish(p, ReasonCompleted)
	}
	// A command with none of dtmf/phrases/record/after idles (API.md §5.1).
}

// digit handles one digit the caller pressed.
func (s *state) digit(p *Player, d byte) {
	if !s.active {
		return
	}
	if s.rec.state == recRunning && s.rec.want.TerminationKey != 0 && d == s.rec.want.TerminationKey {
		s.rec.stop(p, s, RecordTerminationKey)
		return
	}
	if s.cmd.BargeIn && !s.phrasesDone {
		s.endPhrases()
	}
	if !s.collecting {
		return
	}
	if s.collect.TerminationKey != 0 && d == s.collect.TerminationKey {
		s.endCollect(p, DtmfTerminationKey)
		return
	}
	s.digits = append(s.digits, d)
	s.lastDigit = s.now
	if len(s.digits) >= s.collect.MaxDigits {
		s.endCollect(p, DtmfMaxDigits)
	}
}

func (s *state) endCollect(p *Player, reason string) {
	s.collecting = false
	s.deliver(p, Result{Reason: ReasonDTMF, Digits: string(s.digits), DigitsReason: reason, Collected: true})
}

// finish ends the command with reason.
func (s *state) finish(p *Player, reason string) {
	if !s.active {
		return
	}
	r := Result{Reason: reason}
	if s.cmd.Dtmf != nil {
		r.Collected = true
		r.Digits = string(s.digits)
		r.DigitsReason = DtmfTimeout
	}
	if reason == ReasonInterrupted {
		s.collecting = false
		s.endPhrases()
		s.phrases = nil
	}
	if s.rec.busy() {
		// The result waits for the file to be complete.
		s.rec.pending = &r
		s.rec.stop(p, s, RecordHangup)
		return
	}
	s.deliver(p, r)
}

// deliver gives the command's result once.
func (s *state) deliver(p *Player, r Result) {
	if !s.active {
		return
	}
	if s.rec.busy() {
		s.rec.pending = &r
		s.rec.stop(p, s, RecordHangup)
		return
	}
	s.active = false
	r.Hangup = s.cmd.Hangup
	r.Recording = s.rec.result
	p.cfg.OnResult(r)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func framesOf(d time.Duration) int { return int((d + media.FrameDuration - 1) / media.FrameDuration) }
