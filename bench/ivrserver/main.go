// Command ivrserver is the load-test target of bench/: our library embedded
// with a small Handler, in one of three modes.
//
//   - ivr: answer every call with action ivr, loop a prompt file as
//     backgroundPrompt and collect one RFC 4733 digit (dtmf maxDigits 1);
//     after the digit the same command goes on, so the prompt keeps looping
//     until the caller hangs up.
//   - bridge: action call to -dest (a SIPp UAS); the codecs the two SIPp
//     legs offer decide whether the server relays or transcodes.
//   - conference: join callers to conferences of -room members, in order of
//     arrival.
//
// It prints one JSON line of counters to stdout when it stops (SIGTERM or
// SIGINT), and writes a CPU profile with -cpuprofile. It is built and run by
// bench/driver; see bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

func main() {
	mode := flag.String("mode", "ivr", "ivr, bridge or conference")
	sipAddr := flag.String("sip", "127.0.0.1:35080", "SIP listen address")
	rtp := flag.String("rtp-ports", "50000-59999", "RTP port range")
	prompt := flag.String("prompt", "", "WAV file looped as the IVR's background prompt (ivr mode)")
	dest := flag.String("dest", "sip:uas@127.0.0.1:35070", "callee for bridge mode")
	room := flag.Int("room", 10, "members per conference (conference mode)")
	dataDir := flag.String("data-dir", "", "prompt directory (default: a temporary directory)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile to this file at the first SIGUSR1")
	blockProfile := flag.String("blockprofile", "", "record blocking and mutex contention; write them to this file (and .mutex) at the first SIGUSR1")
	verbose := flag.Bool("v", false, "log at Info instead of Warn")
	flag.Parse()
	snapshots(*memProfile, *blockProfile)
	if err := run(*mode, *sipAddr, *rtp, *prompt, *dest, *room, *dataDir, *cpuProfile, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "ivrserver:", err)
		os.Exit(1)
	}
}

// counters are printed as JSON when the server stops.
type counters struct {
	Server          string  `json:"server"`
	Mode            string  `json:"mode"`
	NewCalls        int64   `json:"newCalls"`
	IvrCommands     int64   `json:"ivrCommands"`
	Digits          int64   `json:"digits"`
	WrongDigits     int64   `json:"wrongDigits"`
	DtmfTimeouts    int64   `json:"dtmfTimeouts"`
	CallEvents      int64   `json:"callEvents"`
	CalleeFailures  int64   `json:"calleeFailures"`
	SessionsDone    int64   `json:"sessionsCompleted"`
	ConferenceJoins int64   `json:"conferenceJoins"`
	Rooms           int64   `json:"rooms"`
	Errors          int64   `json:"errors"`
	Goroutines      int     `json:"goroutinesAtStop"`
	ClockTicks      uint64  `json:"clockTicks"`
	ClockSkipped    uint64  `json:"clockSkipped"`
	ClockMaxLagMS   float64 `json:"clockMaxLagMs"`
	ClockMaxWorkMS  float64 `json:"clockMaxWorkMs"`
	// ClockStalls are the ticks that took more than 100 ms, as seen by a
	// 100 ms poll of ClockStats (time since start in s, work in ms).
	ClockStalls []stall `json:"clockStalls,omitempty"`
	runtimeStats
}

type stall struct {
	AtS    float64 `json:"atS"`
	WorkMS float64 `json:"workMs"`
}

type app struct {
	mode   string
	prompt string // prompt name in the data directory
	dest   string
	room   int
	srv    *mediaserver.Server
	log    *slog.Logger

	newCalls, ivrCommands, digits, wrongDigits, dtmfTimeouts atomic.Int64
	callEvents, calleeFailures, sessionsDone, joins, errs    atomic.Int64

	mu     sync.Mutex // guards rooms, index, stalls
	rooms  []string   // conference IDs by room number
	index  int        // callers seen in conference mode
	stalls []stall
}

// watchClock polls the clock's longest tick and records each new record
// above 100 ms, so a report can say when the clock stalled.
func (a *app) watchClock(ctx context.Context) {
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w := a.srv.ClockStats().MaxWork
		if w > last && w > 100*time.Millisecond {
			a.mu.Lock()
			if len(a.stalls) < 50 {
				a.stalls = append(a.stalls, stall{AtS: time.Since(start).Seconds(), WorkMS: float64(w) / float64(time.Millisecond)})
			}
			a.mu.Unlock()
		}
		last = max(last, w)
	}
}

