package mediaserver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/media"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// toneWAV returns a WAV file of a tone, built without package media.
func toneWAV(freq float64, d time.Duration) []byte {
	n := int(d.Seconds() * 8000)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return mediaservertest.EncodeWAV(pcm)
}

func putPrompt(t *testing.T, srv *mediaserver.Server, name string, data []byte) {
	t.Helper()
	if _, err := srv.PutPrompt(context.Background(), name, bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
}

func file(name string) mediaserver.Phrase { return mediaserver.Phrase{Format: "file", FileName: name} }

// attendant is the auto-attendant flow of the examples document with tone
// prompts: greet (700 Hz), one digit, 2 → support, with a goodbye phrase
// (500 Hz) before the IVR hangs up.
type attendant struct {
	*recorder
	support string
	mu      sync.Mutex
	dtmf    []mediaserver.DtmfParams
	chosen  bool
}

func newAttendant(support string) *attendant {
	a := &attendant{recorder: newRecorder(), support: support}
	a.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	a.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if d := req.DtmfParams; d != nil {
			a.dtmf = append(a.dtmf, *d)
			if d.DtmfMatch == "2" {
				a.chosen = true
				return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{file("bye")}, Hangup: true}, nil
			}
		}
		return mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: []mediaserver.Phrase{file("greet")}}, nil
	}
	a.CallEventFunc = func(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if req.Event == mediaserver.EventCalledPartyDrop && a.chosen {
			a.chosen = false
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: a.support}, nil
		}
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	return a
}

// TestAutoAttendant runs the auto-attendant flow of the examples document
// and checks the callback order of API.md §8.1 and who hears what.
func TestAutoAttendant(t *testing.T) {
	for _, mode := range []struct {
		name string
		dtmf mediaservertest.DTMFMode
		mod  func(*mediaservertest.PhoneConfig)
	}{
		{"rfc4733", mediaservertest.DTMFRFC4733, nil},
		{"sip info", mediaservertest.DTMFInfo, nil},
		{"in-band", mediaservertest.DTMFInband, func(c *mediaservertest.PhoneConfig) { c.DisableTelephoneEvent = true }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			support := newPhone(t, "support", 1000)
			var mods []func(*mediaservertest.PhoneConfig)
			if mode.mod != nil {
				mods = append(mods, mode.mod)
			}
			caller := newPhone(t, "alice", 0, mods...)
			h := newAttendant(support.URI())
			srv := startServer(t, h, func(c *mediaserver.Config) { c.InbandDTMF = true })
			putPrompt(t, srv, "greet.wav", toneWAV(700, 1500*time.Millisecond))
			putPrompt(t, srv, "bye.wav", toneWAV(500, 500*time.Millisecond))

			call, err := caller.Dial(ctx, serverURI(srv, "attendant"), mediaservertest.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
				t.Fatalf("caller does not hear the greeting: %v", err)
			}
			if err := call.SendDigits(ctx, "2", mode.dtmf); err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 500, 0.5); err != nil {
				t.Fatalf("caller does not hear the goodbye phrase: %v", err)
			}
			in, err := support.Incoming(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
				t.Fatalf("caller does not hear support: %v", err)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := in.WaitEnded(ctx); err != nil {
				t.Fatal(err)
			}
			h.wait(ctx, t, "sessionCompleted")
			wantEvents(t, h.Events(), "newCall", "callAnswered", "getIvrCommand", "getIvrCommand",
				"callEvent:calledPartyDrop:hangup", "callAnswered", "callEvent:callingPartyDrop:hangup", "sessionCompleted")
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.dtmf) != 1 || h.dtmf[0].DtmfMatch != "2" || h.dtmf[0].Reason != "maxDigits" {
				t.Errorf("dtmfParams %+v, want one {2 maxDigits}", h.dtmf)
			}
		})
	}
}

