package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the driver's -smoke mode (a few IVR and bridged calls per
// server) so the harness keeps working. It reports numbers and judges only
// that calls completed, never speed. It needs sipp; without root it runs
// without RTP capture and without the RFC 4733 digit.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the SIPp smoke run")
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (apt-get install sip-tester)")
	}
	// The driver uses fixed loopback ports; a campaign may be running.
	for _, port := range []string{"35060", "35061", "35070", "35071", "35080", "36000", "36010"} {
		c, err := net.ListenPacket("udp", "127.0.0.1:"+port)
		if err != nil {
			t.Skipf("UDP port %s is taken (a bench run in progress?): %v", port, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"run", "./driver", "-smoke"}
	if os.Geteuid() != 0 {
		args = append(args, "-no-capture", "-no-dtmf")
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if strings.Contains(string(out), "another bench driver is running") {
		t.Skip("another bench driver holds the machine lock")
	}
	if err != nil {
		t.Fatalf("driver -smoke: %v", err)
	}
	var rows int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 13 || (f[0] != "ivr" && f[0] != "bridge") {
			continue
		}
		rows++
		if f[11] != "0" {
			t.Errorf("%s %s: %s failed calls", f[0], f[1], f[11])
		}
		if f[10] == "0" {
			t.Errorf("%s %s: no call completed", f[0], f[1])
		}
	}
	if rows != 4 {
		t.Errorf("want 4 result rows (ivr and bridge for ours and diago), got %d", rows)
	}
	if strings.Contains(string(out), "error:") {
		t.Errorf("the smoke run recorded errors")
	}
}
