package e2e_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// espeak reports whether the server can speak awstts phrases here.
func espeak() bool {
	_, err := exec.LookPath("espeak-ng")
	return err == nil
}

// waitSpeech waits until c hears a second of audio well above silence:
// a spoken prompt.
func waitSpeech(ctx context.Context, t *testing.T, who string, c *mediaservertest.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if a := c.Heard().Last(time.Second); a.Duration() >= 800*time.Millisecond && a.Level() > -35 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s hears no speech: last second at %.1f dBFS", who, c.Heard().Last(time.Second).Level())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitHeard fails the test unless c hears hz as its main tone within 30 s.
func waitHeard(ctx context.Context, t *testing.T, who string, c *mediaservertest.Call, hz float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitHeard(ctx, hz, 0.5); err != nil {
		t.Fatalf("%s does not hear %.0f Hz: %v", who, hz, err)
	}
}