// TestIvrBadPhrases: phrases that cannot play (unknown format, missing
// file, 404, HTML, corrupt WAV) are skipped with a log line; the good
// phrase after them plays and the command completes.
func TestIvrBadPhrases(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>hello</html>"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(web.Close)
	caller := newPhone(t, "alice", 0)
	h := newRecorder()
	var mu sync.Mutex
	var reasons []string
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	h.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		mu.Lock()
		reasons = append(reasons, req.Reason)
		mu.Unlock()
		if req.Reason != "connected" {
			return mediaserver.IvrCommand{}, nil // idle
		}
		return mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{
			{Format: "googletts"},
			{Format: "telepathy"},
			file("missing"),
			file("corrupt.wav"),
			file("corrupt.mp3"),
			{Format: "url", URL: web.URL + "/gone.wav"},
			{Format: "url", URL: web.URL + "/page"},
			file("good"),
		}}, nil
	}
	logs := &skipLog{}
	srv := startServer(t, h, func(c *mediaserver.Config) { c.Logger = slog.New(logs) })
	putPrompt(t, srv, "corrupt.wav", []byte("RIFF\x10\x00\x00\x00WAVEjunkjunkjunk"))
	putPrompt(t, srv, "corrupt.mp3", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"), bytes.Repeat([]byte{0x55}, 600)...))
	putPrompt(t, srv, "good.wav", toneWAV(700, time.Second))
	call, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatalf("the good phrase does not play: %v", err)
	}
	for {
		mu.Lock()
		n := len(reasons)
		mu.Unlock()
		if n >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no getIvrCommand after the phrases: %v", reasons)
		case <-time.After(20 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reasons[1] != "commandCompleted" {
		t.Errorf("second getIvrCommand reason %q, want commandCompleted", reasons[1])
	}
	// One clear log line per bad phrase, naming it and why.
	for _, want := range []string{"googletts", "telepathy", "missing", "corrupt.wav", "corrupt.mp3", "/gone.wav", "/page"} {
		if !logs.has(want) {
			t.Errorf("no \"phrase skipped\" log line names %q; got:\n%s", want, strings.Join(logs.lines(), "\n"))
		}
	}
}

// skipLog is a slog.Handler that keeps the "phrase skipped" lines, as
// text, for the test to read.
type skipLog struct {
	mu   sync.Mutex
	recs []string
}

func (l *skipLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *skipLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *skipLog) WithGroup(string) slog.Handler            { return l }
func (l *skipLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "phrase skipped" {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *skipLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

func (l *skipLog) has(s string) bool {
	for _, line := range l.lines() {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// ivrHandler answers newCall with ivr and getIvrCommand with the commands
// of script in turn (then idles), recording every request.
type ivrHandler struct {
	*recorder
	mu       sync.Mutex
	requests []mediaserver.IvrCommandRequest
	got      chan mediaserver.IvrCommandRequest
}

func newIvrHandler(script ...mediaserver.IvrCommand) *ivrHandler {
	h := &ivrHandler{recorder: newRecorder(), got: make(chan mediaserver.IvrCommandRequest, 16)}
	h.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
	}
	h.GetIvrCommandFunc = func(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
		h.mu.Lock()
		n := len(h.requests)
		h.requests = append(h.requests, *req)
		h.mu.Unlock()
		h.got <- *req
		if n < len(script) {
			return script[n], nil
		}
		return mediaserver.IvrCommand{}, nil
	}
	return h
}

// next waits for the next getIvrCommand request.
func (h *ivrHandler) next(ctx context.Context, t *testing.T) mediaserver.IvrCommandRequest {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-ctx.Done():
		t.Fatalf("no getIvrCommand: %v", ctx.Err())
		return mediaserver.IvrCommandRequest{}
	}
}

// TestIvrRecord: a record command records the caller's audio into a WAV
// in prompt storage; recordParams report it.
func TestIvrRecord(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	caller := newPhone(t, "alice", 440)
	h := newIvrHandler(mediaserver.IvrCommand{Record: &mediaserver.RecordCommand{FileName: "message", MaxDuration: 1.5, Beep: true}})
	srv := startServer(t, h)
	call, err := caller.Dial(ctx, serverURI(srv, "voicemail"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
		t.Fatalf("no beep: %v", err)
	}
	h.next(ctx, t) // connected
	req := h.next(ctx, t)
	rp := req.RecordParams
	if rp == nil || rp.FileName != "message.wav" || rp.Reason != "maxDuration" || math.Abs(rp.Duration-1.5) > 0.01 {
		t.Fatalf("recordParams %+v", rp)
	}
	f, _, err := srv.OpenPrompt("message.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := mediaservertest.ReadWAV(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := w.Channels[0]
	if d := float64(len(got)) / 8000; math.Abs(d-1.5) > 0.05 {
		t.Errorf("recording lasts %.2f s, want 1.5", d)
	}
	if s := mediaservertest.ToneShare(got, 440); s < 0.8 {
		t.Errorf("recording has the caller's 440 Hz at share %.2f", s)
	}
}

// TestIvrSpeechNoFalseDigits: with in-band detection on, a caller whose
// audio is speech produces no digit: collection times out empty.
func TestIvrSpeechNoFalseDigits(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	caller := newPhone(t, "alice", 0, func(c *mediaservertest.PhoneConfig) {
		c.WAV = "media/testdata/speech-en.wav"
		c.DisableTelephoneEvent = true
	})
	h := newIvrHandler(mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 4, Timeout: 4}})
	srv := startServer(t, h, func(c *mediaserver.Config) { c.InbandDTMF = true })
	if _, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{}); err != nil {
		t.Fatal(err)
	}
	h.next(ctx, t)
	req := h.next(ctx, t)
	if d := req.DtmfParams; d == nil || d.DtmfMatch != "" || d.Reason != "timeout" {
		t.Fatalf("dtmfParams %+v, want an empty timeout", d)
	}
}

// TestIvrMissingTTS: an awstts phrase without a TTS engine is skipped with
// a log line and the command goes on.
func TestIvrMissingTTS(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	caller := newPhone(t, "alice", 0)
	h := newIvrHandler(mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{
		{Format: "awstts", AwsTTSParameters: &mediaserver.AwsTTSParameters{Text: "Hello"}},
		file("tone"),
	}})
	srv := startServer(t, h, func(c *mediaserver.Config) {
		c.TTS = ivr.SynthesizerFunc(func(context.Context, ivr.TTSRequest) (*media.Prompt, error) {
			return nil, fmt.Errorf("espeak-ng: %w", ivr.ErrEngineMissing)
		})
		c.DisablePolly = true
	})
	putPrompt(t, srv, "tone.wav", toneWAV(700, time.Second))
	call, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitHeard(ctx, 700, 0.5); err != nil {
		t.Fatal(err)
	}
	h.next(ctx, t)
	if r := h.next(ctx, t); r.Reason != "commandCompleted" {
		t.Fatalf("reason %q after the phrases", r.Reason)
	}
}

// TestIvrSpeaks: with espeak-ng installed, an awstts greeting is heard as
// speech (energy well above silence).
func TestIvrSpeaks(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed")
	}
	ctx := testCtx(t, 30*time.Second)
	caller := newPhone(t, "alice", 0)
	h := newIvrHandler(mediaserver.IvrCommand{Phrases: []mediaserver.Phrase{
		{Format: "awstts", AwsTTSParameters: &mediaserver.AwsTTSParameters{Text: "Welcome. Press 1 for sales and 2 for support.", LanguageCode: "en-US"}},
	}})
	srv := startServer(t, h, func(c *mediaserver.Config) { c.DisablePolly = true })
	call, err := caller.Dial(ctx, serverURI(srv, "ivr"), mediaservertest.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.next(ctx, t)
	h.next(ctx, t) // after the phrase
	heard := call.Heard()
	if heard.Duration() < 2*time.Second || heard.Level() < -35 {
		t.Fatalf("heard %v at %.1f dBFS; want seconds of speech", heard.Duration(), heard.Level())
	}
}
