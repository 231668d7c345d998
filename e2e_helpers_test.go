package mediaserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// testLogger is silent unless MEDIASERVER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("MEDIASERVER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a server on loopback for the test and closes it at the
// end.
func startServer(t *testing.T, h mediaserver.Handler, mod ...func(*mediaserver.Config)) *mediaserver.Server {
	t.Helper()
	cfg := mediaserver.Config{
		Handler:         h,
		SIPAddr:         "127.0.0.1:0",
		RTPPortMin:      42000,
		RTPPortMax:      45999,
		Logger:          testLogger(),
		DecisionTimeout: 3 * time.Second,
		DataDir:         t.TempDir(),
	}
	for _, m := range mod {
		m(&cfg)
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
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	return srv
}

func serverURI(srv *mediaserver.Server, user string) string {
	return fmt.Sprintf("sip:%s@%s", user, srv.SIPAddr())
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a Handler that records the callbacks it gets, in order, and
// answers with the functions a test sets.
type recorder struct {
	mediaserver.HandlerFuncs
	mu     sync.Mutex
	events []string
	notify chan string
}

func newRecorder() *recorder {
	return &recorder{notify: make(chan string, 256)}
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.notify <- ev:
	default:
	}
}

// Events returns the callbacks so far, e.g. "newCall", "callEvent:callingPartyDrop".
func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// wait blocks until a callback whose name starts with prefix was recorded.
func (r *recorder) wait(ctx context.Context, t *testing.T, prefix string) {
	t.Helper()
	for {
		for _, e := range r.Events() {
			if strings.HasPrefix(e, prefix) {
				return
			}
		}
		select {
		case <-r.notify:
		case <-ctx.Done():
			t.Fatalf("no %s callback; got %v", prefix, r.Events())
		}
	}
}

func (r *recorder) NewCall(ctx context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	r.add("newCall")
	return r.HandlerFuncs.NewCall(ctx, req)
}

func (r *recorder) CallEvent(ctx context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	ev := "callEvent:" + req.Event
	if req.Reason != "" {
		ev += ":" + req.Reason
	}
	r.add(ev)
	return r.HandlerFuncs.CallEvent(ctx, req)
}

func (r *recorder) GetIvrCommand(ctx context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	r.add("getIvrCommand")
	return r.HandlerFuncs.GetIvrCommand(ctx, req)
}

func (r *recorder) CallNotify(ctx context.Context, req *mediaserver.CallNotifyRequest) error {
	r.add("callNotify:" + req.Event)
	return r.HandlerFuncs.CallNotify(ctx, req)
}

func (r *recorder) CallAnswered(ctx context.Context, req *mediaserver.CallAnsweredRequest) error {
	r.add("callAnswered")
	return r.HandlerFuncs.CallAnswered(ctx, req)
}

func (r *recorder) SessionCompleted(ctx context.Context, req *mediaserver.SessionCompletedRequest) error {
	r.add("sessionCompleted")
	return r.HandlerFuncs.SessionCompleted(ctx, req)
}

func (r *recorder) RecordingReady(ctx context.Context, req *mediaserver.RecordingReadyRequest) error {
	r.add("recordingReady")
	return r.HandlerFuncs.RecordingReady(ctx, req)
}

// callTo answers newCall with a call to dest and every callEvent with drop.
func callTo(dest string) *recorder {
	r := newRecorder()
	r.NewCallFunc = func(context.Context, *mediaserver.NewCallRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: dest}, nil
	}
	r.CallEventFunc = func(context.Context, *mediaserver.CallEventRequest) (mediaserver.Action, error) {
		return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
	}
	return r
}

func newPhone(t *testing.T, user string, hz float64, mod ...func(*mediaservertest.PhoneConfig)) *mediaservertest.Phone {
	t.Helper()
	cfg := mediaservertest.PhoneConfig{User: user, ToneHz: hz, Logger: testLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	return mediaservertest.NewPhone(t, cfg)
}

// waitSessions waits until the server has n sessions.
func waitSessions(ctx context.Context, t *testing.T, srv *mediaserver.Server, n int) {
	t.Helper()
	for srv.Sessions() != n {
		select {
		case <-ctx.Done():
			t.Fatalf("server has %d sessions, want %d", srv.Sessions(), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func wantEvents(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("callbacks:\n got  %v\n want %v", got, want)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
