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

// The demo's tones and RTP ports (the root tests use 42000-45999).
const (
	hzA, hzB, hzM          = 440, 1000, 1800
	demoRTPMin, demoRTPMax = 49200, 49599
)

// wantCallbacks is the examples document's monitoring flow, callback by
// callback, ending with A hanging up.
var wantCallbacks = []string{
	"newCall", "callAnswered", "callNotify:monitorConnected",
	"callEvent:callingPartyDrop", "callNotify:monitorDropped", "sessionCompleted",
}

// runDemo runs a monitored call with three test phones on loopback, prints
// each callback and step to out, and checks by their tones (A 440 Hz, B
// 1000 Hz, monitor 1800 Hz) that the monitor hears both parties and
// neither party hears the monitor.
func runDemo(ctx context.Context, out io.Writer, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p := &printer{w: out, start: time.Now()}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "monitor-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	phones := map[string]*mediaservertest.Phone{}
	for _, ph := range []struct {
		user string
		hz   float64
	}{{"userA", hzA}, {"userB", hzB}, {"supervisor", hzM}} {
		phone, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: ph.user, ToneHz: ph.hz, Logger: logger})
		if err != nil {
			return err
		}
		defer phone.Close()
		phones[ph.user] = phone
	}

	callbacks := newSeen()
	h := &Monitor{To: phones["userB"].URI(), MonitorAddr: phones["supervisor"].URI(), Log: p.logf}
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
	target := fmt.Sprintf("sip:mon@%s", srv.SIPAddr())
	p.logf("server on %s", srv.SIPAddr())

	// Step 1: A calls; the server connects A with B.
	p.step("1/3 A (%d Hz) dials %s and is connected to B (%d Hz)", hzA, target, hzB)
	ca, err := phones["userA"].Dial(ctx, target, mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("dial from A: %w", err)
	}
	cb, err := phones["userB"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at B: %w", err)
	}
	if err := hears(ctx, "A", ca, hzB, "B", 0.5); err != nil {
		return err
	}
	if err := hears(ctx, "B", cb, hzA, "A", 0.5); err != nil {
		return err
	}
	p.ok("A and B hear each other")

	// Step 2: the server calls the monitor, who hears both and is not heard.
	p.step("2/3 the server called the monitor (%d Hz) after callAnswered; it listens", hzM)
	cm, err := phones["supervisor"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at the monitor: %w", err)
	}
	if !strings.Contains(cm.RemoteSDP(), "a=sendonly") {
		return fmt.Errorf("the monitor's offer is not sendonly:\n%s", cm.RemoteSDP())
	}
	if err := callbacks.wait(ctx, "callNotify:monitorConnected"); err != nil {
		return err
	}
	if err := hears(ctx, "the monitor", cm, hzA, "A", 0.2); err != nil {
		return err
	}
	if err := hears(ctx, "the monitor", cm, hzB, "B", 0.2); err != nil {
		return err
	}
	mark := time.Now()
	heardA, err := listen(ctx, ca, time.Second)
	if err != nil {
		return err
	}
	heardB := cb.HeardSince(mark) // the same second
	if sa, sb := heardA.Share(hzM), heardB.Share(hzM); sa > 0.01 || sb > 0.01 {
		return fmt.Errorf("the parties hear the monitor: A at share %.2f, B at %.2f", sa, sb)
	}
	p.ok("the monitor was offered sendonly and hears A and B; neither hears the monitor")

	// Step 3: A hangs up; B and the monitor are hung up.
	p.step("3/3 A hangs up")
	if err := ca.Hangup(ctx); err != nil {
		return fmt.Errorf("hangup of A: %w", err)
	}
	if err := hungUp(ctx, "B", cb); err != nil {
		return err
	}
	if err := hungUp(ctx, "the monitor", cm); err != nil {
		return err
	}
	if err := callbacks.wait(ctx, "sessionCompleted"); err != nil {
		return err
	}
	if got := callbacks.all(); !slices.Equal(got, wantCallbacks) {
		return fmt.Errorf("callbacks out of order:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(wantCallbacks, ", "))
	}
	p.ok("B and the monitor got BYE; %d callbacks in the examples document's order", len(wantCallbacks))
	for _, tr := range srv.RecentTraces() {
		fmt.Fprintf(out, "\nCall flow of session %s (Mermaid):\n%s", tr.SessionID, tr.Diagram)
	}
	p.logf("demo passed")
	return nil
}

// checkTimeout bounds each audio check, generously for a loaded machine.
const checkTimeout = 20 * time.Second

// hears waits until call (of who) hears the tone hz of what, as at least
// share of what it hears.
func hears(ctx context.Context, who string, call *mediaservertest.Call, hz float64, what string, share float64) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := call.WaitHeard(ctx, hz, share); err != nil {
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

// traced is the Monitor handler recording the name of each callback
// after it ran.
type traced struct {
	*Monitor
	seen *seen
}

func (t traced) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	defer t.seen.add("newCall")
	return t.Monitor.NewCall(ctx, req)
}

func (t traced) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	defer t.seen.add("callEvent:" + req.Event)
	return t.Monitor.CallEvent(ctx, req)
}

func (t traced) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	defer t.seen.add("getIvrCommand")
	return t.Monitor.GetIvrCommand(ctx, req)
}

func (t traced) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	defer t.seen.add("callNotify:" + req.Event)
	return t.Monitor.CallNotify(ctx, req)
}

func (t traced) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	defer t.seen.add("callAnswered")
	return t.Monitor.CallAnswered(ctx, req)
}

func (t traced) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	defer t.seen.add("sessionCompleted")
	return t.Monitor.SessionCompleted(ctx, req)
}
