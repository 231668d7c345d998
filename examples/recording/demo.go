package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// The demo's tones and RTP ports (the root tests use 42000-45999).
const (
	hzA, hzB               = 440, 1000
	demoRTPMin, demoRTPMax = 48800, 49199
)

// wantCallbacks is the examples document's recording flow, callback by
// callback: recordingReady comes after sessionCompleted.
var wantCallbacks = []string{
	"newCall", "callAnswered", "callEvent:callingPartyDrop", "sessionCompleted", "recordingReady",
}

// runDemo records a call between two test phones on loopback (A 440 Hz,
// B 1000 Hz), prints each callback and step to out, fetches the recording
// like GET /promptfile and checks its length and that it holds both
// parties: channels 1 checks the mix, 2 each party on its own channel.
func runDemo(ctx context.Context, out io.Writer, verbose bool, channels int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p := &printer{w: out, start: time.Now()}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "recording-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	a, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "userA", ToneHz: hzA, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "userB", ToneHz: hzB, Logger: logger})
	if err != nil {
		return err
	}
	defer b.Close()

	callbacks := newSeen()
	ready := make(chan *mediaserver.RecordingReadyRequest, 1)
	h := &Recorder{To: b.URI(), Prefix: "demo", Channels: channels, Log: p.logf,
		OnReady: func(req *mediaserver.RecordingReadyRequest) {
			select {
			case ready <- req:
			default:
			}
		}}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: traced{h, callbacks}, SIPAddr: "127.0.0.1:0", RTPPortMin: demoRTPMin, RTPPortMax: demoRTPMax,
		Logger: logger, DataDir: dataDir,
	})
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx) }()
	defer func() {
		_ = srv.Close()
		<-serveErr
	}()
	select {
	case <-srv.Ready():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	target := fmt.Sprintf("sip:rec@%s", srv.SIPAddr())
	p.logf("server on %s, recordings in %s", srv.SIPAddr(), dataDir)

	// Step 1: A calls; the server connects A with B and records.
	p.step("1/3 A (%d Hz) dials %s; the call to B (%d Hz) is recorded, %d channel(s)", hzA, target, hzB, channels)
	start := time.Now()
	ca, err := a.Dial(ctx, target, mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("dial from A: %w", err)
	}
	cb, err := b.Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at B: %w", err)
	}
	if err := hears(ctx, "A", ca, hzB, "B"); err != nil {
		return err
	}
	if err := hears(ctx, "B", cb, hzA, "A"); err != nil {
		return err
	}
	if _, err := listen(ctx, ca, 2*time.Second); err != nil { // let them talk
		return err
	}
	p.ok("A and B talked for 2 s")

	// Step 2: A hangs up; B is dropped; sessionCompleted, then recordingReady.
	p.step("2/3 A hangs up")
	if err := ca.Hangup(ctx); err != nil {
		return fmt.Errorf("hangup of A: %w", err)
	}
	callLen := time.Since(start).Seconds()
	if err := hungUp(ctx, "B", cb); err != nil {
		return err
	}
	var rr *mediaserver.RecordingReadyRequest
	select {
	case rr = <-ready:
	case <-ctx.Done():
		return fmt.Errorf("no recordingReady (callbacks: %s): %w", strings.Join(callbacks.all(), ", "), ctx.Err())
	}
	if err := callbacks.wait(ctx, "recordingReady"); err != nil {
		return err
	}
	if got := callbacks.all(); !slices.Equal(got, wantCallbacks) {
		return fmt.Errorf("callbacks out of order:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(wantCallbacks, ", "))
	}
	p.ok("B got BYE; sessionCompleted, then recordingReady for %s", rr.Filename)

	// Step 3: fetch the recording and check it.
	p.step("3/3 fetch %s (GET /promptfile) and check it", rr.Filename)
	w, size, err := fetch(srv, rr.Filename)
	if err != nil {
		return err
	}
	if err := checkRecording(w, size, rr, channels, callLen); err != nil {
		return err
	}
	dur := float64(len(w.Channels[0])) / float64(w.SampleRate)
	p.ok("%s: %d bytes, %d Hz, %d channel(s), %.2f s for a call of %.2f s", rr.Filename, size, w.SampleRate, len(w.Channels), dur, callLen)
	for i, ch := range w.Channels {
		mid := ch[len(ch)/4 : 3*len(ch)/4]
		p.ok("channel %d: A's %d Hz is %.0f%% of it, B's %d Hz %.0f%%", i+1, hzA, 100*mediaservertest.ToneShare(mid, hzA), hzB, 100*mediaservertest.ToneShare(mid, hzB))
	}
	for _, tr := range srv.RecentTraces() {
		fmt.Fprintf(out, "\nCall flow of session %s (Mermaid):\n%s", tr.SessionID, tr.Diagram)
	}
	p.logf("demo passed")
	return nil
}

// fetch reads a recording from prompt storage and decodes it.
func fetch(srv *mediaserver.Server, name string) (*mediaservertest.WAV, int64, error) {
	f, _, err := srv.OpenPrompt(name)
	if err != nil {
		return nil, 0, fmt.Errorf("open recording: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read recording: %w", err)
	}
	w, err := mediaservertest.DecodeWAV(data)
	if err != nil {
		return nil, 0, fmt.Errorf("decode recording: %w", err)
	}
	return w, int64(len(data)), nil
}

