package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Result is the outcome of a soak run, written as JSON and Markdown.
type Result struct {
	Command  string         `json:"command"`
	Commit   commit         `json:"commit"`
	Machine  machine        `json:"machine"`
	Started  time.Time      `json:"started"`
	Config   publicConfig   `json:"config"`
	Shares   map[string]int `json:"concurrentCallsByKind"`
	Baseline Sample         `json:"baseline"`
	Peak     Sample         `json:"peak"` // the largest value of each field over all samples
	End      Sample         `json:"end"`
	SettleS  float64        `json:"settleSeconds"` // from the last SIPp exit to the end reading
	// Completed and Failed are SIPp's counts: successful calls of the
	// callers; failed calls of the callers and the callee.
	Completed int64                `json:"completed"`
	Failed    int64                `json:"failed"`
	SIPp      map[string]sippStats `json:"sipp"`
	Server    serverFinal          `json:"serverCounters"`
	// ServerFinal is what the server printed when it stopped.
	ServerFinal json.RawMessage `json:"serverFinal,omitempty"`
	Memory      memoryTrend     `json:"memory"`
	HeapCheck   HeapCheck       `json:"heapCheck"`
	Checks      []Check         `json:"checks"`
	Pass        bool            `json:"pass"`
	Problems    []string        `json:"problems,omitempty"`
	Samples     []Sample        `json:"samples"`
}

type publicConfig struct {
	Duration      string  `json:"duration"`
	Calls         int     `json:"calls"`
	MinCall       string  `json:"minCall"`
	MaxCall       string  `json:"maxCall"`
	Mix           string  `json:"mix"`
	Ramp          string  `json:"ramp"`
	Sample        string  `json:"sample"`
	Settle        string  `json:"settle"`
	RTPPorts      string  `json:"rtpPorts"`
	SIPpSIPBase   int     `json:"sippSipBase"`
	SIPpMediaBase int     `json:"sippMediaBase"`
	Room          int     `json:"room"`
	TransferAfter string  `json:"transferAfter"`
	ConsultFor    string  `json:"consultFor"`
	DTMF          bool    `json:"dtmf"`
	TolGoroutines int     `json:"tolGoroutines"`
	TolFDs        int     `json:"tolFds"`
	TolUDP        int     `json:"tolUdp"`
	MaxGrowthPct  float64 `json:"maxGrowthPct"`
	MaxFailedPct  float64 `json:"maxFailedPct"`
	TolHeapMB     float64 `json:"tolHeapMB"`
	MinSettle     string  `json:"minSettle"`
	RaceServer    bool    `json:"raceServer,omitempty"`
	TraceSessions int     `json:"traceSessions"`
}

func (c Config) public() publicConfig {
	return publicConfig{
		Duration: c.Duration.String(), Calls: c.Calls, MinCall: c.MinCall.String(), MaxCall: c.MaxCall.String(),
		Mix: c.Mix, Ramp: c.Ramp.String(), Sample: c.Sample.String(), Settle: c.Settle.String(),
		RTPPorts: c.RTPPorts, SIPpSIPBase: c.SIPpSIPBase, SIPpMediaBase: c.SIPpMediaBase, Room: c.Room,
		TransferAfter: c.TransferAfter.String(), ConsultFor: c.ConsultFor.String(), DTMF: !c.NoDTMF,
		TolGoroutines: c.TolGoroutines, TolFDs: c.TolFDs, TolUDP: c.TolUDP,
		MaxGrowthPct: c.MaxGrowthPct, MaxFailedPct: c.MaxFailedPct, RaceServer: c.RaceServer,
		TraceSessions: c.TraceSessions, TolHeapMB: c.TolHeapMB, MinSettle: c.MinSettle.String(),
	}
}