func run(mode, sipAddr, rtp, prompt, dest string, room int, dataDir, cpuProfile string, verbose bool) error {
	var lo, hi int
	if _, err := fmt.Sscanf(rtp, "%d-%d", &lo, &hi); err != nil {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", rtp)
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if dataDir == "" {
		d, err := os.MkdirTemp("", "ivrserver-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	a := &app{mode: mode, dest: dest, room: max(room, 1), log: logger}
	switch mode {
	case "ivr":
		if prompt == "" {
			return errors.New("-prompt is required in ivr mode")
		}
		b, err := os.ReadFile(prompt)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dataDir, "benchprompt.wav"), b, 0o644); err != nil {
			return err
		}
		a.prompt = "benchprompt"
	case "bridge", "conference":
	default:
		return fmt.Errorf("-mode %q: want ivr, bridge or conference", mode)
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler:      a,
		SIPAddr:      sipAddr,
		RTPPortMin:   lo,
		RTPPortMax:   hi,
		Logger:       logger,
		DataDir:      dataDir,
		DisablePolly: true,
	})
	if err != nil {
		return err
	}
	a.srv = srv
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-srv.Ready()
		fmt.Fprintf(os.Stderr, "ivrserver ready mode=%s sip=%s\n", mode, srv.SIPAddr())
		a.watchClock(ctx)
	}()
	// Serve returns when ctx ends; read the counters first, so the
	// goroutine count is that of the loaded server.
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var serveErr error
	select {
	case <-ctx.Done():
		a.report()
		serveErr = <-done
	case serveErr = <-done:
		a.report()
	}
	if !errors.Is(serveErr, mediaserver.ErrServerClosed) {
		return serveErr
	}
	return nil
}

func (a *app) report() {
	c := counters{
		Server: "ours", Mode: a.mode,
		NewCalls: a.newCalls.Load(), IvrCommands: a.ivrCommands.Load(), Digits: a.digits.Load(),
		WrongDigits: a.wrongDigits.Load(), DtmfTimeouts: a.dtmfTimeouts.Load(),
		CallEvents: a.callEvents.Load(), CalleeFailures: a.calleeFailures.Load(),
		SessionsDone: a.sessionsDone.Load(), ConferenceJoins: a.joins.Load(), Errors: a.errs.Load(),
		Goroutines: runtime.NumGoroutine(),
	}
	a.mu.Lock()
	c.Rooms = int64(len(a.rooms))
	c.ClockStalls = append([]stall(nil), a.stalls...)
	a.mu.Unlock()
	c.runtimeStats = readRuntimeStats()
	cs := a.srv.ClockStats()
	c.ClockTicks, c.ClockSkipped = cs.Ticks, cs.Skipped
	c.ClockMaxLagMS = float64(cs.MaxLag) / float64(time.Millisecond)
	c.ClockMaxWorkMS = float64(cs.MaxWork) / float64(time.Millisecond)
	b, _ := json.Marshal(c)
	fmt.Println(string(b))
}

// command is the IVR command of every getIvrCommand answer: the looping
// prompt and a one-digit collection that waits as long as the call lasts.
func (a *app) command() mediaserver.IvrCommand {
	return mediaserver.IvrCommand{
		BackgroundPrompt: &mediaserver.Phrase{Format: "file", FileName: a.prompt},
		Dtmf:             &mediaserver.DtmfCommand{MaxDigits: 1, Timeout: 3600},
	}
}

// NewCall routes the caller according to the mode.
func (a *app) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	a.newCalls.Add(1)
	switch a.mode {
	case "bridge":
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: a.dest}, nil
	case "conference":
		id, err := a.roomFor(ctx)
		if err != nil {
			a.errs.Add(1)
			return mediaserver.Action{}, err
		}
		a.joins.Add(1)
		return mediaserver.Action{Action: mediaserver.ActionJoinConferenceConnection, ConnectionID: id}, nil
	}
	return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
}

// roomFor returns the conference of the next caller: callers 0..room-1 go
// to the first conference, and so on.
func (a *app) roomFor(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.index / a.room
	a.index++
	for len(a.rooms) <= n {
		id, err := a.srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{})
		if err != nil {
			return "", err
		}
		a.rooms = append(a.rooms, id)
	}
	return a.rooms[n], nil
}

// GetIvrCommand counts the digits and keeps the prompt looping.
func (a *app) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	a.ivrCommands.Add(1)
	if d := req.DtmfParams; d != nil {
		switch {
		case d.DtmfMatch == "5":
			a.digits.Add(1)
		case d.DtmfMatch != "":
			a.wrongDigits.Add(1)
		default:
			a.dtmfTimeouts.Add(1)
		}
	}
	return a.command(), nil
}

// CallEvent drops whoever lost their connection.
func (a *app) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	a.callEvents.Add(1)
	if req.Event == mediaserver.EventCalledPartyFailed {
		a.calleeFailures.Add(1)
		a.log.Warn("callee failed", "reason", req.Reason, "sip", req.SipStatusCode)
	}
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// SessionCompleted counts finished sessions.
func (a *app) SessionCompleted(context.Context, *mediaserver.SessionCompletedRequest) error {
	a.sessionsDone.Add(1)
	return nil
}

var _ mediaserver.SessionCompletedHandler = (*app)(nil)
