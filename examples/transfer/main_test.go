package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestDemo runs the whole demo in-process: three phones, the transfer and
// its audio checks.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo with SIP phones on loopback")
	}
	if err := runDemo(t.Context(), t.Output(), false); err != nil {
		t.Fatal(err)
	}
}