// serverFinal is the part of the server's final figures the report shows.
type serverFinal struct {
	Counters struct {
		NewCalls       map[string]int64 `json:"newCalls"`
		Completed      map[string]int64 `json:"sessionsCompleted"`
		Digits         int64            `json:"digits"`
		WrongDigits    int64            `json:"wrongDigits"`
		DtmfTimeouts   int64            `json:"dtmfTimeouts"`
		CalleeFailures int64            `json:"calleeFailures"`
		Splits         int64            `json:"splits"`
		SplitsStale    int64            `json:"splitsStale"`
		SplitErrors    int64            `json:"splitErrors"`
		Holds          int64            `json:"holds"`
		Consults       int64            `json:"consults"`
		Transferred    int64            `json:"transferred"`
		Returned       int64            `json:"returned"`
		Rooms          int64            `json:"rooms"`
		Joins          int64            `json:"joins"`
		Errors         int64            `json:"errors"`
	} `json:"counters"`
	PacketsIn  uint64 `json:"packetsIn"`
	PacketsOut uint64 `json:"packetsOut"`
}

// Check is one back-to-baseline comparison.
type Check struct {
	Name     string `json:"name"`
	Baseline int64  `json:"baseline"`
	Peak     int64  `json:"peak"`
	End      int64  `json:"end"`
	Tol      int64  `json:"tolerance"`
	OK       bool   `json:"ok"`
}

// HeapCheck compares the live heap after a forced GC at the end with the
// baseline's.
type HeapCheck struct {
	BaselineMB float64 `json:"baselineMB"`
	PeakMB     float64 `json:"peakMB"`
	EndMB      float64 `json:"endMB"`
	TolMB      float64 `json:"tolMB"`
	OK         bool    `json:"ok"`
}

// memoryTrend compares the first and the last third of the steady part of
// the load phase (after the ramp and a warm-up).
type memoryTrend struct {
	WindowFromS   float64 `json:"windowFromS"`
	WindowToS     float64 `json:"windowToS"`
	Samples       int     `json:"samples"`
	HeapFirstMB   float64 `json:"heapFirstThirdMB"`
	HeapLastMB    float64 `json:"heapLastThirdMB"`
	HeapGrowthPct float64 `json:"heapGrowthPct"`
	HeapSlopeMBm  float64 `json:"heapSlopeMBPerMin"`
	RSSFirstMB    float64 `json:"rssFirstThirdMB"`
	RSSLastMB     float64 `json:"rssLastThirdMB"`
	RSSGrowthPct  float64 `json:"rssGrowthPct"`
	RSSSlopeMBm   float64 `json:"rssSlopeMBPerMin"`
	Judged        bool    `json:"judged"` // false when the window was too short
}

