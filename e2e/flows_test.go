package e2e_test

import (
	"slices"
	"testing"

	"github.com/mediaserver-go/mediaserver"
	"github.com/mediaserver-go/mediaserver/internal/flows"
)

// TestFlows runs every flow of the examples document twice from the one
// table of internal/flows: in-process (the Recorder is the server's
// Handler, REST operations are Server methods) and over HTTP (the same
// Recorder is a webhook application on httptest that cmd/mediaserver, run
// as a process, calls; REST operations go to its API). Each run must give
// the flow's callback sequence, so the two are identical; each checks by
// content who hears what; over HTTP every callback is signature-checked
// and every exchange validated against the OpenAPI document, and the
// binary must drain and exit 0.
func TestFlows(t *testing.T) {
	binary(t, "mediaserver")
	for _, f := range flows.Table() {
		t.Run(f.Name, func(t *testing.T) {
			var local, remote []string
			t.Run("in-process", func(t *testing.T) {
				rig, _ := flows.StartLocal(t, func(c *mediaserver.Config) {
					c.RTPPortMin, c.RTPPortMax = localRTPMin, localRTPMax
				})
				local = f.Check(t, rig)
			})
			t.Run("http", func(t *testing.T) {
				rig, m := startHTTP(t)
				remote = f.Check(t, rig)
				m.shutdown(t)
			})
			if local != nil && remote != nil && !slices.Equal(local, remote) {
				t.Errorf("the same application gave different callbacks\n in-process %v\n over HTTP  %v", local, remote)
			}
		})
	}
}
