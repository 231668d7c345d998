package mediaserver_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
)

// TestConferenceIdleTimeoutRace: with an idle timeout so short that it
// fires before CreateConferenceConnection returns, and with Close racing
// the creations, no conference is left registered, running or counted,
// and nothing panics (the idle timer used to fire before it was stored,
// and end stopped a nil timer: found by FuzzAPIRequest).
func TestConferenceIdleTimeoutRace(t *testing.T) {
	srv, err := mediaserver.New(mediaserver.Config{
		Handler: mediaserver.HandlerFuncs{}, SIPAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: testLogger(), DisablePolly: true, ConferenceIdleTimeout: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				if _, err := srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{}); err != nil {
					if !errors.Is(err, mediaserver.ErrServerClosed) {
						t.Errorf("CreateConferenceConnection: %v", err)
					}
					return
				}
			}
		})
	}
	// Every conference times out: wait (bounded) until none is left.
	deadline := time.Now().Add(20 * time.Second)
	wg.Wait()
	for srv.Stats().Conferences != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d conferences still registered 20 s after their idle timeout", srv.Stats().Conferences)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Then race Close with more creations.
	wg.Go(func() {
		for range 500 {
			if _, err := srv.CreateConferenceConnection(ctx, mediaserver.CreateConferenceRequest{}); err != nil {
				if !errors.Is(err, mediaserver.ErrServerClosed) {
					t.Errorf("CreateConferenceConnection during Close: %v", err)
				}
				return
			}
		}
	})
	time.Sleep(time.Millisecond)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := srv.Stats().Conferences; n != 0 {
		t.Fatalf("%d conferences left after Close", n)
	}
}