// evaluate fills the summary and the verdict.
func (res *Result) evaluate(cfg Config, base, end Sample) {
	res.Command = cfg.Command
	res.Baseline, res.End = base, end
	res.Peak = peak(res.Samples)
	if len(res.ServerFinal) > 0 {
		_ = json.Unmarshal(res.ServerFinal, &res.Server)
	}
	for name, st := range res.SIPp {
		if name != "uas" {
			res.Completed += st.Successful
		}
		res.Failed += st.Failed
	}
	res.Checks = []Check{
		{Name: "goroutines", Baseline: int64(base.Goroutines), Peak: int64(res.Peak.Goroutines), End: int64(end.Goroutines), Tol: int64(cfg.TolGoroutines)},
		{Name: "open fds", Baseline: int64(base.FDs), Peak: int64(res.Peak.FDs), End: int64(end.FDs), Tol: int64(cfg.TolFDs)},
		{Name: "UDP sockets", Baseline: int64(base.UDPSockets), Peak: int64(res.Peak.UDPSockets), End: int64(end.UDPSockets), Tol: int64(cfg.TolUDP)},
		{Name: "sessions", Baseline: int64(base.Sessions), Peak: int64(res.Peak.Sessions), End: int64(end.Sessions)},
		{Name: "participants", Baseline: int64(base.Participants), Peak: int64(res.Peak.Participants), End: int64(end.Participants)},
		{Name: "conferences", Baseline: int64(base.Conferences), Peak: int64(res.Peak.Conferences), End: int64(end.Conferences)},
		{Name: "RTP endpoints", Baseline: int64(base.Endpoints), Peak: int64(res.Peak.Endpoints), End: int64(end.Endpoints)},
	}
	for i := range res.Checks {
		c := &res.Checks[i]
		d := c.End - c.Baseline
		c.OK = d <= c.Tol && d >= -c.Tol
		if !c.OK {
			res.Problems = append(res.Problems, fmt.Sprintf("%s not back to baseline: %d at the end, %d before the first call (tolerance %d)", c.Name, c.End, c.Baseline, c.Tol))
		}
	}
	res.HeapCheck = HeapCheck{BaselineMB: mb(int64(base.HeapLive)), PeakMB: mb(int64(res.Peak.HeapLive)), EndMB: mb(int64(end.HeapLive)), TolMB: cfg.TolHeapMB}
	res.HeapCheck.OK = res.HeapCheck.EndMB-res.HeapCheck.BaselineMB <= cfg.TolHeapMB
	if !res.HeapCheck.OK {
		res.Problems = append(res.Problems, fmt.Sprintf("live heap after GC not back to baseline: %.1f MB at the end, %.1f MB before the first call (tolerance %.0f MB)", res.HeapCheck.EndMB, res.HeapCheck.BaselineMB, cfg.TolHeapMB))
	}
	res.Memory = trend(res.Samples, cfg)
	if m := res.Memory; m.Judged {
		if m.HeapGrowthPct > cfg.MaxGrowthPct {
			res.Problems = append(res.Problems, fmt.Sprintf("heap in use grew %.1f%% during the steady load (%.1f → %.1f MB)", m.HeapGrowthPct, m.HeapFirstMB, m.HeapLastMB))
		}
		if m.RSSGrowthPct > cfg.MaxGrowthPct {
			res.Problems = append(res.Problems, fmt.Sprintf("RSS grew %.1f%% during the steady load (%.1f → %.1f MB)", m.RSSGrowthPct, m.RSSFirstMB, m.RSSLastMB))
		}
	}
	if res.Completed == 0 {
		res.Problems = append(res.Problems, "no call completed")
	}
	for _, r := range routes {
		if res.Shares[r] > 0 && res.SIPp[r].Successful == 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("no %s call completed", r))
		}
	}
	if total := res.Completed + res.Failed; total > 0 && 100*float64(res.Failed)/float64(total) > cfg.MaxFailedPct {
		res.Problems = append(res.Problems, fmt.Sprintf("%d failed calls (%.2f%% > %.2f%%)", res.Failed, 100*float64(res.Failed)/float64(total), cfg.MaxFailedPct))
	}
	res.Pass = len(res.Problems) == 0
}

func peak(ss []Sample) Sample {
	var p Sample
	p.Phase = "peak"
	for _, s := range ss {
		p.Goroutines = max(p.Goroutines, s.Goroutines)
		p.FDs = max(p.FDs, s.FDs)
		p.UDPSockets = max(p.UDPSockets, s.UDPSockets)
		p.TCPSockets = max(p.TCPSockets, s.TCPSockets)
		p.Threads = max(p.Threads, s.Threads)
		p.RSSBytes = max(p.RSSBytes, s.RSSBytes)
		p.HeapInuse = max(p.HeapInuse, s.HeapInuse)
		p.HeapLive = max(p.HeapLive, s.HeapLive)
		p.Sessions = max(p.Sessions, s.Sessions)
		p.Participants = max(p.Participants, s.Participants)
		p.Conferences = max(p.Conferences, s.Conferences)
		p.Endpoints = max(p.Endpoints, s.Endpoints)
		p.Calls = max(p.Calls, s.Calls)
	}
	return p
}

