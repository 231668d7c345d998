package ivr

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// Loader turns a phrase into audio. It may block (disk, HTTP, TTS); the
// Player calls it on its own goroutine. *Library implements it.
type Loader interface {
	Load(ctx context.Context, p Phrase) (*media.Prompt, error)
}

// RecordingStore creates recording files exclusively. *Store implements
// it.
type RecordingStore interface {
	Create(name string) (*os.File, error)
}

// PlayerConfig configures a Player.
type PlayerConfig struct {
	// Loader resolves phrases. Required.
	Loader Loader
	// Recordings creates the files of record commands. Without it, record
	// commands end at once with reason "error".
	Recordings RecordingStore
	// Logger is the player's logger. Default slog.Default().
	Logger *slog.Logger
	// OnResult is called once per command when it ends (API.md §5.1). It
	// runs on the media clock or a player goroutine and must not block.
	OnResult func(Result)
}

// Player executes IVR commands for one IVR participant: it is the audio
// port the caller's leg plays from (a media.EncodedSource), listens to
// (a media.FrameSink) and whose time the media clock advances (a
// media.Processor). Digits arrive through Digit.
//
// All timing is counted on the media clock (Process's now), so commands
// run the same in tests that step a fake clock. Phrases load on a
// goroutine owned by the player; Close stops it and waits.
type Player struct {
	cfg PlayerConfig
	log *slog.Logger

	ctx    context.Context // ends at Close; parent of loads
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards inbox
	inbox inbox

	st state // owned by the clock goroutine (Process, ReadFrame, WriteFrame)
}

// inbox carries work from other goroutines to the clock.
type inbox struct {
	cmd       *Command
	seq       uint64 // of cmd
	digits    []byte
	interrupt bool
	loaded    []loaded
	recFile   []recOpened
	recDone   []recClosed
	closed    bool
}

// NewPlayer returns an idle player (silence, no background).
func NewPlayer(cfg PlayerConfig) *Player {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.OnResult == nil {
		cfg.OnResult = func(Result) {}
	}
	p := &Player{cfg: cfg, log: log}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.st.init()
	return p
}

// Execute replaces the running command at once (decision 15); only the
// background prompt continues unless cmd brings its own.
func (p *Player) Execute(cmd Command) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inbox.closed {
		return
	}
	p.inbox.seq++
	c := cmd
	p.inbox.cmd = &c
	seq := p.inbox.seq
	p.startLoads(seq, &c)
}

// Digit delivers a DTMF digit the caller pressed.
func (p *Player) Digit(d byte) {
	p.mu.Lock()
	if !p.inbox.closed && len(p.inbox.digits) < 64 {
		p.inbox.digits = append(p.inbox.digits, d)
	}
	p.mu.Unlock()
}

// Interrupt ends the running command at once with ReasonInterrupted; the
// background prompt keeps playing.
func (p *Player) Interrupt() {
	p.mu.Lock()
	p.inbox.interrupt = true
	p.mu.Unlock()
}

// Close stops the player: loads are cancelled, an open recording is
// finished (reason hangup) and Close waits for the player's goroutines.
// It does not call OnResult for the command it cuts short.
func (p *Player) Close() error {
	p.mu.Lock()
	p.inbox.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	for _, r := range p.inbox.recFile { // opened, never seen by the clock
		if r.seq != p.st.seq || p.st.rec.file != r.file {
			discardFile(r.file)
		}
	}
	p.inbox.recFile = nil
	p.mu.Unlock()
	return p.st.closeRecording()
}

// goFunc runs f on a goroutine owned by the player, unless it is closed.
// The caller holds p.mu.
func (p *Player) goFuncLocked(f func()) {
	if p.inbox.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// startLoads loads a command's phrases (and background) in order on one
// goroutine, handing each to the clock as soon as it is ready, so playback
// starts with the first phrase. The caller holds p.mu.
func (p *Player) startLoads(seq uint64, c *Command) {
	phrases := append([]Phrase(nil), c.Phrases...)
	bg := c.Background
	rec := c.Record
	p.goFuncLocked(func() {
		if rec != nil {
			p.openRecording(seq, rec)
		}
		for i, ph := range phrases {
			p.load(seq, i, ph)
		}
		if bg != nil {
			p.load(seq, -1, *bg)
		}
	})
}

func (p *Player) load(seq uint64, i int, ph Phrase) {
	prompt, err := p.cfg.Loader.Load(p.ctx, ph)
	if err != nil && p.ctx.Err() == nil {
		p.log.Warn("phrase skipped", "format", ph.Format, "fileName", ph.FileName, "url", ph.URL, "err", err)
	}
	p.mu.Lock()
	p.inbox.loaded = append(p.inbox.loaded, loaded{seq: seq, index: i, phrase: ph, prompt: prompt})
	p.mu.Unlock()
}

// loaded is a phrase load result.
type loaded struct {
	seq    uint64
	index  int // -1 for the background
	phrase Phrase
	prompt *media.Prompt // nil when loading failed: skip it
}

// Process advances the player by one 20 ms tick. It implements
// media.Processor; the clock calls it between delivering the caller's
// audio and sending the caller what to hear.
func (p *Player) Process(now time.Time) {
	p.mu.Lock()
	in := p.inbox
	p.inbox.cmd, p.inbox.digits, p.inbox.interrupt = nil, p.inbox.digits[:0:0], false
	p.inbox.loaded, p.inbox.recFile, p.inbox.recDone = nil, nil, nil
	p.mu.Unlock()
	s := &p.st
	s.now = now
	if in.cmd != nil {
		s.start(p, in.cmd, in.seq)
	}
	for _, l := range in.loaded {
		s.onLoaded(l)
	}
	for _, r := range in.recFile {
		s.onRecordingOpened(p, r)
	}
	for _, r := range in.recDone {
		s.onRecordingClosed(p, r)
	}
	if in.interrupt {
		s.finish(p, ReasonInterrupted)
	}
	for _, d := range in.digits {
		s.digit(p, d)
	}
	s.tick(p)
}

// ReadFrame gives the caller's frame of this tick (media.FrameSource).
func (p *Player) ReadFrame(f *media.Frame) bool {
	return p.st.out.read(f)
}

// ReadEncoded copies the pre-encoded frame of this tick when it comes
// from a prompt (media.EncodedSource).
func (p *Player) ReadEncoded(c media.Codec, dst []byte) bool {
	return p.st.out.readEncoded(c, dst)
}

// WriteFrame receives the caller's audio of this tick (media.FrameSink).
func (p *Player) WriteFrame(f *media.Frame) {
	p.st.hear(p, f)
}
