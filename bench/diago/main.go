// Command diagoserver is the peer in bench/: the same workloads as
// bench/ivrserver, written on github.com/emiago/diago v0.42.1 (sipgo
// v1.7.3), in a module of its own so the library never depends on diago.
//
//   - ivr: answer, loop a WAV prompt with a playback (PCMU), read RFC 4733
//     digits with AudioReaderDTMF until the caller hangs up.
//   - bridge: answer, Invite -dest; same codec on both legs: diago.Bridge
//     (relay of payloads); different codecs: decode and re-encode in two
//     goroutines with diago's audio.PCMDecoderReader/PCMEncoderWriter
//     (diago's Bridge refuses to transcode).
//   - conference: join callers to diago.BridgeMix rooms of -room members
//     (BridgeMix is marked Experimental by diago).
//
// It prints one JSON line of counters when it stops (SIGTERM or SIGINT).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/audio"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

type counters struct {
	Server          string `json:"server"`
	Mode            string `json:"mode"`
	NewCalls        int64  `json:"newCalls"`
	Answered        int64  `json:"answered"`
	Digits          int64  `json:"digits"`
	WrongDigits     int64  `json:"wrongDigits"`
	CalleeFailures  int64  `json:"calleeFailures"`
	Transcoded      int64  `json:"transcoded"`
	Relayed         int64  `json:"relayed"`
	ConferenceJoins int64  `json:"conferenceJoins"`
	Rooms           int64  `json:"rooms"`
	Errors          int64  `json:"errors"`
	SessionsDone    int64  `json:"sessionsCompleted"`
	Goroutines      int    `json:"goroutinesAtStop"`
	runtimeStats
}

type app struct {
	mode string
	wav  []byte
	dest sip.Uri
	room int
	dg   *diago.Diago
	log  *slog.Logger

	newCalls, answered, digits, wrongDigits, calleeFailures atomic.Int64
	transcoded, relayed, joins, errs, done                  atomic.Int64

	mu    sync.Mutex // guards rooms, index
	rooms []*diago.BridgeMix
	index int
}

func main() {
	mode := flag.String("mode", "ivr", "ivr, bridge or conference")
	sipAddr := flag.String("sip", "127.0.0.1:35080", "SIP listen address (UDP)")
	rtp := flag.String("rtp-ports", "50000-59999", "RTP port range")
	prompt := flag.String("prompt", "", "WAV file (PCM16 8 kHz mono) looped in ivr mode")
	dest := flag.String("dest", "sip:uas@127.0.0.1:35070", "callee for bridge mode")
	room := flag.Int("room", 10, "members per conference (conference mode)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile to this file at the first SIGUSR1")
	blockProfile := flag.String("blockprofile", "", "record blocking and mutex contention; write them to this file (and .mutex) at the first SIGUSR1")
	verbose := flag.Bool("v", false, "log at Info instead of Warn")
	flag.Parse()
	snapshots(*memProfile, *blockProfile)
	if err := run(*mode, *sipAddr, *rtp, *prompt, *dest, *room, *cpuProfile, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "diagoserver:", err)
		os.Exit(1)
	}
}

func run(mode, sipAddr, rtp, prompt, dest string, room int, cpuProfile string, verbose bool) error {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	sip.SetDefaultLogger(logger)
	media.SetDefaultLogger(logger)

	var lo, hi int
	if _, err := fmt.Sscanf(rtp, "%d-%d", &lo, &hi); err != nil {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", rtp)
	}
	media.RTPPortStart, media.RTPPortEnd = lo, hi
	host, portStr, err := net.SplitHostPort(sipAddr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}

	a := &app{mode: mode, room: max(room, 1), log: logger}
	switch mode {
	case "ivr":
		if a.wav, err = os.ReadFile(prompt); err != nil {
			return err
		}
	case "bridge":
		if err := sip.ParseUri(dest, &a.dest); err != nil {
			return err
		}
	case "conference":
	default:
		return fmt.Errorf("-mode %q: want ivr, bridge or conference", mode)
	}

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("diagoserver"))
	if err != nil {
		return err
	}
	defer ua.Close()
	a.dg = diago.NewDiago(ua, diago.WithLogger(logger), diago.WithTransport(diago.Transport{
		Transport: "udp", BindHost: host, BindPort: port,
	}))

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
	if err := a.dg.ServeBackground(ctx, a.serve); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "diagoserver ready mode=%s sip=%s\n", mode, sipAddr)
	<-ctx.Done()
	a.report()
	return nil
}

func (a *app) report() {
	c := counters{
		Server: "diago", Mode: a.mode,
		NewCalls: a.newCalls.Load(), Answered: a.answered.Load(), Digits: a.digits.Load(),
		WrongDigits: a.wrongDigits.Load(), CalleeFailures: a.calleeFailures.Load(),
		Transcoded: a.transcoded.Load(), Relayed: a.relayed.Load(), ConferenceJoins: a.joins.Load(),
		Errors: a.errs.Load(), SessionsDone: a.done.Load(), Goroutines: runtime.NumGoroutine(),
		runtimeStats: readRuntimeStats(),
	}
	a.mu.Lock()
	c.Rooms = int64(len(a.rooms))
	a.mu.Unlock()
	b, _ := json.Marshal(c)
	fmt.Println(string(b))
}

