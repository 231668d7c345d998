package ivr

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// fakeLoader returns tone prompts by file name; "bad" fails.
type fakeLoader struct{ prompts map[string]*media.Prompt }

func (l fakeLoader) Load(_ context.Context, p Phrase) (*media.Prompt, error) {
	if pr, ok := l.prompts[p.FileName]; ok {
		return pr, nil
	}
	return nil, errors.New("no such prompt")
}

func tonePrompt(freq float64, d time.Duration) *media.Prompt {
	n := int(d.Seconds() * media.SampleRate)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return media.NewPrompt(pcm)
}

var testPrompts = fakeLoader{prompts: map[string]*media.Prompt{
	"greet": tonePrompt(500, time.Second),
	"bye":   tonePrompt(700, 500*time.Millisecond),
	"music": tonePrompt(900, 200*time.Millisecond),
}}

// dirStore creates recordings in a directory.
type dirStore string

func (d dirStore) Create(name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(string(d), name), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
}

// rig drives a player tick by tick on a fake clock.
type rig struct {
	t       *testing.T
	p       *Player
	now     time.Time
	ticks   int
	mu      sync.Mutex
	results []Result
	heard   []float64 // dominant test frequency of each tick's output, 0 for silence
}

func newRig(t *testing.T, store RecordingStore) *rig {
	r := &rig{t: t, now: time.Unix(1000, 0)}
	r.p = NewPlayer(PlayerConfig{
		Loader:     testPrompts,
		Recordings: store,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnResult: func(res Result) {
			r.mu.Lock()
			r.results = append(r.results, res)
			r.mu.Unlock()
		},
	})
	t.Cleanup(func() { _ = r.p.Close() })
	return r
}

// execute runs cmd and waits until its loads reached the player's inbox,
// so that the fake clock alone decides what happens next.
func (r *rig) execute(c Command) {
	r.t.Helper()
	r.p.Execute(c)
	want := len(c.Phrases)
	if c.Background != nil {
		want++
	}
	if c.Record != nil {
		want++
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.p.mu.Lock()
		n := len(r.p.inbox.loaded) + len(r.p.inbox.recFile)
		r.p.mu.Unlock()
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("loads did not arrive (%d of %d)", n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// step runs n ticks, feeding the caller audio f (nil: silence).
func (r *rig) step(n int, f *media.Frame) {
	for range n {
		if f != nil {
			r.p.WriteFrame(f)
		} else {
			r.p.WriteFrame(&media.Frame{})
		}
		r.p.Process(r.now)
		var out media.Frame
		hz := 0.0
		if r.p.ReadFrame(&out) {
			for _, f := range []float64{500, 700, 900, 1000} {
				if media.ToneShare(out[:], f) > 0.8 {
					hz = f
				}
			}
		}
		r.heard = append(r.heard, hz)
		r.now = r.now.Add(media.FrameDuration)
		r.ticks++
	}
}

func (r *rig) result() (Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		return Result{}, false
	}
	return r.results[len(r.results)-1], true
}

// waitResult waits for a result that arrives off the clock (recordings).
func (r *rig) waitResult() Result {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if res, ok := r.result(); ok {
			return res
		}
		if time.Now().After(deadline) {
			r.t.Fatal("no result")
		}
		r.step(1, nil)
		time.Sleep(time.Millisecond)
	}
}

func (r *rig) noResult() {
	r.t.Helper()
	if res, ok := r.result(); ok {
		r.t.Fatalf("unexpected result %+v after %d ticks", res, r.ticks)
	}
}

func TestMaxDigitsDuringPhrases(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "greet"}}, Dtmf: &Collect{MaxDigits: 2}})
	r.step(10, nil)
	r.p.Digit('4')
	r.step(1, nil)
	r.noResult()
	r.p.Digit('2')
	r.step(1, nil)
	res, ok := r.result()
	if !ok || res.Reason != ReasonDTMF || res.Digits != "42" || res.DigitsReason != DtmfMaxDigits {
		t.Fatalf("result %+v, want dtmf 42 maxDigits", res)
	}
	// Without bargeIn the phrase plays on until a new command comes.
	r.step(5, nil)
	if r.heard[len(r.heard)-1] != 500 {
		t.Errorf("the greeting stopped at the result: %v", r.heard[len(r.heard)-5:])
	}
}

