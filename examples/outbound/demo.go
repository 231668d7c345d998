package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// The demo's tones and RTP ports (the root tests use 42000-45999). The
// server's ringback is the ETSI tone, 425 Hz.
const (
	hzDevice, hzARC, hzRingback = 440, 1000, 425
	demoRTPMin, demoRTPMax      = 49600, 49999
)

// wantCallbacks is the examples document's /placeivrcall flow, callback by
// callback, ending with the device hanging up.
var wantCallbacks = []string{
	"callNotify:ringing", "callAnswered", "getIvrCommand", // the device
	"callNotify:ringing", "callAnswered", // the ARC
	"callEvent:callingPartyDrop", "sessionCompleted",
}

// runDemo runs the /placeivrcall flow with two test phones on loopback
// that ring before they answer, prints each callback and step to out, and
// checks by their tones (device 440 Hz, ARC 1000 Hz) that the device hears
// ringback while the ARC rings, and then that they hear each other.
func runDemo(ctx context.Context, out io.Writer, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p := &printer{w: out, start: time.Now()}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "outbound-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	device, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "alarm-17", ToneHz: hzDevice,
		RingFor: 300 * time.Millisecond, Logger: logger})
	if err != nil {
		return err
	}
	defer device.Close()
	arc, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "arc", ToneHz: hzARC,
		RingFor: 2 * time.Second, Logger: logger}) // long enough to hear the ringback
	if err != nil {
		return err
	}
	defer arc.Close()

	callbacks := newSeen()
	h := &Outbound{ARC: arc.URI(), CallerID: "alarm-service", Log: p.logf}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: traced{h, callbacks}, SIPAddr: "127.0.0.1:0", RTPPortMin: demoRTPMin, RTPPortMax: demoRTPMax,
		Logger: logger, DataDir: dataDir,
	})
	if err != nil {
		return err
	}
	h.Server = srv
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
	p.logf("server on %s", srv.SIPAddr())

	// Step 1: the server calls the device; it rings and answers.
	p.step("1/3 placeivrcall to the device (%d Hz), which rings and answers", hzDevice)
	sid, err := h.Place(ctx, device.URI())
	if err != nil {
		return err
	}
	cd, err := device.Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at the device: %w", err)
	}
	if got := cd.Header("From"); !strings.Contains(got, "alarm-service") {
		return fmt.Errorf("the device sees From %q, want the caller ID alarm-service", got)
	}
	from, _, _ := strings.Cut(cd.Header("From"), ";")
	p.ok("the device answered a call from %s", from)

	// Step 2: the IVR's getIvrCommand is answered with a call to the ARC.
	p.step("2/3 getIvrCommand → call the ARC (%d Hz), which rings, then answers", hzARC)
	if err := callbacks.waitN(ctx, "callNotify:ringing", 2); err != nil {
		return err
	}
	ca, err := arc.Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at the ARC: %w", err)
	}
	if err := hears(ctx, "the device", cd, hzARC, "the ARC"); err != nil {
		return err
	}
	if err := hears(ctx, "the ARC", ca, hzDevice, "the device"); err != nil {
		return err
	}
	ringback, err := heardBefore(cd.Heard(), hzRingback, hzARC)
	if err != nil {
		return fmt.Errorf("the device heard no ringback while the ARC rang: %w", err)
	}
	p.ok("the device heard %v of ringback (%d Hz) while the ARC rang; now it and the ARC hear each other", ringback, hzRingback)

	// Step 3: the device hangs up; the ARC is dropped.
	p.step("3/3 the device hangs up")
	if err := cd.Hangup(ctx); err != nil {
		return fmt.Errorf("hangup of the device: %w", err)
	}
	if err := hungUp(ctx, "the ARC", ca); err != nil {
		return err
	}
	if err := h.Wait(ctx, sid); err != nil {
		return err
	}
	if got := callbacks.all(); !slices.Equal(got, wantCallbacks) {
		return fmt.Errorf("callbacks out of order:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(wantCallbacks, ", "))
	}
	p.ok("the ARC got BYE; %d callbacks in the examples document's order", len(wantCallbacks))
	for _, tr := range srv.RecentTraces() {
		fmt.Fprintf(out, "\nCall flow of session %s (Mermaid):\n%s", tr.SessionID, tr.Diagram)
	}
	p.logf("demo passed")
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

// heardBefore returns how much of tone hz the audio holds before tone
// later first appears, looking at 100 ms blocks: the ringback (1 s on, 4 s
// off) before the ARC answered. It does not depend on when the demo looks.
func heardBefore(a mediaservertest.Audio, hz, later float64) (time.Duration, error) {
	const block = mediaservertest.SampleRate / 10
	samples := a.Samples()
	var n int
	for i := 0; i+block <= len(samples); i += block {
		b := samples[i : i+block]
		if mediaservertest.LevelDBFS(b) < -45 {
			continue
		}
		if mediaservertest.ToneShare(b, later) > 0.5 {
			break
		}
		if mediaservertest.ToneShare(b, hz) > 0.8 {
			n++
		}
	}
	if d := time.Duration(n) * 100 * time.Millisecond; d >= 300*time.Millisecond {
		return d, nil
	}
	return 0, fmt.Errorf("%d ms of %v Hz before %v Hz, want 300 ms or more", n*100, hz, later)
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

// waitN blocks until name was added n times or ctx is done.
func (s *seen) waitN(ctx context.Context, name string, n int) error {
	for {
		s.mu.Lock()
		count, changed := 0, s.changed
		for _, x := range s.list {
			if x == name {
				count++
			}
		}
		s.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (so far: %s): %w", name, strings.Join(s.all(), ", "), ctx.Err())
		}
	}
}

// traced is the Outbound handler recording the name of each callback
// after it ran.
type traced struct {
	*Outbound
	seen *seen
}

func (t traced) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	defer t.seen.add("newCall")
	return t.Outbound.NewCall(ctx, req)
}

func (t traced) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	defer t.seen.add("callEvent:" + req.Event)
	return t.Outbound.CallEvent(ctx, req)
}

func (t traced) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	defer t.seen.add("getIvrCommand")
	return t.Outbound.GetIvrCommand(ctx, req)
}

func (t traced) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	defer t.seen.add("callNotify:" + req.Event)
	return t.Outbound.CallNotify(ctx, req)
}

func (t traced) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	defer t.seen.add("callAnswered")
	return t.Outbound.CallAnswered(ctx, req)
}

func (t traced) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	defer t.seen.add("sessionCompleted")
	return t.Outbound.SessionCompleted(ctx, req)
}
