package flows

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// Rig is what a driver gives a flow: the application, the server's
// operations and its SIP address.
type Rig struct {
	// App is the application; the flow sets its script.
	App *Recorder
	// Ctl performs the REST operations, in-process or over HTTP.
	Ctl Control
	// SIPAddr is the server's SIP address, host:port.
	SIPAddr string
	// PhoneLogger, when set, receives the phones' logs instead of the test
	// log.
	PhoneLogger *slog.Logger
}

// URI is the server's SIP URI for user.
func (r *Rig) URI(user string) string { return fmt.Sprintf("sip:%s@%s", user, r.SIPAddr) }

// Phone starts a test phone that sends a tone of hz; it is closed when the
// test ends.
func (r *Rig) Phone(t testing.TB, user string, hz float64, mod ...func(*mediaservertest.PhoneConfig)) *mediaservertest.Phone {
	t.Helper()
	cfg := mediaservertest.PhoneConfig{User: user, ToneHz: hz, Logger: r.PhoneLogger}
	for _, m := range mod {
		m(&cfg)
	}
	return mediaservertest.NewPhone(t, cfg)
}

// Flow is one flow of the examples document: its application logic and
// checks (Run) and the callbacks it must produce, in order (Want).
type Flow struct {
	// Name names the flow, e.g. "attended-transfer".
	Name string
	// Doc says what happens, in one sentence.
	Doc string
	// Want is the exact callback sequence, as Recorder.Names gives it.
	Want []string
	// Run sets the application's script, uploads its prompts, drives the
	// phones, checks what they hear by content and waits for the flow's last
	// callback. It fails t on any error.
	Run func(ctx context.Context, t testing.TB, r *Rig)
}

// Timeout bounds one flow on a loaded machine.
const Timeout = 90 * time.Second

// Check runs f with rig and then compares the callbacks with f.Want. It
// returns the callbacks' names.
func (f Flow) Check(t testing.TB, rig *Rig) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	f.Run(ctx, t, rig)
	got := rig.App.Names()
	if !slices.Equal(got, f.Want) {
		t.Errorf("flow %s: callbacks\n got  %s\n want %s", f.Name, strings.Join(got, ", "), strings.Join(f.Want, ", "))
	}
	return got
}

// ToneWAV returns a WAV file (8 kHz mono) of a sine tone at about -13 dBFS.
func ToneWAV(hz float64, d time.Duration) []byte {
	pcm := make([]int16, int(d.Seconds()*mediaservertest.SampleRate))
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*hz*float64(i)/mediaservertest.SampleRate))
	}
	return mediaservertest.EncodeWAV(pcm)
}

// result carries a value and an error to a test's check: try(f()).must(t).
type result[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) result[T] { return result[T]{v, err} }

// must fails the test on the error and returns the value.
func (r result[T]) must(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// ok fails the test on err.
func ok(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// hears fails the test unless c hears hz (share minShare) before ctx ends.
func hears(ctx context.Context, t testing.TB, who string, c *mediaservertest.Call, hz, minShare float64) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitHeard(wctx, hz, minShare); err != nil {
		t.Fatalf("%s does not hear %.0f Hz: %v", who, hz, err)
	}
}

// endsByBye fails the test unless c is hung up by the server.
func endsByBye(ctx context.Context, t testing.TB, who string, c *mediaservertest.Call) {
	t.Helper()
	if r, err := c.WaitEnded(ctx); err != nil || r != mediaservertest.EndRemoteBye {
		t.Fatalf("%s's call ended with %v, %v; want a BYE from the server", who, r, err)
	}
}