func (a *app) serve(d *diago.DialogServerSession) {
	a.newCalls.Add(1)
	defer a.done.Add(1)
	var err error
	switch a.mode {
	case "ivr":
		err = a.ivr(d)
	case "bridge":
		err = a.bridge(d)
	case "conference":
		err = a.conference(d)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && d.Context().Err() == nil {
		a.errs.Add(1)
		a.log.Warn("call failed", "mode", a.mode, "err", err)
	}
}

// ivr loops the prompt and counts RFC 4733 digits until the caller hangs up.
func (a *app) ivr(d *diago.DialogServerSession) error {
	if err := d.Trying(); err != nil {
		return err
	}
	med, err := d.Answer(diago.AnswerOptions{})
	if err != nil {
		return err
	}
	a.answered.Add(1)
	ctx := d.Context()
	dr, err := med.AudioReaderDTMF()
	if err != nil {
		return err
	}
	dr.OnDTMF(func(r rune) error {
		if r == '5' {
			a.digits.Add(1)
		} else {
			a.wrongDigits.Add(1)
		}
		return nil
	})
	go func() {
		buf := make([]byte, media.RTPBufSize)
		for {
			if _, err := dr.Read(buf); err != nil {
				return
			}
		}
	}()
	pb, err := med.PlaybackCreate()
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		if _, err := pb.Play(bytes.NewReader(a.wav), "audio/wav"); err != nil {
			return err
		}
	}
	return nil
}

// bridge answers, calls -dest and connects the two legs until either hangs up.
func (a *app) bridge(d *diago.DialogServerSession) error {
	if err := d.Trying(); err != nil {
		return err
	}
	med, err := d.Answer(diago.AnswerOptions{})
	if err != nil {
		return err
	}
	a.answered.Add(1)
	inCtx := d.Context()
	ictx, cancel := context.WithTimeout(inCtx, 10*time.Second)
	out, outMed, err := a.dg.Invite(ictx, a.dest, diago.InviteOptions{})
	cancel()
	if err != nil {
		a.calleeFailures.Add(1)
		return err
	}
	defer out.Close()
	outCtx := out.Context()
	inCodec := media.CodecAudioFromSession(med.MediaSession())
	outCodec := media.CodecAudioFromSession(outMed.MediaSession())
	if inCodec.Matches(outCodec) {
		a.relayed.Add(1)
		b := diago.NewBridge()
		if err := b.AddDialogMedia(med); err != nil {
			return err
		}
		if err := b.AddDialogMedia(outMed); err != nil {
			return err
		}
	} else {
		a.transcoded.Add(1)
		if err := transcode(med, inCodec, outMed, outCodec); err != nil {
			return err
		}
		if err := transcode(outMed, outCodec, med, inCodec); err != nil {
			return err
		}
	}
	select {
	case <-inCtx.Done():
	case <-outCtx.Done():
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if outCtx.Err() == nil {
		_ = out.Hangup(hctx)
	}
	if inCtx.Err() == nil {
		_ = d.Hangup(hctx)
	}
	return nil
}

// transcode decodes what from sends and encodes it for to, in a goroutine
// that ends when either side's socket closes.
func transcode(from *diago.DialogMedia, fc media.Codec, to *diago.DialogMedia, tc media.Codec) error {
	r, err := from.AudioReader()
	if err != nil {
		return err
	}
	w, err := to.AudioWriter()
	if err != nil {
		return err
	}
	dec := &audio.PCMDecoderReader{}
	if err := dec.Init(fc, r); err != nil {
		return err
	}
	enc := &audio.PCMEncoderWriter{}
	if err := enc.Init(tc, w); err != nil {
		return err
	}
	go func() {
		buf := make([]byte, tc.Samples16())
		for {
			n, err := dec.Read(buf)
			if err != nil {
				return
			}
			if _, err := enc.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	return nil
}

// conference joins the caller to the next room's BridgeMix until it hangs up.
func (a *app) conference(d *diago.DialogServerSession) error {
	if err := d.Trying(); err != nil {
		return err
	}
	med, err := d.Answer(diago.AnswerOptions{})
	if err != nil {
		return err
	}
	a.answered.Add(1)
	a.mu.Lock()
	n := a.index / a.room
	a.index++
	for len(a.rooms) <= n {
		a.rooms = append(a.rooms, diago.NewBridgeMix())
	}
	b := a.rooms[n]
	a.mu.Unlock()
	if err := b.AddDialogMedia(med); err != nil {
		return err
	}
	a.joins.Add(1)
	<-d.Context().Done()
	return b.RemoveDialogMedia(med)
}