func TestEmptyDtmfMeansOneDigit(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Dtmf: &Collect{}})
	r.step(3, nil)
	r.p.Digit('7')
	r.step(1, nil)
	if res, _ := r.result(); res.Digits != "7" || res.DigitsReason != DtmfMaxDigits {
		t.Fatalf("result %+v, want 7 maxDigits", res)
	}
}

func TestTerminationKey(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Dtmf: &Collect{MaxDigits: 5, TerminationKey: '#'}})
	for _, d := range []byte("12#") {
		r.p.Digit(d)
		r.step(1, nil)
	}
	if res, _ := r.result(); res.Digits != "12" || res.DigitsReason != DtmfTerminationKey {
		t.Fatalf("result %+v, want 12 terminationKey", res)
	}
}

// TestFirstDigitTimeout: the timeout counts from the end of the phrases.
func TestFirstDigitTimeout(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "greet"}}, Dtmf: &Collect{Timeout: 3 * time.Second}})
	r.step(50+148, nil) // 1 s of greeting + 2.96 s
	r.noResult()
	r.step(3, nil)
	if res, ok := r.result(); !ok || res.DigitsReason != DtmfTimeout || res.Digits != "" {
		t.Fatalf("result %+v, want a timeout with no digits", res)
	}
}

func TestInterDigitTimeout(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Dtmf: &Collect{MaxDigits: 4, InterDigitTimeout: 2 * time.Second}})
	r.step(10, nil)
	r.p.Digit('1')
	r.step(99, nil)
	r.noResult()
	r.step(3, nil)
	if res, _ := r.result(); res.Digits != "1" || res.DigitsReason != DtmfTimeout {
		t.Fatalf("result %+v, want 1 after the inter-digit timeout", res)
	}
}

func TestBargeIn(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{
		Phrases: []Phrase{{Format: "file", FileName: "greet"}, {Format: "file", FileName: "bye"}},
		Dtmf:    &Collect{MaxDigits: 3}, BargeIn: true,
	})
	r.step(10, nil)
	r.p.Digit('9')
	r.step(2, nil)
	if last := r.heard[len(r.heard)-1]; last != 0 {
		t.Fatalf("still playing %v Hz after a barge-in digit", last)
	}
	r.noResult() // collection goes on: 1 of 3 digits
}

func TestPhrasesInOrderAndSkipFailures(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "bye"}, {Format: "file", FileName: "bad"}, {Format: "file", FileName: "greet"}}})
	r.step(25+50+1, nil)
	want := append(append(repeat(700, 25), repeat(500, 50)...), 0)
	for i, hz := range want {
		if r.heard[i] != hz {
			t.Fatalf("tick %d played %v Hz, want %v (heard %v)", i, r.heard[i], hz, r.heard)
		}
	}
	if res, ok := r.result(); !ok || res.Reason != ReasonCompleted {
		t.Fatalf("result %+v, want commandCompleted when the phrases ended", res)
	}
}

func repeat(hz float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = hz
	}
	return out
}

// TestBackgroundLoop: the background prompt loops with repeatPause between
// repetitions, and a command with nothing else idles (no result).
func TestBackgroundLoop(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Background: &Phrase{Format: "file", FileName: "music", RepeatPause: 100 * time.Millisecond}})
	r.step(45, nil)
	want := append(append(append(repeat(900, 10), repeat(0, 5)...), repeat(900, 10)...), repeat(0, 5)...)
	for i, hz := range want {
		if r.heard[i] != hz {
			t.Fatalf("tick %d: %v Hz, want %v (heard %v)", i, r.heard[i], hz, r.heard[:45])
		}
	}
	r.noResult()
	// The next command's phrases interrupt the loop, then it resumes.
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "bye"}}})
	r.step(26, nil)
	if r.heard[45] != 700 || r.heard[70] != 900 {
		t.Fatalf("phrase then background: %v", r.heard[45:71])
	}
}

