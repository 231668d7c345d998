// Command conference is the three-party conference of the SIP Mediaserver
// examples as an in-process Handler: A calls in and is connected to B; A
// puts B on hold (hold music) and calls C; then A, B and C join one
// conference connection, in which each hears the other two.
//
// The REST-side steps (/splitconnection, /createconferenceconnection) are
// Conference.Consult and Conference.Merge. A real application calls them
// when A asks for it, from its UI or CTI link: DTMF of a bridged call is
// relayed to the other party in the media plane and never reaches the
// Handler. This command takes them on timers:
//
//	go run ./examples/conference -demo
//	go run ./examples/conference -to sip:b@192.0.2.10 -add sip:c@192.0.2.11 \
//	    -consult-after 15s -merge-after 15s -sip 0.0.0.0:5060 -public-ip 192.0.2.1
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// options are the command-line settings of the real mode.
type options struct {
	to, add             string
	consultAfter, merge time.Duration
	sipAddr, publicIP   string
	rtpPorts, dataDir   string
	holdMusic           string
}

func main() {
	var o options
	flag.StringVar(&o.to, "to", "", "SIP address of B, who every inbound call (A) is connected to")
	flag.StringVar(&o.add, "add", "", "SIP address of C, who A calls and adds to the conference")
	flag.DurationVar(&o.consultAfter, "consult-after", 15*time.Second, "how long A and B talk before A parks B and calls C")
	flag.DurationVar(&o.merge, "merge-after", 15*time.Second, "how long A and C talk before A, B and C are merged")
	flag.StringVar(&o.sipAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	flag.StringVar(&o.publicIP, "public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	flag.StringVar(&o.rtpPorts, "rtp-ports", "20000-29999", "RTP port range")
	flag.StringVar(&o.dataDir, "data-dir", "./data", "prompt files and recordings")
	flag.StringVar(&o.holdMusic, "hold-music", "", "WAV or MP3 file played to B on hold (default: a generated chime)")
	demo := flag.Bool("demo", false, "run the whole flow with built-in test phones and exit")
	verbose := flag.Bool("v", false, "log the server's own messages")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *demo {
		if err = runDemo(ctx, os.Stdout, *verbose); err != nil {
			err = fmt.Errorf("demo failed: %w", err)
		}
	} else {
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conference:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.to == "" || o.add == "" {
		return errors.New("-to and -add are required (or use -demo)")
	}
	lo, hi, err := parsePorts(o.rtpPorts)
	if err != nil {
		return err
	}
	music, name := chimeWAV(), "holdmusic.wav"
	if o.holdMusic != "" {
		if music, err = os.ReadFile(o.holdMusic); err != nil {
			return err
		}
		name = "holdmusic" + strings.ToLower(filepath.Ext(o.holdMusic))
	}
	h := &Conference{To: o.to, Add: o.add, HoldMusic: name,
		Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) }}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: o.sipAddr, PublicIP: o.publicIP, RTPPortMin: lo, RTPPortMax: hi, DataDir: o.dataDir,
	})
	if err != nil {
		return err
	}
	h.Server = srv
	if _, err := srv.PutPrompt(ctx, name, bytes.NewReader(music), 0); err != nil {
		return fmt.Errorf("hold music: %w", err)
	}
	// The timers stand in for A pressing "consult" and "conference".
	h.OnStep = func(sessionID string, s Step) {
		var next func(context.Context, string) error
		var after time.Duration
		switch s {
		case Talking:
			next, after = h.Consult, o.consultAfter
		case Consulting:
			next, after = h.Merge, o.merge
		default:
			return
		}
		time.AfterFunc(after, func() {
			if err := next(ctx, sessionID); err != nil {
				slog.Info("conference step skipped", "session", sessionID, "err", err)
			}
		})
	}
	go func() {
		<-srv.Ready()
		slog.Info("conference ready", "sip", srv.SIPAddr().String(), "b", o.to, "c", o.add)
	}()
	if err := srv.Serve(ctx); !errors.Is(err, mediaserver.ErrServerClosed) {
		return err
	}
	return nil
}

// parsePorts parses "MIN-MAX".
func parsePorts(s string) (lo, hi int, err error) {
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("-rtp-ports %q: want MIN-MAX", s)
	}
	return lo, hi, nil
}

// toneWAV returns a WAV file (8 kHz mono) of a sine at freq Hz lasting d.
func toneWAV(freq float64, d time.Duration) []byte {
	pcm := make([]int16, int(d.Seconds()*mediaservertest.SampleRate))
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/mediaservertest.SampleRate))
	}
	return mediaservertest.EncodeWAV(pcm)
}

// chimeWAV returns a gentler default hold music than a steady tone: a
// rising C major arpeggio with a pause, 2 seconds long.
func chimeWAV() []byte {
	const note = 400 * mediaservertest.SampleRate / 1000 // 400 ms
	var pcm []int16
	for _, f := range []float64{523.25, 659.25, 783.99} {
		for i := range note {
			fade := math.Min(1, float64(note-i)/float64(note/2)) // decay over the second half
			pcm = append(pcm, int16(6000*fade*math.Sin(2*math.Pi*f*float64(i)/mediaservertest.SampleRate)))
		}
	}
	pcm = append(pcm, make([]int16, 2*mediaservertest.SampleRate-len(pcm))...)
	return mediaservertest.EncodeWAV(pcm)
}
