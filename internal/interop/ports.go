package interop

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// pollInterval is how often the Wait functions of this package look again.
const pollInterval = 20 * time.Millisecond

// UDPBound reports whether some socket is bound to UDP port on 127.0.0.1 or
// on all IPv4 addresses, from /proc/net/udp (Linux). It only reads, so it
// never races the program that is about to bind the port.
func UDPBound(port uint16) (bool, error) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false, fmt.Errorf("interop: %w", err)
	}
	defer f.Close()
	want := []string{
		fmt.Sprintf("0100007F:%04X", port), // 127.0.0.1, little-endian hex
		fmt.Sprintf("00000000:%04X", port), // 0.0.0.0
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		for _, w := range want {
			if fields[1] == w {
				return true, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("interop: read /proc/net/udp: %w", err)
	}
	return false, nil
}

// WaitUDPBound polls until UDP port is bound (see UDPBound), p exits, or ctx
// is done. p may be nil.
func WaitUDPBound(ctx context.Context, p *Process, port uint16) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Done()
	}
	for {
		ok, err := UDPBound(port)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-tick.C:
		case <-exited:
			return fmt.Errorf("interop: %s exited before binding udp port %d", p.Name(), port)
		case <-ctx.Done():
			return fmt.Errorf("interop: udp port %d not bound: %w", port, ctx.Err())
		}
	}
}

// itoa is strconv.Itoa for the port types of this package.
func itoa[T ~int | ~uint16](v T) string { return strconv.Itoa(int(v)) }
