package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CaptureConfig configures StartCapture.
type CaptureConfig struct {
	// Dir holds the capture file Name+".pcap" and dumpcap's log. Required.
	Dir string
	// Name is the base name of the files. Default "capture".
	Name string
	// Ports are the UDP ports to capture on lo, in either direction.
	Ports []uint16
	// Ranges are more UDP port ranges to capture, {min, max} inclusive,
	// e.g. the RTP ports of the server under test.
	Ranges [][2]uint16
	// ProbePort is a UDP port on 127.0.0.1 that nobody listens on and that
	// the test owns; StartCapture and Stop send marker datagrams there to
	// learn when the capture runs and when it has everything. Required.
	ProbePort uint16
	// MaxDuration is dumpcap's own limit (-a duration:). Default 2 minutes.
	MaxDuration time.Duration
}

// Capture is a running packet capture on the loopback interface by dumpcap
// (Debian package tshark or wireshark-common), which needs root or
// CAP_NET_RAW and CAP_NET_ADMIN. It is not safe for concurrent use.
type Capture struct {
	cfg   CaptureConfig
	path  string
	proc  *Process
	probe *net.UDPConn
	seq   int
}

// captureWait bounds how long StartCapture and Stop wait for a marker.
const captureWait = 30 * time.Second

// StartCapture starts dumpcap on lo for cfg.Ports and returns once it
// provably captures (a marker datagram sent to ProbePort is in the file).
// It skips the test (tb.Skip) when dumpcap is not installed or may not
// capture, saying why, and fails it on other errors.
func StartCapture(ctx context.Context, tb testing.TB, cfg CaptureConfig) *Capture {
	tb.Helper()
	if cfg.Name == "" {
		cfg.Name = "capture"
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 2 * time.Minute
	}
	if cfg.Dir == "" || cfg.ProbePort == 0 || len(cfg.Ports)+len(cfg.Ranges) == 0 {
		tb.Fatal("interop: CaptureConfig needs Dir, Ports or Ranges, and ProbePort")
	}
	if why := CaptureUnavailable(); why != "" {
		tb.Skip(why)
	}
	dumpcap, err := exec.LookPath("dumpcap")
	if err != nil {
		tb.Fatal(err)
	}
	var filter []string
	for _, p := range append([]uint16{cfg.ProbePort}, cfg.Ports...) {
		filter = append(filter, fmt.Sprintf("udp port %d", p))
	}
	for _, r := range cfg.Ranges {
		filter = append(filter, fmt.Sprintf("udp portrange %d-%d", r[0], r[1]))
	}
	c := &Capture{cfg: cfg, path: filepath.Join(cfg.Dir, cfg.Name+".pcap")}
	c.probe, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.probe.Close() })
	c.proc = Start(ctx, tb, Command{
		Name: cfg.Name,
		Dir:  cfg.Dir,
		Path: dumpcap,
		Args: []string{"-i", "lo", "-f", strings.Join(filter, " or "), "-P", "-w", c.path,
			"-a", fmt.Sprintf("duration:%d", int(cfg.MaxDuration.Seconds()))},
	})
	if err := c.sync(ctx, "start"); err != nil {
		c.proc.Kill()
		<-c.proc.Done()
		log := tailFile(c.proc.LogPath(), logTail)
		if strings.Contains(log, "ermission") || strings.Contains(log, "Operation not permitted") {
			tb.Skipf("dumpcap may not capture on lo (run as root or give dumpcap CAP_NET_RAW): %s", strings.TrimSpace(log))
		}
		tb.Fatalf("capture did not start: %v\n%s", err, c.proc.LogTail())
	}
	return c
}

// CaptureUnavailable returns why StartCapture would skip the test, or ""
// when dumpcap is installed and the test runs as root.
func CaptureUnavailable() string {
	if _, err := exec.LookPath("dumpcap"); err != nil {
		return "dumpcap is not installed (Debian: apt-get install tshark): a capture is the only way to see what SIPp received"
	}
	if os.Geteuid() != 0 {
		return fmt.Sprintf("capturing on lo needs root (running as uid %d)", os.Geteuid())
	}
	return ""
}

// Path returns the path of the capture file.
func (c *Capture) Path() string { return c.path }

// sync sends marker datagrams to ProbePort until one is in the capture file.
// Since dumpcap writes packets in order, everything captured before the
// marker is in the file too.
func (c *Capture) sync(ctx context.Context, what string) error {
	c.seq++
	marker := []byte(fmt.Sprintf("interop-capture-marker %s %d %d", what, c.seq, os.Getpid()))
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), c.cfg.ProbePort))
	ctx, cancel := context.WithTimeout(ctx, captureWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := c.probe.WriteToUDP(marker, dst); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("interop: send capture marker: %w", err)
		}
		if pkts, err := ReadPcap(c.path); err == nil {
			for _, p := range pkts {
				if p.Dst.Port() == c.cfg.ProbePort && bytes.Equal(p.Payload, marker) {
					return nil
				}
			}
		}
		select {
		case <-tick.C:
		case <-c.proc.Done():
			return fmt.Errorf("interop: dumpcap exited")
		case <-ctx.Done():
			return fmt.Errorf("interop: capture marker %q not seen: %w", marker, ctx.Err())
		}
	}
}

// Stop waits until everything sent so far is in the capture file, stops
// dumpcap and returns the UDP datagrams captured, without the markers. It
// returns an error if dumpcap failed or reports dropped packets.
func (c *Capture) Stop(ctx context.Context) ([]UDPPacket, error) {
	syncErr := c.sync(ctx, "stop")
	code := c.proc.Stop(syscall.SIGTERM, 10*time.Second)
	if syncErr != nil {
		return nil, syncErr
	}
	if code != 0 {
		return nil, fmt.Errorf("interop: dumpcap exited with %d", code)
	}
	if log, err := os.ReadFile(c.proc.LogPath()); err == nil {
		if m := droppedRE.FindSubmatch(log); m != nil {
			if n, _ := strconv.Atoi(string(m[1])); n > 0 {
				return nil, fmt.Errorf("interop: dumpcap dropped %d packets: %s", n, m[0])
			}
		}
	}
	pkts, err := ReadPcap(c.path)
	if err != nil {
		return nil, err
	}
	out := pkts[:0]
	for _, p := range pkts {
		if p.Dst.Port() != c.cfg.ProbePort {
			out = append(out, p)
		}
	}
	return out, nil
}

// droppedRE matches dumpcap's final statistics line, e.g.
// "Packets received/dropped on interface 'Loopback: lo': 2/0 (...)".
var droppedRE = regexp.MustCompile(`received/dropped on interface '[^']*': \d+/(\d+)`)
