// Command forward is a mediaserver application that routes every inbound
// call to one SIP address: the smallest useful Handler.
//
//	go run ./examples/forward -to sip:desk@192.0.2.10:5060 -sip 0.0.0.0:5060 -public-ip 192.0.2.1
//	go run ./examples/forward -demo   # two built-in test phones on loopback
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// forwarder answers newCall with a call to To, and drops whoever is left
// when the other party hangs up. It logs every callback it gets.
type forwarder struct {
	To  string
	Log func(format string, args ...any)
}

func (f *forwarder) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	f.Log("newCall          from %s (call-id %s)", req.CallingParty, req.SipCallID)
	return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: f.To}, nil
}

func (f *forwarder) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	f.Log("callEvent        %s user=%s reason=%s status=%d", req.Event, req.User, req.Reason, req.SipStatusCode)
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

func (f *forwarder) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	return mediaserver.IvrCommand{Hangup: true}, nil
}

func (f *forwarder) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	f.Log("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

func (f *forwarder) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	f.Log("callAnswered     %s: caller %s, callee %s", req.ConnectionID, req.CallerUser, req.CalleeUser)
	return nil
}

func (f *forwarder) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	f.Log("sessionCompleted after %s s", req.SessionDuration)
	return nil
}

func main() {
	to := flag.String("to", "", "SIP address every call is forwarded to (required unless -demo)")
	sipAddr := flag.String("sip", "127.0.0.1:5060", "SIP listen address (UDP and TCP)")
	publicIP := flag.String("public-ip", "", "IP advertised in SDP and Contact (default: the listen IP)")
	rtp := flag.String("rtp-ports", "20000-29999", "RTP port range")
	demo := flag.Bool("demo", false, "run one call between two built-in test phones and exit")
	verbose := flag.Bool("v", false, "log the server's own messages")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *demo {
		err = runDemo(ctx, *verbose)
	} else {
		err = run(ctx, *to, *sipAddr, *publicIP, *rtp)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "forward:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, to, sipAddr, publicIP, rtpPorts string) error {
	if to == "" {
		return errors.New("-to is required")
	}
	var lo, hi int
	if _, err := fmt.Sscanf(rtpPorts, "%d-%d", &lo, &hi); err != nil {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", rtpPorts)
	}
	h := &forwarder{To: to, Log: func(f string, a ...any) { slog.Info(fmt.Sprintf(f, a...)) }}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: sipAddr, PublicIP: publicIP, RTPPortMin: lo, RTPPortMax: hi,
	})
	if err != nil {
		return err
	}
	go func() {
		<-srv.Ready()
		slog.Info("forwarding", "sip", srv.SIPAddr().String(), "to", to)
	}()
	if err := srv.Serve(ctx); !errors.Is(err, mediaserver.ErrServerClosed) {
		return err
	}
	return nil
}

// runDemo starts the server on loopback with two test phones: alice calls
// the server, which forwards to bob; they talk (440 Hz and 1000 Hz tones,
// checked by frequency), alice hangs up.
func runDemo(ctx context.Context, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("%6.2fs  "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	logger := quiet
	if verbose {
		logger = slog.Default()
	}
	bob, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "bob", ToneHz: 1000, Logger: quiet})
	if err != nil {
		return err
	}
	defer bob.Close()
	alice, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: "alice", ToneHz: 440, Logger: quiet})
	if err != nil {
		return err
	}
	defer alice.Close()

	dataDir, err := os.MkdirTemp("", "forward-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	h := &forwarder{To: bob.URI(), Log: logf}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: "127.0.0.1:0", RTPPortMin: 40000, RTPPortMax: 40999, Logger: logger, DataDir: dataDir,
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
	case <-ctx.Done():
		return ctx.Err()
	}
	target := fmt.Sprintf("sip:forward@%s", srv.SIPAddr())
	logf("alice dials %s; the server forwards to %s", target, bob.URI())

	call, err := alice.Dial(ctx, target, mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("alice's call: %w", err)
	}
	in, err := bob.Incoming(ctx)
	if err != nil {
		return fmt.Errorf("bob's call: %w", err)
	}
	if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
		return fmt.Errorf("alice does not hear bob: %w", err)
	}
	if err := in.WaitHeard(ctx, 440, 0.5); err != nil {
		return fmt.Errorf("bob does not hear alice: %w", err)
	}
	logf("alice hears bob's 1000 Hz tone, bob hears alice's 440 Hz tone")
	if err := call.Hangup(ctx); err != nil {
		return err
	}
	if _, err := in.WaitEnded(ctx); err != nil {
		return fmt.Errorf("bob was not hung up: %w", err)
	}
	logf("bob got BYE")
	for srv.Sessions() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("session did not complete: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, tr := range srv.RecentTraces() {
		fmt.Printf("\nCall flow of session %s (Mermaid):\n%s", tr.SessionID, tr.Diagram)
	}
	logf("demo done")
	return nil
}
