package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// The demo's tones and RTP ports (the root tests use 42000-45999).
const (
	hzA, hzB, hzC, hzHold  = 440, 1000, 1800, 600
	demoRTPMin, demoRTPMax = 48000, 48399
)

// wantCallbacks is the examples document's attended transfer, callback by
// callback, ending with A hanging up.
var wantCallbacks = []string{
	"newCall", "callAnswered", // A↔B
	"callEvent:callerConnectionSplit", "callAnswered", "getIvrCommand", // A on hold
	"callEvent:calleeConnectionSplit", "callAnswered", // B calls C
	"callEvent:callerConnectionSplit", "callEvent:calleeConnectionSplit", "callAnswered", // B dropped, A↔C
	"callEvent:callingPartyDrop", "sessionCompleted",
}

// runDemo runs the attended transfer with three test phones on loopback,
// prints each callback and step to out, and checks at each step who hears
// whom by the tones they send: A 440 Hz, B 1000 Hz, C 1800 Hz, hold music
// 600 Hz.
func runDemo(ctx context.Context, out io.Writer, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p := &printer{w: out, start: time.Now()}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "transfer-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	phones := map[string]*mediaservertest.Phone{}
	for _, ph := range []struct {
		user string
		hz   float64
	}{{"userA", hzA}, {"userB", hzB}, {"userC", hzC}} {
		phone, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: ph.user, ToneHz: ph.hz, Logger: logger})
		if err != nil {
			return err
		}
		defer phone.Close()
		phones[ph.user] = phone
	}

	callbacks, steps := newSeen(), newSeen()
	var sessionID atomic.Value // string: the session of the call, from OnStep
	h := &Transfer{To: phones["userB"].URI(), Target: phones["userC"].URI(), HoldMusic: "holdmusic.wav", Log: p.logf}
	h.OnStep = func(id string, s Step) {
		sessionID.Store(id)
		steps.add(s.String())
	}
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
	if _, err := srv.PutPrompt(ctx, "holdmusic.wav", bytes.NewReader(toneWAV(hzHold, 2*time.Second)), 0); err != nil {
		return fmt.Errorf("hold music: %w", err)
	}
	target := fmt.Sprintf("sip:pbx@%s", srv.SIPAddr())
	p.logf("server on %s; hold music (%d Hz) stored as holdmusic.wav", srv.SIPAddr(), hzHold)

	// Step 1: A calls; the server connects A with B.
	p.step("1/4 A (%d Hz) dials %s and is connected to B (%d Hz)", hzA, target, hzB)
	ca, err := phones["userA"].Dial(ctx, target, mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("dial from A: %w", err)
	}
	cb, err := phones["userB"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at B: %w", err)
	}
	if err := steps.wait(ctx, Talking.String()); err != nil {
		return err
	}
	if err := hears(ctx, "A", ca, hzB, "B"); err != nil {
		return err
	}
	if err := hears(ctx, "B", cb, hzA, "A"); err != nil {
		return err
	}
	p.ok("A and B hear each other")

	// Step 2: B consults C; A is parked on hold music.
	sid, _ := sessionID.Load().(string)
	p.step("2/4 B consults C: splitconnection A↔B")
	if err := h.Consult(ctx, sid); err != nil {
		return err
	}
	if err := steps.wait(ctx, OnHold.String()); err != nil {
		return err
	}
	if err := hears(ctx, "A on hold", ca, hzHold, "the hold music"); err != nil {
		return err
	}
	onHold := time.Now()
	cc, err := phones["userC"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at C: %w", err)
	}
	if err := steps.wait(ctx, Consulting.String()); err != nil {
		return err
	}
	if err := hears(ctx, "B", cb, hzC, "C"); err != nil {
		return err
	}
	if err := hears(ctx, "C", cc, hzB, "B"); err != nil {
		return err
	}
	if s := ca.HeardSince(onHold).Share(hzB); s > 0.01 {
		return fmt.Errorf("on hold, A hears B (share %.2f)", s)
	}
	p.ok("A hears the hold music and not B; B and C hear each other")

	// Step 3: B completes the transfer: B leaves, A and C are connected.
	p.step("3/4 B completes the transfer: splitconnection B↔C")
	if err := h.Complete(ctx, sid); err != nil {
		return err
	}
	if err := hungUp(ctx, "B", cb); err != nil {
		return err
	}
	if err := steps.wait(ctx, Transferred.String()); err != nil {
		return err
	}
	if err := hears(ctx, "A", ca, hzC, "C"); err != nil {
		return err
	}
	if err := hears(ctx, "C", cc, hzA, "A"); err != nil {
		return err
	}
	after, err := listen(ctx, ca, time.Second)
	if err != nil {
		return err
	}
	if s := after.Share(hzHold); s > 0.05 {
		return fmt.Errorf("after the transfer A still hears the hold music (share %.2f)", s)
	}
	if s := ca.HeardSince(onHold).Share(hzB); s > 0.01 {
		return fmt.Errorf("after going on hold A heard B (share %.2f)", s)
	}
	p.ok("B got BYE; A and C hear each other; A heard neither B nor hold music since")

	// Step 4: A hangs up; the server drops C and the session completes.
	p.step("4/4 A hangs up")
	if err := ca.Hangup(ctx); err != nil {
		return fmt.Errorf("hangup of A: %w", err)
	}
	if err := hungUp(ctx, "C", cc); err != nil {
		return err
	}
	if err := callbacks.wait(ctx, "sessionCompleted"); err != nil {
		return err
	}
	if got := callbacks.all(); !slices.Equal(got, wantCallbacks) {
		return fmt.Errorf("callbacks out of order:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(wantCallbacks, ", "))
	}
	p.ok("C got BYE; %d callbacks in the examples document's order", len(wantCallbacks))
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

// traced is the Transfer handler recording the name of each callback
// after it ran.
type traced struct {
	*Transfer
	seen *seen
}

func (t traced) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	defer t.seen.add("newCall")
	return t.Transfer.NewCall(ctx, req)
}

func (t traced) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	defer t.seen.add("callEvent:" + req.Event)
	return t.Transfer.CallEvent(ctx, req)
}

func (t traced) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	defer t.seen.add("getIvrCommand")
	return t.Transfer.GetIvrCommand(ctx, req)
}

func (t traced) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	defer t.seen.add("callNotify:" + req.Event)
	return t.Transfer.CallNotify(ctx, req)
}

func (t traced) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	defer t.seen.add("callAnswered")
	return t.Transfer.CallAnswered(ctx, req)
}

func (t traced) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	defer t.seen.add("sessionCompleted")
	return t.Transfer.SessionCompleted(ctx, req)
}
