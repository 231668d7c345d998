package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sippStats are SIPp's own counters at the end of a run.
type sippStats struct {
	Successful int64    `json:"successful"`
	Failed     int64    `json:"failed"`
	Retrans    int64    `json:"retransmissions"`
	Created    int64    `json:"created"`
	ExitCode   int      `json:"exitCode"`
	SetupP50MS float64  `json:"setupP50Ms,omitempty"` // INVITE sent to 200 received
	SetupP99MS float64  `json:"setupP99Ms,omitempty"`
	SetupMaxMS float64  `json:"setupMaxMs,omitempty"`
	ErrorLines []string `json:"errorLines,omitempty"`
}

type sipp struct {
	*proc
	dir, role string
}

func startSIPp(ctx context.Context, dir, role string, limit time.Duration, args ...string) (*sipp, error) {
	out, err := os.Create(filepath.Join(dir, role+".out"))
	if err != nil {
		return nil, err
	}
	args = append(args, "-nostdin",
		"-timeout", fmt.Sprintf("%ds", int(limit.Seconds())), "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, role+"-err.log"),
		"-trace_stat", "-stf", filepath.Join(dir, role+"-stat.csv"), "-fd", "1")
	p, err := startProc(ctx, dir, limit+10*time.Second, out, out, "sipp", args...)
	if err != nil {
		out.Close()
		return nil, err
	}
	go func() { <-p.done; out.Close() }()
	return &sipp{proc: p, dir: dir, role: role}, nil
}

func (s *sipp) wait() error {
	err := s.proc.wait()
	if err != nil {
		return fmt.Errorf("exit %v: %s", err, summariseErrors(filepath.Join(s.dir, s.role+"-err.log")))
	}
	return nil
}

// summariseErrors condenses SIPp's error log: watchdog warnings are
// counted, and the first two other events are quoted (shortened).
func summariseErrors(path string) string {
	b, _ := os.ReadFile(path)
	var watchdog int
	var other []string
	for _, ev := range strings.Split(string(b), "\n") {
		ev = strings.TrimSpace(ev)
		if ev == "" || strings.HasPrefix(ev, "The following events occurred") {
			continue
		}
		for _, part := range strings.SplitAfter(ev, "remaining.") {
			part = strings.TrimSpace(part)
			switch {
			case part == "":
			case strings.Contains(part, "watchdog timer"):
				watchdog++
			case len(other) < 2:
				if len(part) > 160 {
					part = part[:160] + "…"
				}
				other = append(other, part)
			}
		}
	}
	var out []string
	if watchdog > 0 {
		out = append(out, fmt.Sprintf("%d SIPp overload (watchdog) warnings", watchdog))
	}
	out = append(out, other...)
	return strings.Join(out, "; ")
}

// stats reads the last line of SIPp's statistics CSV and the RTT file.
func (s *sipp) stats() sippStats {
	var st sippStats
	if s.cmd.ProcessState != nil {
		st.ExitCode = s.cmd.ProcessState.ExitCode()
	}
	b, err := os.ReadFile(filepath.Join(s.dir, s.role+"-stat.csv"))
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) >= 2 {
			head := strings.Split(lines[0], ";")
			last := strings.Split(lines[len(lines)-1], ";")
			get := func(col string) int64 {
				for i, h := range head {
					if h == col && i < len(last) {
						v, _ := strconv.ParseInt(strings.TrimSpace(last[i]), 10, 64)
						return v
					}
				}
				return 0
			}
			st.Successful = get("SuccessfulCall(C)")
			st.Failed = get("FailedCall(C)")
			st.Retrans = get("Retransmissions(C)")
			st.Created = get("TotalCallCreated")
		}
	}
	if sum := summariseErrors(filepath.Join(s.dir, s.role+"-err.log")); sum != "" {
		st.ErrorLines = []string{sum}
	}
	// -trace_rtt writes <scenario>_<pid>_rtt.csv in the working directory:
	// "Date_ms;response_time_ms;rtd_no", one line per call (-rtt_freq 1).
	matches, _ := filepath.Glob(filepath.Join(s.dir, "*_rtt.csv"))
	var rt []float64
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, ";")
			if len(f) < 3 {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
			if err == nil {
				rt = append(rt, v)
			}
		}
	}
	if len(rt) > 0 {
		sort.Float64s(rt)
		st.SetupP50MS = rt[int(math.Ceil(0.5*float64(len(rt))))-1]
		st.SetupP99MS = rt[int(math.Ceil(0.99*float64(len(rt))))-1]
		st.SetupMaxMS = rt[len(rt)-1]
	}
	return st
}
