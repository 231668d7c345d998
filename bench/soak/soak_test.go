package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestSoakSmoke is a short soak: a few dozen calls of the four kinds with
// churn for 20 s, then it asserts that goroutines, open fds, UDP sockets,
// live sessions and the live heap of the server are back to the baseline
// within the tolerances of defaultConfig. It judges no timing: the waits
// are bounds, generous for a loaded 2-core machine under -race. It needs
// sipp; without root it sends no digit (play_pcap_audio needs raw sockets).
func TestSoakSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the SIPp soak smoke run")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Duration, cfg.Calls = 20*time.Second, 24
	cfg.MinCall, cfg.MaxCall = 3*time.Second, 8*time.Second
	cfg.Ramp, cfg.Sample = 5*time.Second, 2*time.Second
	cfg.TransferAfter, cfg.ConsultFor = time.Second, time.Second
	cfg.Settle = 3 * time.Minute
	// Ports of their own, so that the smoke test can run beside a soak
	// run with the defaults.
	cfg.SIPpSIPBase, cfg.SIPpMediaBase, cfg.RTPPorts = 35150, 35700, "44300-44499"
	cfg.NoDTMF = os.Geteuid() != 0
	cfg.MaxFailedPct = 5
	cfg.Root, cfg.Work, cfg.Out = root, t.TempDir(), ""
	cfg.Command = "go test ./bench/soak/ -run TestSoakSmoke"
	cfg.Logf = t.Logf
	for p := cfg.SIPpSIPBase; p < cfg.SIPpSIPBase+sipPortsUsed; p++ {
		skipIfTaken(t, p)
	}
	for p := cfg.SIPpMediaBase; p < cfg.SIPpMediaBase+mediaPortsUsed; p++ {
		skipIfTaken(t, p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if res != nil {
		t.Logf("\n%s", res.Table())
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the smoke run did not finish within 8 minutes: %v", err)
		}
		t.Fatal(err)
	}
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s not back to baseline: baseline %d, peak %d, end %d (tolerance %d)", c.Name, c.Baseline, c.Peak, c.End, c.Tol)
		}
	}
	if h := res.HeapCheck; !h.OK {
		t.Errorf("live heap after GC: baseline %.1f MB, end %.1f MB (tolerance %.0f MB)", h.BaselineMB, h.EndMB, h.TolMB)
	}
	if res.Peak.Sessions < cfg.Calls/2 {
		t.Errorf("at most %d sessions at once; the load did not build up", res.Peak.Sessions)
	}
	for _, r := range routes {
		if res.SIPp[r].Successful == 0 {
			t.Errorf("no %s call completed", r)
		}
	}
	if !cfg.NoDTMF && res.Server.Counters.Digits == 0 {
		t.Errorf("no digit detected in %d IVR calls", res.SIPp["ivr"].Successful)
	}
	if res.Server.Counters.Transferred == 0 {
		t.Errorf("no transfer completed")
	}
	if total := res.Completed + res.Failed; 100*float64(res.Failed) > cfg.MaxFailedPct*float64(total) {
		t.Errorf("%d of %d calls failed: %s", res.Failed, total, res.callBreakdown())
	}
}

// skipIfTaken skips the test when a fixed UDP port is in use (another
// smoke run at the same time).
func skipIfTaken(t *testing.T, port int) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("UDP port %d is taken (another soak smoke run?): %v", port, err)
	}
	c.Close()
}