// checkRecording checks a recording against its recordingReady and the
// call: the same size and duration, about as long as the call, and both
// parties' tones in the middle half (where both surely talked).
func checkRecording(w *mediaservertest.WAV, size int64, rr *mediaserver.RecordingReadyRequest, channels int, callLen float64) error {
	if rr.Format != "wav" || rr.Size != size {
		return fmt.Errorf("recordingReady says %s of %d bytes; the file is %d bytes", rr.Format, rr.Size, size)
	}
	if len(w.Channels) != channels || w.SampleRate != mediaservertest.SampleRate || len(w.Channels[0]) == 0 {
		return fmt.Errorf("recording has %d channels at %d Hz, want %d at %d Hz", len(w.Channels), w.SampleRate, channels, mediaservertest.SampleRate)
	}
	dur := float64(len(w.Channels[0])) / float64(w.SampleRate)
	if math.Abs(dur-rr.Duration) > 0.1 {
		return fmt.Errorf("recording lasts %.2f s; recordingReady says %.2f s", dur, rr.Duration)
	}
	// The recording is written by the server's 20 ms media clock, which
	// drops ticks when the machine starves it of CPU for 100 ms or more;
	// the tolerance allows for a loaded CI machine.
	if dur > callLen+0.5 || dur < callLen/2 {
		return fmt.Errorf("recording lasts %.2f s for a call of %.2f s", dur, callLen)
	}
	mid := func(x []int16) []int16 { return x[len(x)/4 : 3*len(x)/4] }
	if channels == 1 {
		m := mid(w.Channels[0])
		if sa, sb := mediaservertest.ToneShare(m, hzA), mediaservertest.ToneShare(m, hzB); sa < 0.2 || sb < 0.2 {
			return fmt.Errorf("the mix lacks a party: A's %d Hz share %.2f, B's %d Hz share %.2f", hzA, sa, hzB, sb)
		}
		return nil
	}
	l, r := mid(w.Channels[0]), mid(w.Channels[1])
	if sa, sb := mediaservertest.ToneShare(l, hzA), mediaservertest.ToneShare(r, hzB); sa < 0.6 || sb < 0.6 {
		return fmt.Errorf("channel 1 holds A's %d Hz at share %.2f, channel 2 B's %d Hz at %.2f", hzA, sa, hzB, sb)
	}
	return nil
}

// checkTimeout bounds each audio check, generously for a loaded machine.
const checkTimeout = 20 * time.Second

// hears waits until call (of who) hears the tone hz of what.
func hears(ctx context.Context, who string, call *mediaservertest.Call, hz float64, what string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := call.WaitHeard(ctx, hz, 0.5); err != nil {
		return fmt.Errorf("%s does not hear %s (%v Hz): %w", who, what, hz, err)
	}
	return nil
}

// hungUp waits until the server hangs up call (of who) with a BYE.
func hungUp(ctx context.Context, who string, call *mediaservertest.Call) error {
	r, err := call.WaitEnded(ctx)
	if err != nil {
		return fmt.Errorf("the server did not hang %s up: %w", who, err)
	}
	if r != mediaservertest.EndRemoteBye {
		return fmt.Errorf("%s's call ended with %v, want a BYE from the server", who, r)
	}
	return nil
}

// listen returns the next d of audio call hears.
func listen(ctx context.Context, call *mediaservertest.Call, d time.Duration) (mediaservertest.Audio, error) {
	mark := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if a := call.HeardSince(mark); a.Duration() >= d {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return mediaservertest.Audio{}, fmt.Errorf("%s: no audio: %w", call, ctx.Err())
		case <-tick.C:
		}
	}
}

// printer prints timestamped lines; safe for concurrent use.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%6.2fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func (p *printer) step(format string, args ...any) { p.logf("STEP "+format, args...) }
func (p *printer) ok(format string, args ...any)   { p.logf("  ok "+format, args...) }

// seen records what happened, in order, and lets the demo wait for it.
type seen struct {
	mu      sync.Mutex
	list    []string
	changed chan struct{} // closed and replaced by add
}

func newSeen() *seen { return &seen{changed: make(chan struct{})} }

func (s *seen) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, name)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// wait blocks until name was added or ctx is done.
func (s *seen) wait(ctx context.Context, name string) error {
	for {
		s.mu.Lock()
		found, changed := slices.Contains(s.list, name), s.changed
		s.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (so far: %s): %w", name, strings.Join(s.all(), ", "), ctx.Err())
		}
	}
}

// traced is the Recorder handler recording the name of each callback
// after it ran.
type traced struct {
	*Recorder
	seen *seen
}

func (t traced) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	defer t.seen.add("newCall")
	return t.Recorder.NewCall(ctx, req)
}

func (t traced) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	defer t.seen.add("callEvent:" + req.Event)
	return t.Recorder.CallEvent(ctx, req)
}

func (t traced) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	defer t.seen.add("getIvrCommand")
	return t.Recorder.GetIvrCommand(ctx, req)
}

func (t traced) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	defer t.seen.add("callNotify:" + req.Event)
	return t.Recorder.CallNotify(ctx, req)
}

func (t traced) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	defer t.seen.add("callAnswered")
	return t.Recorder.CallAnswered(ctx, req)
}

func (t traced) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	defer t.seen.add("sessionCompleted")
	return t.Recorder.SessionCompleted(ctx, req)
}

func (t traced) RecordingReady(ctx context.Context, req *mediaserver.RecordingReadyRequest) error {
	defer t.seen.add("recordingReady")
	return t.Recorder.RecordingReady(ctx, req)
}
