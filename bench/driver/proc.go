package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clkTck is USER_HZ, the unit of the CPU times in /proc (100 on Linux).
const clkTck = 100

// procCPU returns a process's user+system CPU seconds (all threads).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // comm may hold spaces
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / clkTck, nil
}

// procMem returns VmRSS and VmHWM in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v * 1024
		case "VmHWM:":
			hwm = v * 1024
		}
	}
	return rss, hwm, nil
}

// cpuTimes is the machine-wide line of /proc/stat, in seconds.
type cpuTimes struct {
	busy, total, softirq, steal float64
	nice                        float64 // niced work (busy includes it)
}

func machineCPU() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	var t cpuTimes
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		t.total += x / clkTck
		if i != 3 && i != 4 { // idle, iowait
			t.busy += x / clkTck
		}
		if i == 5 || i == 6 { // irq, softirq: loopback packets are handled here
			t.softirq += x / clkTck
		}
		if i == 1 { // nice: low-priority work, e.g. a fuzzer at nice 19
			t.nice += x / clkTck
		}
		if i == 7 { // steal: a hypervisor ran something else
			t.steal += x / clkTck
		}
	}
	return t, nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machineState is what the machine was doing before a run.
type machineState struct {
	LoadAvg  string  `json:"loadAvg"`
	BusyPct  float64 `json:"busyPct"` // of all CPUs, over the last sample
	WaitedS  float64 `json:"waitedS"`
	Quiet    bool    `json:"quiet"`
	NumCPU   int     `json:"numCPU"`
	CPUModel string  `json:"cpuModel,omitempty"`
}

// busyOver samples the machine's busy share (0-100 % of all CPUs) over d.
// Niced work counts: two nice-19 fuzzers on this 2-CPU VM still stalled
// both servers for seconds.
func busyOver(ctx context.Context, d time.Duration) (float64, error) {
	a, err := machineCPU()
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	b, err := machineCPU()
	if err != nil {
		return 0, err
	}
	if b.total <= a.total {
		return 0, nil
	}
	return 100 * (b.busy - a.busy) / (b.total - a.total), nil
}

// waitQuiet waits until the machine is busy less than maxBusy % of all
// CPUs over two consecutive 3 s samples, or timeout passes. It reports the
// state it found; Quiet is false after a timeout.
func waitQuiet(ctx context.Context, maxBusy float64, timeout time.Duration, logf func(string, ...any)) machineState {
	start := time.Now()
	st := machineState{NumCPU: runtime.NumCPU(), CPUModel: cpuModel()}
	if timeout <= 0 {
		busy, _ := busyOver(ctx, time.Second)
		st.BusyPct, st.LoadAvg = busy, loadAvg()
		return st
	}
	good := 0
	for {
		busy, err := busyOver(ctx, 3*time.Second)
		if err != nil {
			st.LoadAvg = loadAvg()
			return st
		}
		st.BusyPct, st.LoadAvg = busy, loadAvg()
		if busy < maxBusy {
			good++
		} else {
			good = 0
		}
		if good >= 2 {
			st.Quiet = true
			break
		}
		if time.Since(start) > timeout {
			logf("machine not quiet after %s (busy %.0f%%, load %s); running anyway", timeout, busy, st.LoadAvg)
			break
		}
		if good == 0 && time.Since(start) > 10*time.Second && int(time.Since(start).Seconds())%30 < 3 {
			logf("waiting for a quiet machine: busy %.0f%% (want < %.0f%%), load %s", busy, maxBusy, st.LoadAvg)
		}
	}
	st.WaitedS = time.Since(start).Seconds()
	return st
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return ""
}
