package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestDemo runs the README's main command in-process: alice hears the
// greeting (spoken by espeak-ng, or the bundled WAVs without it), presses
// 2, and she and support hear each other's tones; the session completes.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo with SIP phones on loopback")
	}
	if err := runDemo(t.Context(), false); err != nil {
		t.Fatal(err)
	}
}
