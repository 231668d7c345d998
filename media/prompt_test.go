package media

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	_ FrameSource   = (*PromptPlayer)(nil)
	_ EncodedSource = (*PromptPlayer)(nil)
)

// rampPrompt returns a prompt whose sample i is i+1 (so none is silence).
func rampPrompt(n int) *Prompt {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(i + 1)
	}
	return NewPrompt(pcm)
}

func TestNewPrompt(t *testing.T) {
	src := []int16{1, 2, 3}
	p := NewPrompt(src)
	src[0] = 99 // the prompt keeps its own copy
	if p.Frames() != 1 || p.Duration() != FrameDuration || len(p.Samples()) != FrameSamples {
		t.Fatalf("frames %d, duration %v, samples %d", p.Frames(), p.Duration(), len(p.Samples()))
	}
	if s := p.Samples(); s[0] != 1 || s[2] != 3 || s[3] != 0 || s[159] != 0 {
		t.Errorf("samples %v...: want the input padded with silence", s[:5])
	}
	if p.Size() != 4*FrameSamples {
		t.Errorf("size %d", p.Size())
	}
	p = rampPrompt(2 * FrameSamples)
	var u, a [2 * FrameSamples]byte
	EncodePCMU(u[:], p.Samples())
	EncodePCMA(a[:], p.Samples())
	if !slices.Equal(p.pcmu, u[:]) || !slices.Equal(p.pcma, a[:]) {
		t.Error("pre-encoded bytes differ from EncodePCMU/EncodePCMA")
	}
	if e := NewPrompt(nil); e.Frames() != 0 || e.Duration() != 0 {
		t.Errorf("empty prompt: %d frames", e.Frames())
	}
}

// collect plays pl to the end (at most limit frames) and returns one
// entry per frame: the first sample, or -1 for a silent frame.
func collect(t *testing.T, pl *PromptPlayer, limit int) []int {
	t.Helper()
	var firsts []int
	var f Frame
	for range limit {
		if !pl.ReadFrame(&f) {
			return firsts
		}
		if f == (Frame{}) {
			firsts = append(firsts, -1)
		} else {
			firsts = append(firsts, int(f[0]))
		}
	}
	return firsts
}

func TestPromptPlayerRepeatAndPause(t *testing.T) {
	p := rampPrompt(2 * FrameSamples) // two frames: first samples 1 and 161
	tests := []struct {
		name string
		opts PlayOptions
		want []int
	}{
		{"once", PlayOptions{}, []int{1, 161}},
		{"repeat 1", PlayOptions{Repeat: 1}, []int{1, 161}},
		{"repeat 3", PlayOptions{Repeat: 3}, []int{1, 161, 1, 161, 1, 161}},
		{"repeat 2 pause 50ms", PlayOptions{Repeat: 2, Pause: 50 * time.Millisecond}, []int{1, 161, -1, -1, -1, 1, 161}},
		{"pause without repeat", PlayOptions{Pause: time.Second}, []int{1, 161}},
		{"pause 5ms rounds to none", PlayOptions{Repeat: 2, Pause: 5 * time.Millisecond}, []int{1, 161, 1, 161}},
		{"negative repeat and pause", PlayOptions{Repeat: -4, Pause: -time.Second}, []int{1, 161}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := NewPromptPlayer(p, tt.opts)
			got := collect(t, pl, 100)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("frames %v, want %v", got, tt.want)
			}
			if !pl.Done() {
				t.Error("not done after the last frame")
			}
			if pl.Position() != time.Duration(len(tt.want))*FrameDuration {
				t.Errorf("position %v", pl.Position())
			}
			if want := max(tt.opts.Repeat, 1); pl.Repetitions() != want {
				t.Errorf("repetitions %d, want %d", pl.Repetitions(), want)
			}
			var f Frame
			if pl.ReadFrame(&f) || pl.ReadEncoded(CodecPCMU, make([]byte, FrameSamples)) {
				t.Error("a frame after done")
			}
			pl.Reset()
			if pl.Done() || pl.Position() != 0 || !slices.Equal(collect(t, pl, 100), tt.want) {
				t.Error("Reset does not replay the same frames")
			}
		})
	}
}

func TestPromptPlayerDoneOnLastFrame(t *testing.T) {
	pl := NewPromptPlayer(rampPrompt(2*FrameSamples), PlayOptions{})
	var f Frame
	pl.ReadFrame(&f)
	if pl.Done() {
		t.Fatal("done after the first of two frames")
	}
	pl.ReadFrame(&f)
	if !pl.Done() {
		t.Fatal("not done once the last frame was handed out")
	}
}

func TestPromptPlayerLoop(t *testing.T) {
	pl := NewPromptPlayer(rampPrompt(FrameSamples), PlayOptions{Loop: true, Repeat: 2, Pause: 20 * time.Millisecond})
	got := collect(t, pl, 10)
	if want := []int{1, -1, 1, -1, 1, -1, 1, -1, 1, -1}; !slices.Equal(got, want) {
		t.Fatalf("frames %v, want %v", got, want)
	}
	if pl.Done() || pl.Repetitions() != 5 {
		t.Errorf("done %v, repetitions %d", pl.Done(), pl.Repetitions())
	}
}

