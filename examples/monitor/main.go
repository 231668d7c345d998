// Command monitor is the call monitoring of the SIP Mediaserver examples
// as an in-process Handler: every inbound call is forwarded, and a third
// party (the monitor) is called once the call is answered and hears both
// parties without being heard.
//
//	go run ./examples/monitor -demo
//	go run ./examples/monitor -to sip:desk@192.0.2.10 -monitor sip:supervisor@192.0.2.20 \
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

// options are the command-line settings.
type options struct {
	to, monitor       string
	sipAddr, publicIP string
	rtpPorts, dataDir string
}

func main() {
	var o options
	flag.StringVar(&o.to, "to", "", "SIP address every call is forwarded to (required unless -demo)")
	flag.StringVar(&o.monitor, "monitor", "", "SIP address of the monitor, who listens to every call (required unless -demo)")
	flag.StringVar(&o.sipAddr, "sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	flag.StringVar(&o.publicIP, "public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	flag.StringVar(&o.rtpPorts, "rtp-ports", "20000-29999", "RTP port range")
	flag.StringVar(&o.dataDir, "data-dir", "./data", "prompt files and recordings")
	demo := flag.Bool("demo", false, "run one monitored call between built-in test phones and exit")
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
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.to == "" || o.monitor == "" {
		return errors.New("-to and -monitor are required (or use -demo)")
	}
	lo, hi, err := parsePorts(o.rtpPorts)
	if err != nil {
		return err
	}
	h := &Monitor{To: o.to, MonitorAddr: o.monitor, Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) }}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: o.sipAddr, PublicIP: o.publicIP, RTPPortMin: lo, RTPPortMax: hi, DataDir: o.dataDir,
	})
	if err != nil {
		return err
	}
	go func() {
		<-srv.Ready()
		slog.Info("monitoring calls", "sip", srv.SIPAddr().String(), "to", o.to, "monitor", o.monitor)
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
