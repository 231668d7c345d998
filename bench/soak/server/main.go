// Command server is the target of the soak test (bench/soak): the library
// embedded with a Handler that routes every call by the user part of its
// Request-URI.
//
//   - ivr: an IVR plays a greeting and collects one RFC 4733 digit; after
//     the digit (or its timeout) a confirmation, then a looping prompt and
//     another one-digit collection until the caller hangs up.
//   - bridge: action call to the callee user "b" at -callee; the two legs
//     are relayed until the caller hangs up.
//   - transfer: the attended transfer of examples/transfer, driven by the
//     server's own timers: the caller A is connected to B; after
//     -transfer-after the A↔B connection is split (A goes on hold music,
//     B calls C); after -consult-for the B↔C connection is split, B is
//     dropped and C is connected with A (action connect). A caller that
//     hangs up at any step ends the transfer there.
//   - conference: callers join conference connections of up to -room
//     members in order of arrival.
//
// It serves its own runtime figures on an HTTP listener (127.0.0.1:0 by
// default): GET /stats (goroutines, open fds, UDP sockets, RSS, heap, live
// sessions, the handler's counters) as JSON, POST /gc (a forced GC, then
// the same figures) and GET /goroutines (a goroutine dump). When it is
// ready it writes {"pid","sip","http"} to the -info file, so a driver finds
// its ports. SIGTERM or SIGINT stops it: it prints its final figures as one
// JSON line on stdout.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

type options struct {
	sipAddr, httpAddr, rtp, info, callee, dataDir string
	room, traceSessions                           int
	roomTTL, transferAfter, consultFor            time.Duration
	verbose                                       bool
	memProfileRate                                int
}

func main() {
	var o options
	flag.StringVar(&o.sipAddr, "sip", "127.0.0.1:0", "SIP listen address (UDP and TCP)")
	flag.StringVar(&o.httpAddr, "http", "127.0.0.1:0", "listen address of the /stats endpoint")
	flag.StringVar(&o.rtp, "rtp-ports", "43000-44299", "RTP port range MIN-MAX")
	flag.StringVar(&o.info, "info", "", "write {pid, sip, http} as JSON to this file when ready")
	flag.StringVar(&o.callee, "callee", "127.0.0.1:35110", "host:port of the SIPp callee (users b and c)")
	flag.StringVar(&o.dataDir, "data-dir", "", "prompt directory (default: a temporary directory)")
	flag.IntVar(&o.room, "room", 5, "members per conference")
	flag.IntVar(&o.traceSessions, "trace-sessions", 0, "Config.TraceSessions: traces of completed sessions kept (0: the library's default, 1000; -1: none)")
	flag.DurationVar(&o.roomTTL, "room-ttl", 2*time.Second, "a conference takes new members for at most this long after its creation (keep it below the shortest call)")
	flag.DurationVar(&o.transferAfter, "transfer-after", 3*time.Second, "transfer: split A↔B this long after it is connected")
	flag.DurationVar(&o.consultFor, "consult-for", 4*time.Second, "transfer: split B↔C this long after it is connected")
	flag.BoolVar(&o.verbose, "v", false, "log at Info instead of Warn")
	flag.IntVar(&o.memProfileRate, "memprofilerate", 0, "runtime.MemProfileRate for /debug/pprof/heap (0: Go's default; 1: every allocation)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "soak server:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.memProfileRate > 0 {
		runtime.MemProfileRate = o.memProfileRate
	}
	var lo, hi int
	if _, err := fmt.Sscanf(o.rtp, "%d-%d", &lo, &hi); err != nil {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", o.rtp)
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.dataDir == "" {
		d, err := os.MkdirTemp("", "soakserver-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dataDir = d
	}
	a := &app{
		log:           logger,
		calleeB:       "sip:b@" + o.callee,
		calleeC:       "sip:c@" + o.callee,
		room:          max(o.room, 1),
		roomTTL:       o.roomTTL,
		transferAfter: o.transferAfter,
		consultFor:    o.consultFor,
		calls:         make(map[string]*call),
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler:      a,
		SIPAddr:      o.sipAddr,
		RTPPortMin:   lo,
		RTPPortMax:   hi,
		Logger:       logger,
		DataDir:      o.dataDir,
		DisablePolly: true,
		// TraceSessions bounds the completed sessions whose traces are kept
		// (for TraceRetention, default 10 minutes): memory that stays
		// after calls end, up to that bound.
		TraceSessions: o.traceSessions,
	})
	if err != nil {
		return err
	}
	a.srv = srv

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: a.mux(), ReadHeaderTimeout: 5 * time.Second}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("stats endpoint", "err", err)
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-serveErr:
		_ = hs.Close()
		<-httpDone
		return fmt.Errorf("serve: %w", err)
	}
	for _, p := range []struct {
		name string
		hz   float64
		d    time.Duration
	}{{promptGreeting, 800, 2 * time.Second}, {promptConfirm, 1200, 500 * time.Millisecond}, {promptLoop, 500, 3 * time.Second}, {promptHold, 600, time.Second}} {
		if _, err := srv.PutPrompt(ctx, p.name, bytes.NewReader(toneWAV(p.hz, p.d)), 0); err != nil {
			stop()
			<-serveErr
			_ = hs.Close()
			<-httpDone
			return fmt.Errorf("prompt %s: %w", p.name, err)
		}
	}
	if o.info != "" {
		b, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "sip": srv.SIPAddr().String(), "http": ln.Addr().String()})
		tmp := o.info + ".tmp"
		err := os.WriteFile(tmp, b, 0o644)
		if err == nil {
			err = os.Rename(tmp, o.info)
		}
		if err != nil {
			stop()
			<-serveErr
			_ = hs.Close()
			<-httpDone
			return fmt.Errorf("info file: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "soak server ready sip=%s http=%s\n", srv.SIPAddr(), ln.Addr())

	var err2 error
	select {
	case <-ctx.Done():
		err2 = <-serveErr
	case err2 = <-serveErr:
	}
	a.stopTimers()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = hs.Shutdown(shutCtx)
	cancel()
	<-httpDone
	b, _ := json.Marshal(a.snapshot())
	fmt.Println(string(b))
	if !errors.Is(err2, mediaserver.ErrServerClosed) {
		return err2
	}
	return nil
}

// The prompt files the handler plays.
const (
	promptGreeting = "greeting.wav"
	promptConfirm  = "confirm.wav"
	promptLoop     = "loop.wav"
	promptHold     = "hold.wav"
)

// toneWAV returns a 16-bit mono 8 kHz WAV of a sine tone.
func toneWAV(hz float64, d time.Duration) []byte {
	n := int(d.Seconds() * 8000)
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))    // PCM
	le(uint16(1))    // mono
	le(uint32(8000)) // rate
	le(uint32(16000))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := range n {
		le(int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000)))
	}
	return b.Bytes()
}

// mux serves the runtime figures.
func (a *app) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.snapshot())
	})
	m.HandleFunc("POST /gc", func(w http.ResponseWriter, r *http.Request) {
		forceGC()
		writeJSON(w, a.snapshot())
	})
	m.HandleFunc("GET /goroutines", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeGoroutines(w)
	})
	m.HandleFunc("GET /debug/pprof/", pprof.Index)
	m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return m
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