func TestPromptPlayerEmpty(t *testing.T) {
	for _, p := range []*Prompt{nil, NewPrompt(nil)} {
		for _, opts := range []PlayOptions{{}, {Loop: true}, {Loop: true, Pause: time.Second}, {Repeat: 3, Pause: time.Second}} {
			pl := NewPromptPlayer(p, opts)
			var f Frame
			if !pl.Done() || pl.ReadFrame(&f) {
				t.Errorf("%+v: an empty prompt plays", opts)
			}
		}
	}
}

func TestPromptPlayerEncoded(t *testing.T) {
	p := rampPrompt(2 * FrameSamples)
	for _, c := range []Codec{CodecPCMU, CodecPCMA} {
		pl := NewPromptPlayer(p, PlayOptions{Repeat: 2, Pause: 20 * time.Millisecond})
		ref := NewPromptPlayer(p, PlayOptions{Repeat: 2, Pause: 20 * time.Millisecond})
		dst := make([]byte, FrameSamples+10)
		want := make([]byte, FrameSamples)
		var f Frame
		n := 0
		for pl.ReadEncoded(c, dst) {
			if !ref.ReadFrame(&f) {
				t.Fatal("encoded player plays longer")
			}
			c.Encode(want, f[:])
			if !slices.Equal(dst[:FrameSamples], want) {
				t.Fatalf("%v frame %d differs from encoding ReadFrame's", c, n)
			}
			n++
		}
		if n != 5 || ref.ReadFrame(&f) {
			t.Errorf("%v: %d frames, want 5", c, n)
		}
	}
	// No codec or a short buffer: false without advancing.
	pl := NewPromptPlayer(p, PlayOptions{})
	if pl.ReadEncoded(CodecNone, make([]byte, FrameSamples)) || pl.ReadEncoded(CodecPCMU, make([]byte, 10)) {
		t.Fatal("ReadEncoded true for CodecNone or a short dst")
	}
	if pl.Position() != 0 {
		t.Fatal("a refused ReadEncoded advanced the player")
	}
	// Mixing both calls shares one position.
	var f Frame
	pl.ReadFrame(&f)
	dst := make([]byte, FrameSamples)
	if !pl.ReadEncoded(CodecPCMU, dst) || dst[0] != p.pcmu[FrameSamples] || !pl.Done() {
		t.Error("ReadEncoded after ReadFrame did not give the second frame")
	}
}

func TestPromptPlayerConcurrentStatus(t *testing.T) {
	// Done and Position are read by other goroutines while the clock
	// plays (run with -race).
	pl := NewPromptPlayer(rampPrompt(10*FrameSamples), PlayOptions{Repeat: 3})
	var wg sync.WaitGroup
	wg.Go(func() {
		var f Frame
		for pl.ReadFrame(&f) {
		}
	})
	for !pl.Done() {
		_ = pl.Position()
		_ = pl.Repetitions()
	}
	wg.Wait()
	if pl.Position() != 30*FrameDuration {
		t.Errorf("position %v", pl.Position())
	}
}

// BenchmarkPromptPlayerEncoded is the per-frame cost of playing a cached
// prompt to a PCMU leg: one op is one 20 ms frame.
func BenchmarkPromptPlayerEncoded(b *testing.B) {
	pl := NewPromptPlayer(rampPrompt(50*FrameSamples), PlayOptions{Loop: true, Pause: 100 * time.Millisecond})
	dst := make([]byte, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		pl.ReadEncoded(CodecPCMU, dst)
	}
}

// BenchmarkPromptPlayerFrame is the per-frame cost of reading PCM (for
// mixers, recorders and transcoding).
func BenchmarkPromptPlayerFrame(b *testing.B) {
	pl := NewPromptPlayer(rampPrompt(50*FrameSamples), PlayOptions{Loop: true})
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		pl.ReadFrame(&f)
	}
}

// ExamplePromptPlayer plays a prompt twice with a pause between, the way
// a phrase with repeat 2 and repeatPause 0.04 plays to a PCMU leg: the
// endpoint's clock calls ReadEncoded once per 20 ms tick.
func ExamplePromptPlayer() {
	p := NewPrompt(make([]int16, 2*FrameSamples)) // 40 ms
	pl := NewPromptPlayer(p, PlayOptions{Repeat: 2, Pause: 40 * time.Millisecond})
	payload := make([]byte, FrameSamples)
	ticks := 0
	for pl.ReadEncoded(CodecPCMU, payload) {
		ticks++
	}
	fmt.Println(ticks, pl.Position(), pl.Repetitions(), pl.Done())
	// Output: 6 120ms 2 true
}
