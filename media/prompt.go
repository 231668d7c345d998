package media

import (
	"sync/atomic"
	"time"
)

// Prompt is decoded audio ready to play: 16-bit PCM at 8 kHz mono padded
// with silence to whole 20 ms frames, and the same audio pre-encoded in
// PCMU and PCMA, so that playing it to a leg is a copy of ready bytes
// (see EncodedSource). A Prompt is immutable after NewPrompt and safe for
// concurrent use; any number of PromptPlayers may share one. It holds
// four bytes per sample (32 kB per second of audio).
type Prompt struct {
	pcm  []int16
	pcmu []byte
	pcma []byte
}

// NewPrompt returns a prompt of pcm (8 kHz mono samples), padded with
// silence to a whole number of frames. It copies pcm, which the caller
// keeps. An empty pcm gives a prompt of no frames.
func NewPrompt(pcm []int16) *Prompt {
	n := (len(pcm) + FrameSamples - 1) / FrameSamples * FrameSamples
	p := &Prompt{
		pcm:  make([]int16, n),
		pcmu: make([]byte, n),
		pcma: make([]byte, n),
	}
	copy(p.pcm, pcm)
	EncodePCMU(p.pcmu, p.pcm)
	EncodePCMA(p.pcma, p.pcm)
	return p
}

// Frames returns the number of 20 ms frames in p.
func (p *Prompt) Frames() int { return len(p.pcm) / FrameSamples }

// Duration returns the length of p, a whole number of frames.
func (p *Prompt) Duration() time.Duration { return time.Duration(p.Frames()) * FrameDuration }

// Samples returns the PCM samples of p (a multiple of FrameSamples). The
// slice is shared: the caller must not modify it.
func (p *Prompt) Samples() []int16 { return p.pcm }

// Size returns the memory p holds in bytes, for caches bounded by size.
func (p *Prompt) Size() int64 { return int64(len(p.pcm)) * 4 }

// PlayOptions says how a PromptPlayer plays its prompt. The zero value
// plays it once.
type PlayOptions struct {
	// Repeat is how many times to play the prompt; 0 and 1 play it once.
	Repeat int
	// Loop plays the prompt forever (background prompts, hold music);
	// Repeat is then ignored.
	Loop bool
	// Pause is silence between two repetitions (API.md repeatPause), never
	// after the last one. It is rounded to whole frames.
	Pause time.Duration
}

// PromptPlayer plays a Prompt as a FrameSource and an EncodedSource, one
// 20 ms frame per call, with repetitions, pauses and looping. Neither
// ReadFrame nor ReadEncoded allocates.
//
// ReadFrame, ReadEncoded and Reset must be called by one goroutine at a
// time (the media clock's); Done, Position and Repetitions may be called
// from any goroutine at any time.
type PromptPlayer struct {
	p         *Prompt
	frames    int // frames of the prompt
	pause     int // frames of silence between repetitions
	total     int // repetitions in all; 0 loops forever
	pos       int // frame in the current repetition, pause included
	rep       int // repetitions started and finished so far
	played    atomic.Int64
	repsDone  atomic.Int64
	done      atomic.Bool
	emptyLoop bool // an empty prompt: nothing to play, pauses included
}

// NewPromptPlayer returns a player of p at its start. A nil p plays
// nothing.
func NewPromptPlayer(p *Prompt, opts PlayOptions) *PromptPlayer {
	if p == nil {
		p = &Prompt{}
	}
	pl := &PromptPlayer{
		p:      p,
		frames: p.Frames(),
		pause:  int((opts.Pause + FrameDuration/2) / FrameDuration),
		total:  max(opts.Repeat, 1),
	}
	pl.pause = max(pl.pause, 0)
	if opts.Loop {
		pl.total = 0
	}
	pl.emptyLoop = pl.frames == 0
	pl.Reset()
	return pl
}

// Reset rewinds the player to the start of the first repetition.
func (pl *PromptPlayer) Reset() {
	pl.pos, pl.rep = 0, 0
	pl.played.Store(0)
	pl.repsDone.Store(0)
	pl.done.Store(pl.emptyLoop)
}

// Done reports whether every frame has been handed out. A looping player
// is never done, except over an empty prompt, which plays nothing (not
// even its pauses) and is done from the start.
func (pl *PromptPlayer) Done() bool { return pl.done.Load() }

// Position returns how much audio, pauses included, the player has handed
// out since it started or was reset.
func (pl *PromptPlayer) Position() time.Duration {
	return time.Duration(pl.played.Load()) * FrameDuration
}

// Repetitions returns how many repetitions of the prompt have been played
// to the end.
func (pl *PromptPlayer) Repetitions() int { return int(pl.repsDone.Load()) }

// next returns the sample offset of the next frame, or -1 for a pause
// frame, and advances; ok is false when the player is done.
func (pl *PromptPlayer) next() (off int, ok bool) {
	if pl.done.Load() {
		return 0, false
	}
	last := pl.total != 0 && pl.rep == pl.total-1
	span := pl.frames
	if !last {
		span += pl.pause
	}
	off = -1
	if pl.pos < pl.frames {
		off = pl.pos * FrameSamples
	}
	pl.pos++
	if pl.pos == pl.frames {
		pl.repsDone.Add(1)
	}
	if pl.pos >= span {
		pl.pos = 0
		pl.rep++
		if last {
			pl.done.Store(true)
		}
	}
	pl.played.Add(1)
	return off, true
}

// ReadFrame writes the next frame into f and returns true, or returns
// false once the player is done. It implements FrameSource.
func (pl *PromptPlayer) ReadFrame(f *Frame) bool {
	off, ok := pl.next()
	if !ok {
		return false
	}
	if off < 0 {
		*f = Frame{}
		return true
	}
	copy(f[:], pl.p.pcm[off:off+FrameSamples])
	return true
}

// ReadEncoded copies the next frame, pre-encoded in c, into dst and
// returns true. It returns false without advancing when the player is
// done, c is CodecNone or dst is shorter than FrameSamples. It implements
// EncodedSource.
func (pl *PromptPlayer) ReadEncoded(c Codec, dst []byte) bool {
	var enc []byte
	switch c {
	case CodecPCMU:
		enc = pl.p.pcmu
	case CodecPCMA:
		enc = pl.p.pcma
	default:
		return false
	}
	if len(dst) < FrameSamples {
		return false
	}
	off, ok := pl.next()
	if !ok {
		return false
	}
	dst = dst[:FrameSamples]
	if off < 0 {
		s := c.SilenceByte()
		for i := range dst {
			dst[i] = s
		}
		return true
	}
	copy(dst, enc[off:off+FrameSamples])
	return true
}