// trend measures heap and RSS over the steady load: from the end of the
// ramp plus a warm-up (a sixth of the run, at least 30 s) to the end of
// the load phase.
func trend(ss []Sample, cfg Config) memoryTrend {
	warm := cfg.Ramp + max(30*time.Second, cfg.Duration/6)
	var w []Sample
	for _, s := range ss {
		if s.Phase == "load" && s.T >= warm.Seconds() {
			w = append(w, s)
		}
	}
	m := memoryTrend{Samples: len(w)}
	if len(w) < 9 {
		return m
	}
	m.Judged = true
	m.WindowFromS, m.WindowToS = w[0].T, w[len(w)-1].T
	third := len(w) / 3
	mean := func(xs []Sample, f func(Sample) float64) float64 {
		var t float64
		for _, x := range xs {
			t += f(x)
		}
		return t / float64(len(xs))
	}
	heap := func(s Sample) float64 { return mb(int64(s.HeapInuse)) }
	rss := func(s Sample) float64 { return mb(s.RSSBytes) }
	m.HeapFirstMB, m.HeapLastMB = mean(w[:third], heap), mean(w[len(w)-third:], heap)
	m.RSSFirstMB, m.RSSLastMB = mean(w[:third], rss), mean(w[len(w)-third:], rss)
	m.HeapGrowthPct = 100 * (m.HeapLastMB - m.HeapFirstMB) / m.HeapFirstMB
	m.RSSGrowthPct = 100 * (m.RSSLastMB - m.RSSFirstMB) / m.RSSFirstMB
	m.HeapSlopeMBm = 60 * slope(w, heap)
	m.RSSSlopeMBm = 60 * slope(w, rss)
	return m
}

