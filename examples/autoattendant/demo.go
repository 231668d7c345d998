package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// runDemo runs the auto-attendant flow of the examples document with test
// phones on loopback: alice calls, hears the greeting, presses 2, and is
// connected to support, whose 1000 Hz tone she then hears.
func runDemo(ctx context.Context, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
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
	dataDir, err := os.MkdirTemp("", "autoattendant-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	mode, err := speech(dataDir)
	if err != nil {
		return err
	}

	phones := map[string]float64{"sales": 600, "support": 1000, "alice": 440}
	ph := map[string]*mediaservertest.Phone{}
	for name, hz := range phones {
		p, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: name, ToneHz: hz, Logger: quiet})
		if err != nil {
			return err
		}
		defer p.Close()
		ph[name] = p
	}
	h := &Attendant{Sales: ph["sales"].URI(), Support: ph["support"].URI(), Speech: mode, Log: logf}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: h, SIPAddr: "127.0.0.1:0", RTPPortMin: 41000, RTPPortMax: 41999, Logger: logger, DataDir: dataDir,
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
	logf("speech: %s; alice calls sip:attendant@%s", map[string]string{"tts": "text-to-speech", "file": "bundled WAVs (espeak-ng not installed)"}[mode], srv.SIPAddr())

	call, err := ph["alice"].Dial(ctx, fmt.Sprintf("sip:attendant@%s", srv.SIPAddr()), mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("alice's call: %w", err)
	}
	if err := waitSpeech(ctx, call); err != nil {
		return fmt.Errorf("alice hears no greeting: %w", err)
	}
	logf("alice hears the greeting and presses 2")
	if err := call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733); err != nil {
		return err
	}
	in, err := ph["support"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("support's call: %w", err)
	}
	if err := call.WaitHeard(ctx, 1000, 0.5); err != nil {
		return fmt.Errorf("alice does not hear support: %w", err)
	}
	if err := in.WaitHeard(ctx, 440, 0.5); err != nil {
		return fmt.Errorf("support does not hear alice: %w", err)
	}
	logf("alice and support hear each other (1000 Hz and 440 Hz tones)")
	if err := call.Hangup(ctx); err != nil {
		return err
	}
	if _, err := in.WaitEnded(ctx); err != nil {
		return fmt.Errorf("support was not hung up: %w", err)
	}
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

// waitSpeech waits until the call hears audio well above silence for a
// while: the greeting.
func waitSpeech(ctx context.Context, c *mediaservertest.Call) error {
	for {
		if a := c.Heard().Last(time.Second); a.Duration() >= 800*time.Millisecond && a.Level() > -35 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
