package main

import (
	"bytes"
	"context"
	"errors"
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
	demoRTPMin, demoRTPMax = 48400, 48799
)

// wantCallbacks is the examples document's conference, callback by
// callback, ending with everyone hanging up.
var wantCallbacks = []string{
	"newCall", "callAnswered", // A↔B
	"callEvent:callerConnectionSplit",                                  // A calls C
	"callEvent:calleeConnectionSplit", "callAnswered", "getIvrCommand", // B on hold
	"callAnswered",                                    // A↔C
	"callEvent:callerConnectionSplit", "callAnswered", // A joins
	"callEvent:calleeConnectionSplit", "callAnswered", // C joins
	"callEvent:callerConnectionSplit", "callAnswered", // B joins
	"callEvent:calleeConnectionSplit", // the hold IVR is dropped
	"sessionCompleted",
}

// runDemo builds the conference with three test phones on loopback, prints
// each callback and step to out, and checks at each step who hears whom by
// the tones they send: A 440 Hz, B 1000 Hz, C 1800 Hz, hold music 600 Hz.
func runDemo(ctx context.Context, out io.Writer, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p := &printer{w: out, start: time.Now()}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "conference-demo-")
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
	h := &Conference{To: phones["userB"].URI(), Add: phones["userC"].URI(), HoldMusic: "holdmusic.wav", Log: p.logf}
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
	if err := hears(ctx, "A", ca, hzB, "B", 0.5); err != nil {
		return err
	}
	if err := hears(ctx, "B", cb, hzA, "A", 0.5); err != nil {
		return err
	}
	p.ok("A and B hear each other")

	// Step 2: A parks B and calls C.
	sid, _ := sessionID.Load().(string)
	p.step("2/4 A puts B on hold and calls C (%d Hz): splitconnection A↔B", hzC)
	if err := h.Consult(ctx, sid); err != nil {
		return err
	}
	cc, err := phones["userC"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("incoming call at C: %w", err)
	}
	if err := steps.wait(ctx, OnHold.String()); err != nil {
		return err
	}
	if err := hears(ctx, "B on hold", cb, hzHold, "the hold music", 0.5); err != nil {
		return err
	}
	onHold := time.Now()
	if err := steps.wait(ctx, Consulting.String()); err != nil {
		return err
	}
	if err := hears(ctx, "A", ca, hzC, "C", 0.5); err != nil {
		return err
	}
	if err := hears(ctx, "C", cc, hzA, "A", 0.5); err != nil {
		return err
	}
	if held := cb.HeardSince(onHold); held.Share(hzA) > 0.01 || held.Share(hzC) > 0.01 {
		return fmt.Errorf("on hold, B hears A (share %.2f) or C (share %.2f)", held.Share(hzA), held.Share(hzC))
	}
	p.ok("B hears the hold music and neither A nor C; A and C hear each other")

	// Step 3: A merges everyone into a conference.
	p.step("3/4 A merges: createconferenceconnection, splitconnection A↔C and B↔IVR")
	if err := h.Merge(ctx, sid); err != nil {
		return err
	}
	if err := steps.wait(ctx, InConference.String()); err != nil {
		return err
	}
	if err := callbacks.waitN(ctx, "callEvent:calleeConnectionSplit", 3); err != nil {
		return err // B's, C's, and the hold IVR's after B joined
	}
	members := []struct {
		name string
		call *mediaservertest.Call
		own  float64
	}{{"A", ca, hzA}, {"B", cb, hzB}, {"C", cc, hzC}}
	// The three members are checked at the same time.
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			for _, o := range members {
				if o.name == m.name {
					continue
				}
				if err := hears(ctx, m.name, m.call, o.own, o.name+" in the conference", 0.2); err != nil {
					errs[i] = err
					return
				}
			}
			a, err := listen(ctx, m.call, time.Second)
			switch {
			case err != nil:
				errs[i] = err
			case a.Share(m.own) > 0.02:
				errs[i] = fmt.Errorf("in the conference %s hears itself (share %.2f)", m.name, a.Share(m.own))
			case a.Share(hzHold) > 0.02:
				errs[i] = fmt.Errorf("in the conference %s hears the hold music (share %.2f)", m.name, a.Share(hzHold))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.ok("each member hears the other two, not itself, and no hold music")

	// Step 4: everyone leaves; the conference and the session end.
	p.step("4/4 A, B and C hang up")
	for _, m := range members {
		if err := m.call.Hangup(ctx); err != nil {
			return fmt.Errorf("hangup of %s: %w", m.name, err)
		}
	}
	if err := callbacks.wait(ctx, "sessionCompleted"); err != nil {
		return err
	}
	if got := callbacks.all(); !slices.Equal(got, wantCallbacks) {
		return fmt.Errorf("callbacks out of order:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(wantCallbacks, ", "))
	}
	p.ok("session completed; %d callbacks in the examples document's order", len(wantCallbacks))
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
	return s.waitN(ctx, name, 1)
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

// traced is the Conference handler recording the name of each callback
// after it ran.
type traced struct {
	*Conference
	seen *seen
}

func (t traced) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	defer t.seen.add("newCall")
	return t.Conference.NewCall(ctx, req)
}

func (t traced) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	defer t.seen.add("callEvent:" + req.Event)
	return t.Conference.CallEvent(ctx, req)
}

func (t traced) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	defer t.seen.add("getIvrCommand")
	return t.Conference.GetIvrCommand(ctx, req)
}

func (t traced) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	defer t.seen.add("callNotify:" + req.Event)
	return t.Conference.CallNotify(ctx, req)
}

func (t traced) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	defer t.seen.add("callAnswered")
	return t.Conference.CallAnswered(ctx, req)
}

func (t traced) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	defer t.seen.add("sessionCompleted")
	return t.Conference.SessionCompleted(ctx, req)
}
