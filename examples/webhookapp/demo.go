package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/callback"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// The callbacks of the demo's call, in the order the examples document
// gives for the auto-attendant (API.md §8.1).
var demoCallbacks = []string{"newCall", "callAnswered", "getIvrCommand", "getIvrCommand",
	"callEvent", "callAnswered", "callEvent", "sessionCompleted"}

// The demo's phones send tones (INTEROP.md §3), so that who hears whom is
// checked by content.
const (
	aliceHz   = 440
	supportHz = 1000
	salesHz   = 1800
)

// runDemo runs the auto-attendant over HTTP in one process: the library's
// server with the webhook adapter (callback.NewHandler) posting to this
// application on a loopback listener, the REST API (callback.NewAPI) on
// another, and test phones. Alice calls, hears the greeting, presses 2 and
// talks to support. The callbacks are printed as the application gets them,
// and checked against the examples document's order.
func runDemo(ctx context.Context, out io.Writer, verbose bool) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var seen []string
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%6.2fs  "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
	}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.Default()
	}
	dataDir, err := os.MkdirTemp("", "webhookapp-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)

	phones := map[string]*mediaservertest.Phone{}
	for name, hz := range map[string]float64{"alice": aliceHz, "sales": salesHz, "support": supportHz} {
		p, err := mediaservertest.StartPhone(mediaservertest.PhoneConfig{User: name, ToneHz: hz, Logger: logger})
		if err != nil {
			return err
		}
		defer p.Close()
		phones[name] = p
	}

	// The webhook application, verifying every callback's HS256 signature.
	secret := []byte(rand.Text())
	app := &App{Sales: phones["sales"].URI(), Support: phones["support"].URI(),
		Verify: &callback.VerifyOptions{Secret: secret},
		Log: func(name, summary string) {
			mu.Lock()
			seen = append(seen, name)
			mu.Unlock()
			printf("POST /%-16s %s", name, summary)
		}}
	appURL, stopApp, err := listen(app)
	if err != nil {
		return err
	}
	defer stopApp()

	// The server side: what cmd/mediaserver wires up, in-process.
	hooks, err := callback.NewHandler(callback.Config{BaseURL: appURL, Secret: secret, Logger: logger})
	if err != nil {
		return err
	}
	defer hooks.Close()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: hooks, SIPAddr: "127.0.0.1:0", RTPPortMin: 52500, RTPPortMax: 52999,
		Logger: logger, DataDir: dataDir, APIBaseURL: "http://" + apiLn.Addr().String(),
		DecisionTimeout: 6 * time.Second, DisablePolly: os.Getenv("AWS_ACCESS_KEY_ID") == "",
	})
	if err != nil {
		_ = apiLn.Close()
		return err
	}
	api, err := callback.NewAPI(callback.APIConfig{Server: srv, Logger: logger})
	if err != nil {
		_ = apiLn.Close()
		return err
	}
	apiCtx, stopAPI := context.WithCancel(context.Background())
	apiDone := make(chan error, 1)
	go func() { apiDone <- serveUntil(apiCtx, apiLn, api) }()
	defer func() { stopAPI(); <-apiDone }()
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
	case <-ctx.Done():
		return ctx.Err()
	}
	tts := ttsAvailable()
	printf("webhook application on %s; server SIP %s, REST API http://%s", appURL, srv.SIPAddr(), apiLn.Addr())

	call, err := phones["alice"].Dial(ctx, fmt.Sprintf("sip:attendant@%s", srv.SIPAddr()), mediaservertest.DialOptions{})
	if err != nil {
		return fmt.Errorf("alice's call: %w", err)
	}
	if tts {
		if err := waitSpeech(ctx, call); err != nil {
			return fmt.Errorf("alice hears no greeting: %w", err)
		}
		printf("alice hears the greeting (speech) and presses 2")
	} else {
		printf("no text-to-speech engine (install espeak-ng): the greeting is silent; alice presses 2")
	}
	if err := call.SendDigits(ctx, "2", mediaservertest.DTMFRFC4733); err != nil {
		return err
	}
	in, err := phones["support"].Incoming(ctx)
	if err != nil {
		return fmt.Errorf("support's call: %w", err)
	}
	if err := heard(ctx, call, supportHz); err != nil {
		return fmt.Errorf("alice does not hear support: %w", err)
	}
	if err := heard(ctx, in, aliceHz); err != nil {
		return fmt.Errorf("support does not hear alice: %w", err)
	}
	printf("alice and support hear each other (%d Hz and %d Hz tones)", supportHz, aliceHz)
	if err := call.Hangup(ctx); err != nil {
		return err
	}
	if _, err := in.WaitEnded(ctx); err != nil {
		return fmt.Errorf("support was not hung up: %w", err)
	}
	for {
		mu.Lock()
		done := slices.Contains(seen, "sessionCompleted")
		got := slices.Clone(seen)
		mu.Unlock()
		if done {
			if !slices.Equal(got, demoCallbacks) {
				return fmt.Errorf("callbacks %v, want %v", got, demoCallbacks)
			}
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no sessionCompleted; callbacks %v: %w", got, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	printf("callbacks in the examples document's order: %s", strings.Join(demoCallbacks, ", "))
	for _, tr := range srv.RecentTraces() {
		diagram, err := get(ctx, "http://"+apiLn.Addr().String()+"/sessions/"+tr.SessionID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nCall flow of session %s (GET /sessions/%s, Mermaid):\n%s", tr.SessionID, tr.SessionID, diagram)
	}
	printf("demo done")
	return nil
}

// listen serves h on a loopback port and returns its URL and a function
// that stops it.
func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUntil(ctx, ln, h) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// get returns the body of a GET that must answer 200.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

// ttsAvailable reports whether the server can speak awstts phrases.
func ttsAvailable() bool {
	_, err := exec.LookPath("espeak-ng")
	return err == nil || os.Getenv("AWS_ACCESS_KEY_ID") != ""
}

// heard waits, at most 20 s, until c hears hz.
func heard(ctx context.Context, c *mediaservertest.Call, hz float64) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return c.WaitHeard(ctx, hz, 0.5)
}

// waitSpeech waits until the call hears audio well above silence for a
// while: the spoken greeting.
func waitSpeech(ctx context.Context, c *mediaservertest.Call) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if a := c.Heard().Last(time.Second); a.Duration() >= 800*time.Millisecond && a.Level() > -35 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("last second heard at %.1f dBFS", c.Heard().Last(time.Second).Level()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