// TestGetIVRCommandAfter: a deadline counted from the end of the phrases
// (decision 15): the next request goes with reason timer.
func TestGetIVRCommandAfter(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Background: &Phrase{Format: "file", FileName: "music"}, After: 2 * time.Second})
	r.step(99, nil)
	r.noResult()
	r.step(2, nil)
	if res, ok := r.result(); !ok || res.Reason != ReasonTimer {
		t.Fatalf("result %+v, want timer after 2 s", res)
	}
	// With phrases and DTMF the deadline starts after the phrases and
	// wins over a longer DTMF timeout; the result carries the digits.
	r = newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "greet"}}, Dtmf: &Collect{MaxDigits: 4}, After: 2 * time.Second})
	r.step(50+10, nil)
	r.p.Digit('3')
	r.step(89, nil) // up to 2.98 s
	r.noResult()
	r.step(2, nil) // the deadline: 1 s of phrases + 2 s
	if res, ok := r.result(); !ok || res.Reason != ReasonTimer || res.Digits != "3" {
		t.Fatalf("result %+v, want timer with digits 3", res)
	}
}

func TestHangupAfterPhrases(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "bye"}}, Hangup: true})
	r.step(24, nil)
	r.noResult()
	r.step(2, nil)
	if res, ok := r.result(); !ok || !res.Hangup {
		t.Fatalf("result %+v, want hangup after the phrase", res)
	}
}

func TestInterruptAndReplace(t *testing.T) {
	r := newRig(t, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "greet"}}, Dtmf: &Collect{}})
	r.step(5, nil)
	r.execute(Command{Phrases: []Phrase{{Format: "file", FileName: "bye"}}})
	r.step(1, nil)
	if r.heard[5] != 700 {
		t.Fatalf("new command did not replace the old one at once: %v", r.heard)
	}
	r.noResult() // the replaced command reports nothing
	r.p.Interrupt()
	r.step(1, nil)
	if res, ok := r.result(); !ok || res.Reason != ReasonInterrupted {
		t.Fatalf("result %+v, want interrupted", res)
	}
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	tone := media.Frame{}
	for i := range tone {
		tone[i] = int16(6000 * math.Sin(2*math.Pi*1000*float64(i)/media.SampleRate))
	}
	t.Run("maxDuration with beep", func(t *testing.T) {
		r := newRig(t, dirStore(dir))
		r.execute(Command{Record: &Record{FileName: "a.wav", MaxDuration: time.Second, Beep: true}})
		r.step(beepFrames, &tone)
		for _, hz := range r.heard[:beepFrames] {
			if hz != 1000 {
				t.Fatalf("no beep before recording: %v", r.heard)
			}
		}
		r.step(50, &tone)
		res := r.waitResult()
		if res.Recording == nil || res.Recording.Reason != RecordMaxDuration || res.Recording.Duration != time.Second {
			t.Fatalf("result %+v", res.Recording)
		}
		data, err := os.ReadFile(filepath.Join(dir, "a.wav"))
		if err != nil {
			t.Fatal(err)
		}
		pcm, err := media.DecodeWAV(data)
		if err != nil || len(pcm) != media.SampleRate || media.ToneShare(pcm, 1000) < 0.9 {
			t.Fatalf("recording: %d samples, err %v", len(pcm), err)
		}
	})
	t.Run("termination key", func(t *testing.T) {
		r := newRig(t, dirStore(dir))
		r.execute(Command{Record: &Record{FileName: "b.wav", TerminationKey: '#'}})
		r.step(25, &tone)
		r.p.Digit('#')
		r.step(1, &tone)
		res := r.waitResult()
		if res.Recording == nil || res.Recording.Reason != RecordTerminationKey || res.Recording.Duration != 500*time.Millisecond {
			t.Fatalf("result %+v", res.Recording)
		}
	})
	t.Run("silence", func(t *testing.T) {
		r := newRig(t, dirStore(dir))
		r.execute(Command{Record: &Record{FileName: "c.wav", SilenceTimeout: time.Second}})
		r.step(20, &tone)
		r.step(50, nil)
		res := r.waitResult()
		if res.Recording == nil || res.Recording.Reason != RecordSilence {
			t.Fatalf("result %+v", res.Recording)
		}
	})
	t.Run("name taken", func(t *testing.T) {
		r := newRig(t, dirStore(dir))
		r.execute(Command{Record: &Record{FileName: "a.wav"}})
		r.step(1, nil)
		res := r.waitResult()
		if res.Recording == nil || res.Recording.Reason != "error" {
			t.Fatalf("result %+v, want an error result for a taken name", res.Recording)
		}
	})
}
