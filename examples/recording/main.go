// Command recording is the call recording of the SIP Mediaserver examples
// as an in-process Handler: every inbound call is forwarded and recorded;
// after the call, sessionCompleted then recordingReady name the WAV file in
// prompt storage (the data directory), from where an application fetches
// it (GET /promptfile/{filename}; Server.OpenPrompt in Go).
//
//	go run ./examples/recording -demo
//	go run ./examples/recording -to sip:desk@192.0.2.10 -filename call -channels 2 \
//	    -sip 0.0.0.0:5060 -public-ip 192.0.2.1 -data-dir ./data
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mediaserver-go/mediaserver"
)

// options are the command-line settings.
type options struct {
	to, filename      string
	channels          int
	sipAddr, publicIP string
	rtpPorts, dataDir string
}

func main() {
	var o options
	flag.StringVar(&o.to, "to", "", "SIP address every call is forwarded to (required unless -demo)")
	flag.StringVar(&o.filename, "filename", "call", "recording file name prefix: <prefix>-<sessionId>.wav")
	flag.IntVar(&o.channels, "channels", 1, "1: a mono mix of both parties; 2: caller left, callee right")
	flag.StringVar(&o.sipAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	flag.StringVar(&o.publicIP, "public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	flag.StringVar(&o.rtpPorts, "rtp-ports", "20000-29999", "RTP port range")
	flag.StringVar(&o.dataDir, "data-dir", "./data", "where recordings are stored")
	demo := flag.Bool("demo", false, "record one call between built-in test phones, check the file and exit")
	verbose := flag.Bool("v", false, "log the server's own messages")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case o.channels != 1 && o.channels != 2:
		err = fmt.Errorf("-channels %d: want 1 or 2", o.channels)
	case *demo:
		if err = runDemo(ctx, os.Stdout, *verbose, o.channels); err != nil {
			err = fmt.Errorf("demo failed: %w", err)
		}
	default:
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "recording:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.to == "" {
		return errors.New("-to is required (or use -demo)")
	}
	lo, hi, err := parsePorts(o.rtpPorts)
	if err != nil {
		return err
	}
	h := &Recorder{To: o.to, Prefix: o.filename, Channels: o.channels,
		Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) },
		OnReady: func(req *mediaserver.RecordingReadyRequest) {
			slog.Info("recording stored", "path", filepath.Join(o.dataDir, req.Filename), "seconds", req.Duration, "bytes", req.Size)
		},
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: o.sipAddr, PublicIP: o.publicIP, RTPPortMin: lo, RTPPortMax: hi, DataDir: o.dataDir,
	})
	if err != nil {
		return err
	}
	go func() {
		<-srv.Ready()
		slog.Info("recording calls", "sip", srv.SIPAddr().String(), "to", o.to, "dataDir", o.dataDir)
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