// slope is the least-squares slope of f over time (per second).
func slope(w []Sample, f func(Sample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range w {
		x, y := s.T, f(s)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// Table renders the result as text.
func (res *Result) Table() string {
	var b strings.Builder
	c := res.Config
	fmt.Fprintf(&b, "soak: %d concurrent calls (%s) for %s, calls of %s-%s\n", c.Calls, shareString(res.Shares), c.Duration, c.MinCall, c.MaxCall)
	fmt.Fprintf(&b, "%-14s %10s %10s %10s %6s  %s\n", "resource", "baseline", "peak", "end", "tol", "back")
	for _, ch := range res.Checks {
		fmt.Fprintf(&b, "%-14s %10d %10d %10d %6s  %s\n", ch.Name, ch.Baseline, ch.Peak, ch.End, fmt.Sprintf("±%d", ch.Tol), yes(ch.OK))
	}
	fmt.Fprintf(&b, "%-14s %10.1f %10.1f %10.1f\n", "RSS MB", mb(res.Baseline.RSSBytes), mb(res.Peak.RSSBytes), mb(res.End.RSSBytes))
	fmt.Fprintf(&b, "%-14s %10.1f %10.1f %10.1f\n", "heap inuse MB", mb(int64(res.Baseline.HeapInuse)), mb(int64(res.Peak.HeapInuse)), mb(int64(res.End.HeapInuse)))
	h := res.HeapCheck
	fmt.Fprintf(&b, "%-14s %10.1f %10.1f %10.1f %6s  %s\n", "heap live MB", h.BaselineMB, h.PeakMB, h.EndMB, fmt.Sprintf("+%.0f", h.TolMB), yes(h.OK))
	fmt.Fprintf(&b, "%-14s %10d %10d %10d\n", "threads", res.Baseline.Threads, res.Peak.Threads, res.End.Threads)
	if m := res.Memory; m.Judged {
		fmt.Fprintf(&b, "steady load %.0f-%.0f s (%d samples): heap %.1f → %.1f MB (%+.1f%%, %+.2f MB/min), RSS %.1f → %.1f MB (%+.1f%%, %+.2f MB/min)\n",
			m.WindowFromS, m.WindowToS, m.Samples, m.HeapFirstMB, m.HeapLastMB, m.HeapGrowthPct, m.HeapSlopeMBm,
			m.RSSFirstMB, m.RSSLastMB, m.RSSGrowthPct, m.RSSSlopeMBm)
	} else {
		fmt.Fprintf(&b, "steady load: too short to judge memory growth (%d samples)\n", m.Samples)
	}
	fmt.Fprintf(&b, "calls: %d completed, %d failed; %s\n", res.Completed, res.Failed, res.callBreakdown())
	sc := res.Server.Counters
	fmt.Fprintf(&b, "server: digits %d (wrong %d, timeouts %d), transfers completed %d (holds %d, consultations %d, stale splits %d), conferences %d with %d joins, callee failures %d, handler errors %d\n",
		sc.Digits, sc.WrongDigits, sc.DtmfTimeouts, sc.Transferred, sc.Holds, sc.Consults, sc.SplitsStale, sc.Rooms, sc.Joins, sc.CalleeFailures, sc.Errors)
	fmt.Fprintf(&b, "settled %.0f s after the last call\n", res.SettleS)
	if res.Pass {
		b.WriteString("verdict: PASS\n")
	} else {
		fmt.Fprintf(&b, "verdict: FAIL: %s\n", strings.Join(res.Problems, "; "))
	}
	return b.String()
}

func (res *Result) callBreakdown() string {
	var parts []string
	for _, r := range append(append([]string(nil), routes...), "uas") {
		st, ok := res.SIPp[r]
		if !ok {
			continue
		}
		p := fmt.Sprintf("%s %d/%d", r, st.Successful, st.Failed)
		if len(st.Reasons) > 0 {
			var rs []string
			for k, v := range st.Reasons {
				rs = append(rs, fmt.Sprintf("%s %d", k, v))
			}
			sort.Strings(rs)
			p += " (" + strings.Join(rs, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return "successful/failed by SIPp: " + strings.Join(parts, ", ")
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// Markdown renders the result for bench/soak/results.
func (res *Result) Markdown() string {
	var b strings.Builder
	c := res.Config
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL: " + strings.Join(res.Problems, "; ")
	}
	fmt.Fprintf(&b, "# Soak run %s\n\n", res.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "**Verdict: %s**\n\n", verdict)
	fmt.Fprintf(&b, "- Command: `%s`\n", res.Command)
	fmt.Fprintf(&b, "- Commit: `%s`%s, %s\n", res.Commit.Hash, res.Commit.note(), res.Commit.GoVersion)
	m := res.Machine
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %.1f GB RAM, Linux %s; load average %s at the start, %s at the end (the machine is shared)\n",
		m.CPUModel, m.NumCPU, m.MemGB, m.Kernel, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&b, "- Load: %d concurrent calls (%s) for %s; each call lasts %s-%s (uniform); conferences of %d; transfer split after %s, consultation %s; RFC 4733 digit: %v\n",
		c.Calls, shareString(res.Shares), c.Duration, c.MinCall, c.MaxCall, c.Room, c.TransferAfter, c.ConsultFor, c.DTMF)
	fmt.Fprintf(&b, "- Server: bench/soak/server (the library with a Handler routing by called user), RTP ports %s, `Config.TraceSessions` %d (-1: no traces of completed sessions kept; the library's default keeps 1000 for 10 minutes)\n", c.RTPPorts, c.TraceSessions)
	fmt.Fprintf(&b, "- Baseline: the idle server after a forced GC, before the first call. End: %.0f s after the last SIPp exited, after a forced GC.\n\n", res.SettleS)

	b.WriteString("| resource | baseline | peak | end | tolerance | back to baseline |\n|---|---:|---:|---:|---:|---|\n")
	for _, ch := range res.Checks {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | ±%d | %s |\n", ch.Name, ch.Baseline, ch.Peak, ch.End, ch.Tol, yes(ch.OK))
	}
	fmt.Fprintf(&b, "| RSS (MB) | %.1f | %.1f | %.1f | | |\n", mb(res.Baseline.RSSBytes), mb(res.Peak.RSSBytes), mb(res.End.RSSBytes))
	fmt.Fprintf(&b, "| heap in use (MB) | %.1f | %.1f | %.1f | | |\n", mb(int64(res.Baseline.HeapInuse)), mb(int64(res.Peak.HeapInuse)), mb(int64(res.End.HeapInuse)))
	h := res.HeapCheck
	fmt.Fprintf(&b, "| heap live after GC (MB) | %.1f | %.1f | %.1f | +%.0f | %s |\n", h.BaselineMB, h.PeakMB, h.EndMB, h.TolMB, yes(h.OK))
	fmt.Fprintf(&b, "| OS threads | %d | %d | %d | | |\n\n", res.Baseline.Threads, res.Peak.Threads, res.End.Threads)

	if mt := res.Memory; mt.Judged {
		fmt.Fprintf(&b, "Memory during the steady load (%.0f-%.0f s, %d samples, first third vs last third): heap in use %.1f → %.1f MB (%+.1f%%, slope %+.2f MB/min); RSS %.1f → %.1f MB (%+.1f%%, slope %+.2f MB/min); limit %.0f%%.\n\n",
			mt.WindowFromS, mt.WindowToS, mt.Samples, mt.HeapFirstMB, mt.HeapLastMB, mt.HeapGrowthPct, mt.HeapSlopeMBm,
			mt.RSSFirstMB, mt.RSSLastMB, mt.RSSGrowthPct, mt.RSSSlopeMBm, c.MaxGrowthPct)
	}

	b.WriteString("| calls (SIPp) | created | completed | failed | failure reasons |\n|---|---:|---:|---:|---|\n")
	for _, r := range append(append([]string(nil), routes...), "uas") {
		st, ok := res.SIPp[r]
		if !ok {
			continue
		}
		name := r
		if r == "uas" {
			name = "callee legs (uas)"
		}
		var rs []string
		for k, v := range st.Reasons {
			rs = append(rs, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(rs)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", name, st.Created, st.Successful, st.Failed, strings.Join(rs, ", "))
	}
	fmt.Fprintf(&b, "| **callers** | | **%d** | **%d** (with callee legs) | |\n\n", res.Completed, res.Failed)
	sc := res.Server.Counters
	fmt.Fprintf(&b, "Server counters: %d RFC 4733 digits detected (wrong %d, timeouts %d); %d transfers completed (%d callers put on hold, %d consultations, %d splits found the call already gone); %d conferences, %d joins; %d callee failures; %d handler errors; %d RTP packets in, %d out.\n\n",
		sc.Digits, sc.WrongDigits, sc.DtmfTimeouts, sc.Transferred, sc.Holds, sc.Consults, sc.SplitsStale, sc.Rooms, sc.Joins, sc.CalleeFailures, sc.Errors, res.Server.PacketsIn, res.Server.PacketsOut)

	b.WriteString("<details><summary>Samples</summary>\n\n")
	b.WriteString("| t (s) | phase | SIPp calls | sessions | participants | goroutines | fds | UDP | RSS MB | heap MB | completed | failed |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range res.Samples {
		fmt.Fprintf(&b, "| %.0f | %s | %d | %d | %d | %d | %d | %d | %.1f | %.1f | %d | %d |\n",
			s.T, s.Phase, s.Calls, s.Sessions, s.Participants, s.Goroutines, s.FDs, s.UDPSockets, mb(s.RSSBytes), mb(int64(s.HeapInuse)), s.Completed, s.Failed)
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// Write writes soak-<stamp>.json and soak-<stamp>.md to dir.
func (res *Result) Write(dir, stamp string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	jp := filepath.Join(dir, "soak-"+stamp+".json")
	mp := filepath.Join(dir, "soak-"+stamp+".md")
	if err := os.WriteFile(jp, append(j, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(mp, []byte(res.Markdown()), 0o644); err != nil {
		return nil, err
	}
	return []string{jp, mp}, nil
}

type commit struct {
	Hash string `json:"hash"`
	// Modified is the number of tracked files with uncommitted changes in
	// the checkout the server was built from (others work in it too).
	Modified  int    `json:"modifiedTrackedFiles"`
	GoVersion string `json:"goVersion"`
}

func (c commit) note() string {
	if c.Modified == 0 {
		return ""
	}
	return fmt.Sprintf(" (+ uncommitted changes in %d tracked files of the shared checkout)", c.Modified)
}

func commitInfo(root string) commit {
	c := commit{GoVersion: runtime.Version()}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		c.Hash = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) != "" {
				c.Modified++
			}
		}
	}
	return c
}

type machine struct {
	CPUModel  string  `json:"cpuModel"`
	NumCPU    int     `json:"numCPU"`
	MemGB     float64 `json:"memGB"`
	Kernel    string  `json:"kernel"`
	LoadStart string  `json:"loadAvgStart"`
	LoadEnd   string  `json:"loadAvgEnd"`
}

func machineInfo() machine {
	m := machine{NumCPU: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "MemTotal:" {
				var kb float64
				fmt.Sscanf(f[1], "%g", &kb)
				m.MemGB = kb / (1 << 20)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
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
