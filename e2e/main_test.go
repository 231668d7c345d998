// Package e2e_test runs cmd/mediaserver, built once, as a process on
// loopback against webhook applications and SIP peers: the flows of the
// examples document over HTTP and in-process from one table
// (internal/flows), real foreign peers (SIPp, baresip) through the
// auto-attendant webhook application (examples/webhookapp), and bad input
// against the running binary. Every REST exchange and every callback is
// validated against callback/openapi.json. All tests skip with -short.
//
// Ports owned by this package (apart from INTEROP.md's table and the other
// packages' fixed ports):
//
//	in-process servers  RTP 51000-52499 (examples/webhookapp's demo: 52500-52999)
//	the binary          RTP 53000-54999, SIP and API on 127.0.0.1:0
//	SIPp caller         SIP 37060, control 37061, RTP 38060 (+38062)
//	SIPp callee         SIP 37070, control 37071, RTP 38070 (+38072)
//	capture probe       UDP 38099
//	baresip support     SIP 37100 (TCP 37100, 37101), ctrl_tcp 37110, RTP 39100-39119
//	baresip alice       SIP 37120 (TCP 37120, 37121), ctrl_tcp 37130, RTP 39120-39139
package e2e_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"go.uber.org/goleak"
)

// Ports of this package.
const (
	localRTPMin, localRTPMax   = 51000, 52499
	binaryRTPMin, binaryRTPMax = 53000, 54999
)

// bins holds the programs TestMain built: "mediaserver", "webhookapp".
var bins = map[string]string{}

// buildErr is why the build failed; tests that need the binaries fail with it.
var buildErr error

func TestMain(m *testing.M) {
	flag.Parse()
	// The validator decodes binary bodies of these types as opaque files.
	for _, ct := range []string{"audio/wav", "audio/mpeg", "audio/x-wav"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		buildErr = build(dir)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// build compiles the command and the webhook example into dir.
func build(dir string) error {
	for name, pkg := range map[string]string{"mediaserver": "../cmd/mediaserver", "webhookapp": "../examples/webhookapp"} {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		bins[name] = out
	}
	return nil
}

// binary returns the path of a program TestMain built, skipping with
// -short.
func binary(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with the built binary: skipped with -short")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins[name]
}
