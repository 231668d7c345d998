package ivr

import "github.com/mediaserver-go/mediaserver/media"

// outKind says where the frame of this tick comes from.
type outKind uint8

const (
	outSilence outKind = iota
	outPrompt          // frame index of a prompt: pre-encoded bytes available
	outPCM             // generated PCM (beep)
)

// output is the frame of the current tick.
type output struct {
	kind   outKind
	prompt *media.Prompt
	index  int
	pcm    media.Frame
}

func (o *output) silence() { o.kind = outSilence }

func (o *output) promptFrame(p *media.Prompt, i int) {
	o.kind, o.prompt, o.index = outPrompt, p, i
}

func (o *output) pcmFrom(src media.FrameSource) {
	o.kind = outPCM
	src.ReadFrame(&o.pcm)
}

func (o *output) read(f *media.Frame) bool {
	switch o.kind {
	case outPrompt:
		copy(f[:], o.prompt.PCMFrame(o.index))
		return true
	case outPCM:
		*f = o.pcm
		return true
	}
	return false
}

func (o *output) readEncoded(c media.Codec, dst []byte) bool {
	if o.kind != outPrompt {
		return false
	}
	b := o.prompt.EncodedFrame(c, o.index)
	if b == nil {
		return false
	}
	copy(dst, b)
	return true
}

// cursor walks a prompt frame by frame with repetitions and pauses.
type cursor struct {
	prompt *media.Prompt
	repeat int // total plays; 0 is forever
	pause  int // frames of silence between plays

	frame  int // next frame of the current play
	played int // plays completed
	paused int // pause frames left
}

// next emits the next frame into out and returns true, or returns false
// when every repetition was played (then out is untouched).
func (c *cursor) next(out *output) bool {
	if c.prompt == nil {
		return false
	}
	if c.paused > 0 {
		c.paused--
		out.silence()
		return true
	}
	if c.frame >= c.prompt.Frames() {
		c.played++
		c.frame = 0
		if c.repeat > 0 && c.played >= c.repeat {
			return false
		}
		if c.pause > 0 {
			c.paused = c.pause - 1
			out.silence()
			return true
		}
	}
	if c.prompt.Frames() == 0 {
		return false
	}
	out.promptFrame(c.prompt, c.frame)
	c.frame++
	return true
}

// restart starts a looping cursor over, after its pause.
func (c *cursor) restart() {
	c.frame, c.played, c.paused = 0, 0, 0
}
