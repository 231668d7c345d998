package mediaservertest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// A call between two phones, with no server: each hears the other's tone.
// The body is a test function; phones close with the test.
func Example() {
	_ = func(t *testing.T) {
		alice := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "alice", ToneHz: 600})
		bob := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{User: "bob", ToneHz: 1800})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()

		a, err := alice.Dial(ctx, bob.URI(), mediaservertest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := bob.Incoming(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WaitHeard(ctx, 1800, 0.5); err != nil {
			t.Error(err)
		}
		if err := b.WaitHeard(ctx, 600, 0.5); err != nil {
			t.Error(err)
		}
		if err := a.Hangup(ctx); err != nil {
			t.Error(err)
		}
		if reason, _ := b.WaitEnded(ctx); reason != mediaservertest.EndRemoteBye {
			t.Errorf("bob's call ended with %v", reason)
		}
	}
}

// A busy callee: Dial returns the SIP status as a *StatusError.
func ExamplePhone_Dial_busy() {
	_ = func(t *testing.T) {
		caller := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{})
		busy := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{AnswerCode: 486})
		_, err := caller.Dial(t.Context(), busy.URI(), mediaservertest.DialOptions{})
		var se *mediaservertest.StatusError
		if !errors.As(err, &se) || se.Code != 486 {
			t.Errorf("Dial: %v, want 486", err)
		}
	}
}

// Cancelling a call while it rings.
func ExampleCall_Hangup_cancel() {
	_ = func(t *testing.T) {
		caller := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{})
		slow := mediaservertest.NewPhone(t, mediaservertest.PhoneConfig{RingFor: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		call, err := caller.DialAsync(ctx, slow.URI(), mediaservertest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-call.Ringing() // CANCEL needs a provisional response first
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		if call.EndReason() != mediaservertest.EndLocalCancel || call.StatusCode() != 487 {
			t.Errorf("ended %v %d", call.EndReason(), call.StatusCode())
		}
	}
}

// The analysis functions work on any 8 kHz PCM, e.g. a recording.
func ExampleToneShare() {
	tone := make([]int16, 4000) // 0.5 s of 1000 Hz
	for i := range tone {
		tone[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/mediaservertest.SampleRate))
	}
	fmt.Printf("1000 Hz: %.2f\n", mediaservertest.ToneShare(tone, 1000))
	fmt.Printf("1800 Hz: %.2f\n", mediaservertest.ToneShare(tone, 1800))
	fmt.Printf("level: %.0f dBFS\n", mediaservertest.LevelDBFS(tone))
	fmt.Printf("dominant: %.0f Hz\n", mediaservertest.DominantFrequency(tone))
	// Output:
	// 1000 Hz: 1.00
	// 1800 Hz: 0.00
	// level: -13 dBFS
	// dominant: 1000 Hz
}
