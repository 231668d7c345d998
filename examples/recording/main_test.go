package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestDemo runs the whole demo in-process, with a mono and a two-channel
// recording: two phones, the recorded call, and the checks of the file.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo with SIP phones on loopback")
	}
	for _, channels := range []int{1, 2} {
		t.Run(map[int]string{1: "mono", 2: "two channels"}[channels], func(t *testing.T) {
			if err := runDemo(t.Context(), t.Output(), false, channels); err != nil {
				t.Fatal(err)
			}
		})
	}
}
