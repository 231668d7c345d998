// Command outbound is the /placeivrcall flow of the SIP Mediaserver
// examples as an in-process Handler: the server calls a device (an alarm
// unit, say); when it answers, the application's answer to getIvrCommand,
// {action:"call", destAddr: ARC}, connects it with the alarm receiving
// centre. When one of them hangs up the other is dropped, and the command
// exits.
//
//	go run ./examples/outbound -demo
//	go run ./examples/outbound -device sip:alarm-17@192.0.2.30 -arc sip:arc@192.0.2.40 \
//	    -sip 0.0.0.0:5060 -public-ip 192.0.2.1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mediaserver-go/mediaserver"
)

// options are the command-line settings of the real mode.
type options struct {
	device, arc, callerID string
	sipAddr, publicIP     string
	rtpPorts, dataDir     string
}

func main() {
	var o options
	flag.StringVar(&o.device, "device", "", "SIP address or number of the device to call (required unless -demo)")
	flag.StringVar(&o.arc, "arc", "", "SIP address of the alarm receiving centre the device is connected to (required unless -demo)")
	flag.StringVar(&o.callerID, "caller-id", "", "calling identity presented to the device")
	flag.StringVar(&o.sipAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	flag.StringVar(&o.publicIP, "public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	flag.StringVar(&o.rtpPorts, "rtp-ports", "20000-29999", "RTP port range")
	flag.StringVar(&o.dataDir, "data-dir", "./data", "prompt files and recordings")
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
		fmt.Fprintln(os.Stderr, "outbound:", err)
		os.Exit(1)
	}
}

// run places one call, waits until it is over and returns nil if the
// device and the ARC were connected.
func run(ctx context.Context, o options) error {
	if o.device == "" || o.arc == "" {
		return errors.New("-device and -arc are required (or use -demo)")
	}
	lo, hi, err := parsePorts(o.rtpPorts)
	if err != nil {
		return err
	}
	h := &Outbound{ARC: o.arc, CallerID: o.callerID, Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) }}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: o.sipAddr, PublicIP: o.publicIP, RTPPortMin: lo, RTPPortMax: hi, DataDir: o.dataDir,
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
		return err
	}
	sid, err := h.Place(ctx, o.device)
	if err != nil {
		return err
	}
	if err := h.Wait(ctx, sid); err != nil {
		return err
	}
	slog.Info("call completed: the device talked to the ARC")
	return nil
}

// parsePorts parses "MIN-MAX".
func parsePorts(s string) (lo, hi int, err error) {
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("-rtp-ports %q: want MIN-MAX", s)
	}
	return lo, hi, nil
}
