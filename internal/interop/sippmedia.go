package interop

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ShippedDTMFPcap returns the path of the RFC 4733 pcap that the Debian
// package sip-tester ships for digit (0-9, "star", "pound"), or skips the
// test when it is not installed. Each holds one event, payload type 101, ten
// packets over 140 ms, the first with duration 0 (INTEROP.md §1).
func ShippedDTMFPcap(tb testing.TB, digit string) string {
	tb.Helper()
	name := "dtmf_2833_" + digit + ".pcap"
	if out, err := exec.Command("dpkg", "-L", "sip-tester").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if filepath.Base(line) == name {
				return line
			}
		}
	}
	for _, dir := range []string{"/usr/share/sip-tester", "/usr/local/share/sipp", "/usr/share/sipp"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	tb.Skipf("%s not found: SIPp's shipped pcaps come with Debian's sip-tester", name)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// DTMFPcapOptions says how PrepareDTMFPcap changes a DTMF pcap.
type DTMFPcapOptions struct {
	// PayloadType replaces the payload type of every packet (keeping the
	// marker bit). 0 keeps it.
	PayloadType uint8
	// FirstDuration replaces the duration of the first event packet, which is
	// 0 in SIPp's pcaps; RFC 4733 allows 0, but test both forms. 0 keeps it.
	FirstDuration uint16
}

// PrepareDTMFPcap copies the RFC 4733 pcap src to dst with opts applied.
func PrepareDTMFPcap(src, dst string, opts DTMFPcapOptions) error {
	first := true
	_, err := RewritePcap(src, dst, func(_ int, p []byte) {
		if len(p) < 16 || p[0]>>6 != 2 {
			return
		}
		if opts.PayloadType != 0 {
			p[1] = p[1]&0x80 | opts.PayloadType&0x7f
		}
		if first && opts.FirstDuration != 0 {
			binary.BigEndian.PutUint16(p[14:16], opts.FirstDuration) // 12-byte header, then event, E|R|volume, duration
		}
		first = false
	})
	if err != nil {
		return fmt.Errorf("interop: prepare dtmf pcap: %w", err)
	}
	return nil
}
