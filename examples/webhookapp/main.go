// Command webhookapp is the auto-attendant of the SIP Mediaserver examples
// as a webhook application: an HTTP server that cmd/mediaserver (or the
// hosted service) POSTs its callbacks to — /newCall, /getIvrCommand,
// /callEvent, /callNotify, /callAnswered, /sessionCompleted,
// /recordingReady — and that answers with JSON: greet with text-to-speech,
// collect one digit, 1 → sales, 2 → support, anything else → ask again, the
// third time hang up. examples/autoattendant is the same logic in-process.
//
//	go run ./examples/webhookapp -demo
//	go run ./examples/webhookapp -listen 127.0.0.1:3000 -secret s3cret \
//	    -sales sip:sales@192.0.2.10 -support sip:support@192.0.2.11
//	go run ./cmd/mediaserver -callback-url http://127.0.0.1:3000 -callback-secret s3cret
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver/callback"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address of the webhook server (port 0 picks one)")
	sales := flag.String("sales", "", "SIP address of sales (digit 1)")
	support := flag.String("support", "", "SIP address of support (digit 2)")
	secret := flag.String("secret", "", "shared secret of HS256-signed callbacks (cmd/mediaserver -callback-secret; or WEBHOOKAPP_SECRET)")
	verifyKey := flag.String("verify-key", "", "PEM file of the RSA public key of RS256-signed callbacks (cmd/mediaserver -callback-signing-key's public half)")
	demo := flag.Bool("demo", false, "run the whole flow in-process with built-in test phones and exit")
	verbose := flag.Bool("v", false, "log the server's own messages (with -demo)")
	flag.Parse()
	if *secret == "" {
		*secret = os.Getenv("WEBHOOKAPP_SECRET")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *demo {
		err = runDemo(ctx, os.Stdout, *verbose)
	} else {
		err = run(ctx, *listen, *sales, *support, *secret, *verifyKey)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookapp:", err)
		os.Exit(1)
	}
}

// run serves the application on listen until ctx ends.
func run(ctx context.Context, listen, sales, support, secret, verifyKey string) error {
	if sales == "" || support == "" {
		return errors.New("-sales and -support are required (or use -demo)")
	}
	verify, err := verifyOptions(secret, verifyKey)
	if err != nil {
		return err
	}
	if verify == nil {
		slog.Warn("callbacks are not verified: set -secret or -verify-key to match cmd/mediaserver's -callback-secret or -callback-signing-key")
	}
	app := &App{Sales: sales, Support: support, Verify: verify,
		Log: func(name, summary string) { slog.Info(name + " " + summary) }}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	slog.Info("listening", "url", "http://"+ln.Addr().String(), "verify", verify != nil)
	return serveUntil(ctx, ln, app)
}

// verifyOptions builds the signature check of -secret and -verify-key;
// nil when neither is set.
func verifyOptions(secret, keyFile string) (*callback.VerifyOptions, error) {
	if secret == "" && keyFile == "" {
		return nil, nil
	}
	v := &callback.VerifyOptions{Secret: []byte(secret)}
	if keyFile != "" {
		k, err := loadPublicKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("-verify-key: %w", err)
		}
		v.PublicKey = k
	}
	return v, nil
}

// serveUntil serves h on ln until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
