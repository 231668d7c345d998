package flows

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// StartLocal is the in-process driver: it runs a server on 127.0.0.1
// whose Handler is a new Recorder and returns the Rig over it. mod may
// change the configuration (RTP ports, logger). The server is closed when
// the test ends.
func StartLocal(t testing.TB, mod func(*mediaserver.Config)) (*Rig, *mediaserver.Server) {
	t.Helper()
	app := NewRecorder()
	cfg := mediaserver.Config{
		Handler:         app,
		SIPAddr:         "127.0.0.1:0",
		DataDir:         t.TempDir(),
		DecisionTimeout: 5 * time.Second,
		DisablePolly:    true,
		Logger:          slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := mediaserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, mediaserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready")
	}
	return &Rig{App: app, Ctl: Local{Server: srv}, SIPAddr: srv.SIPAddr().String()}, srv
}
