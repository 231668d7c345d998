package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// point is the median of the runs of one server at one load point.
type point struct {
	Workload, Server string
	Calls, Runs      int
	Campaign         string
	HoldS, Rate      float64
	Room             int

	CPUPerCallMin, CPUMin, CPUMax float64
	CorePct, RSSMB, IdleMB        float64
	KBPerCall                     float64
	P50, P99, Max, WorstP99       float64
	LossPct, SkippedPct           float64
	IrqPct                        float64
	InP99, InMax                  float64
	P999, Gaps, GapsStart         float64
	PktRate                       float64
	SchedP99, SchedMax            float64
	ClockWork, ClockSkipped       float64
	HasRuntime, HasClock          bool
	Goroutines, StackMB           float64
	HasSnap                       bool
	GapsTogether                  float64
	Streams                       int
	Failed, Retrans               int64
	Successful                    int64
	Digits                        int64
	CPUPerCallS                   float64
	SetupP50, SetupP99, SetupMax  float64
	LoadGenPct, OtherPct, BusyPct float64
	CaptureDrops                  int64
	NotQuiet                      int
	Errors                        []string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func readResults(path string) ([]campaign, []result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var cs []campaign
	var rs []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var probe struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(line, &probe) != nil {
			continue
		}
		if probe.Kind == "campaign" {
			var c campaign
			if json.Unmarshal(line, &c) == nil {
				cs = append(cs, c)
			}
			continue
		}
		var r result
		if json.Unmarshal(line, &r) == nil {
			rs = append(rs, r)
		}
	}
	return cs, rs, sc.Err()
}

// callsLabel shows conference points as members (rooms × room size).
func callsLabel(p point) string {
	if p.Workload == "conference" && p.Room > 0 {
		return fmt.Sprintf("%d (%d × %d)", p.Calls, (p.Calls+p.Room-1)/p.Room, p.Room)
	}
	return fmt.Sprint(p.Calls)
}

// roomOf is the room size of a conference run, 0 for other workloads.
func roomOf(r result) int {
	if r.Workload == "conference" {
		return r.Room
	}
	return 0
}

// aggregate takes, for each (workload, calls, room), the runs of the latest
// campaign that measured both servers at that point, so that every ratio
// compares runs of one campaign (a campaign cut short after one server
// does not mix with another campaign's figures of the other); a point no
// campaign measured on both servers takes each server's latest campaign.
// It returns the medians per (workload, server, calls, room).
func aggregate(rs []result) []point {
	type key struct {
		w, s string
		c    int
		room int
	}
	type pointKey struct {
		w    string
		c    int
		room int
	}
	servers := map[pointKey]map[string]map[string]bool{} // point → campaign → servers
	latest := map[key]string{}
	for _, r := range rs {
		if r.Profile != "" {
			continue
		}
		k := key{r.Workload, r.Server, r.Calls, roomOf(r)}
		if r.Campaign > latest[k] {
			latest[k] = r.Campaign
		}
		pk := pointKey{r.Workload, r.Calls, roomOf(r)}
		if servers[pk] == nil {
			servers[pk] = map[string]map[string]bool{}
		}
		if servers[pk][r.Campaign] == nil {
			servers[pk][r.Campaign] = map[string]bool{}
		}
		servers[pk][r.Campaign][r.Server] = true
	}
	for k := range latest {
		both := ""
		for c, ss := range servers[pointKey{k.w, k.c, k.room}] {
			if len(ss) > 1 && ss[k.s] && c > both {
				both = c
			}
		}
		if both != "" {
			latest[k] = both
		}
	}
	groups := map[key][]result{}
	for _, r := range rs {
		k := key{r.Workload, r.Server, r.Calls, roomOf(r)}
		if r.Profile == "" && r.Campaign == latest[k] {
			groups[k] = append(groups[k], r)
		}
	}
	var out []point
	for k, g := range groups {
		p := point{Workload: k.w, Server: k.s, Calls: k.c, Runs: len(g), Campaign: latest[k],
			HoldS: g[0].HoldS, Rate: g[0].Rate, Room: k.room}
		col := func(f func(r result) float64) float64 {
			var xs []float64
			for _, r := range g {
				xs = append(xs, f(r))
			}
			return median(xs)
		}
		p.CPUPerCallMin = col(func(r result) float64 { return r.CPUPerCallMin })
		p.CPUMin, p.CPUMax = math.Inf(1), 0
		for _, r := range g {
			p.CPUMin = math.Min(p.CPUMin, r.CPUPerCallMin)
			p.CPUMax = math.Max(p.CPUMax, r.CPUPerCallMin)
			p.Failed += r.Failed
			p.Retrans += r.SIPp.Retrans + r.SIPpUAS.Retrans
			p.Successful += r.SIPp.Successful
			p.Digits += r.Digits
			p.CaptureDrops += r.Out.CaptureDrops
			if !r.Machine.Quiet {
				p.NotQuiet++
			}
			for _, e := range r.Errors {
				p.Errors = append(p.Errors, fmt.Sprintf("rep %d: %s", r.Rep, e))
			}
		}
		p.CorePct = col(func(r result) float64 { return r.CorePct })
		p.RSSMB = col(func(r result) float64 { return float64(r.RSS) / 1e6 })
		p.IdleMB = col(func(r result) float64 { return float64(r.IdleRSS) / 1e6 })
		p.KBPerCall = col(func(r result) float64 { return float64(r.RSS-r.IdleRSS) / 1e3 / float64(max(r.Calls, 1)) })
		p.P50 = col(func(r result) float64 { return r.Out.P50MS })
		p.P99 = col(func(r result) float64 { return r.Out.P99MS })
		p.Max = col(func(r result) float64 { return r.Out.MaxMS })
		p.WorstP99 = col(func(r result) float64 { return r.Out.WorstP99MS })
		p.LossPct = col(func(r result) float64 { return r.Out.LossPct })
		p.SkippedPct = col(func(r result) float64 { return r.Out.TSSkippedPct })
		p.IrqPct = col(func(r result) float64 { return r.SoftirqCorePct })
		p.InP99 = col(func(r result) float64 { return r.In.P99MS })
		p.InMax = col(func(r result) float64 { return r.In.MaxMS })
		p.P999 = col(func(r result) float64 { return r.Out.P999MS })
		p.PktRate = col(func(r result) float64 { return r.Out.MeanPktPerS })
		type ctr struct {
			SchedP99   *float64 `json:"schedLatencyP99Ms"`
			SchedMax   *float64 `json:"schedLatencyMaxMs"`
			ClockWork  *float64 `json:"clockMaxWorkMs"`
			ClockSkips *float64 `json:"clockSkipped"`
		}
		cv := func(f func(c ctr) *float64) (float64, bool) {
			var xs []float64
			for _, r := range g {
				var c ctr
				if json.Unmarshal(r.Counters, &c) == nil && f(c) != nil {
					xs = append(xs, *f(c))
				}
			}
			return median(xs), len(xs) > 0
		}
		var gs, st []float64
		for _, r := range g {
			var sn struct {
				Goroutines float64 `json:"goroutines"`
				StackInuse float64 `json:"stackInuse"`
			}
			if len(r.Snapshot) > 0 && json.Unmarshal(r.Snapshot, &sn) == nil {
				gs, st = append(gs, sn.Goroutines), append(st, sn.StackInuse/1e6)
			}
		}
		p.Goroutines, p.StackMB, p.HasSnap = median(gs), median(st), len(gs) > 0
		p.SchedP99, p.HasRuntime = cv(func(c ctr) *float64 { return c.SchedP99 })
		p.SchedMax, _ = cv(func(c ctr) *float64 { return c.SchedMax })
		p.ClockWork, p.HasClock = cv(func(c ctr) *float64 { return c.ClockWork })
		p.ClockSkipped, _ = cv(func(c ctr) *float64 { return c.ClockSkips })
		p.Gaps = col(func(r result) float64 { return float64(r.Out.Gaps100) })
		p.GapsStart = col(func(r result) float64 { return float64(r.Out.GapsAtStart) })
		p.GapsTogether = col(func(r result) float64 { return float64(r.Out.GapsTogether) })
		p.Streams = int(col(func(r result) float64 { return float64(r.Out.Streams) }))
		p.CPUPerCallS = col(func(r result) float64 { return r.CPUPerCall })
		p.SetupP50 = col(func(r result) float64 { return r.SIPp.SetupP50MS })
		p.SetupP99 = col(func(r result) float64 { return r.SIPp.SetupP99MS })
		p.SetupMax = col(func(r result) float64 { return r.SIPp.SetupMaxMS })
		p.LoadGenPct = col(func(r result) float64 { return r.LoadGenCorePct })
		// The kernel charges loopback softirq work done in a process's
		// context to that process too, so irq is not subtracted twice.
		p.OtherPct = col(func(r result) float64 { return r.OtherBusyCorePct + r.SoftirqCorePct })
		p.BusyPct = col(func(r result) float64 { return r.Machine.BusyPct })
		out = append(out, p)
	}
	order := map[string]int{"ivr": 0, "bridge": 1, "transcode": 2, "conference": 3, "setup": 4}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Workload != b.Workload {
			return order[a.Workload] < order[b.Workload]
		}
		if a.Room != b.Room {
			return a.Room < b.Room
		}
		if a.Calls != b.Calls {
			return a.Calls < b.Calls
		}
		return a.Server > b.Server // ours before diago
	})
	return out
}

func find(ps []point, w, s string, calls, room int) *point {
	for i := range ps {
		if ps[i].Workload == w && ps[i].Server == s && ps[i].Calls == calls && ps[i].Room == room {
			return &ps[i]
		}
	}
	return nil
}

func writeReport(root string, o options, logf func(string, ...any)) error {
	cs, rs, err := readResults(o.results)
	if err != nil {
		return err
	}
	ps := aggregate(rs)
	if len(ps) == 0 {
		return fmt.Errorf("no runs in %s", o.results)
	}
	used := map[string]bool{}
	for _, p := range ps {
		used[p.Campaign] = true
	}
	for _, r := range rs {
		if r.Profile != "" {
			used[r.Campaign] = true
		}
	}
	svg := chartSVG(ps)
	for _, d := range []string{filepath.Dir(o.chart), filepath.Dir(o.doc)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(o.chart, []byte(svg), 0o644); err != nil {
		return err
	}
	rel, _ := filepath.Rel(filepath.Dir(o.doc), o.chart)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Performance\n\n")
	w("<!-- Generated by `go run ./bench/driver` from bench/results/runs.jsonl; the notes come from bench/results/notes.md. Do not edit by hand. -->\n\n")
	w("Our server (`bench/ivrserver`, the library embedded with a small Handler) against the closest Go peer,\n")
	w("[diago](https://github.com/emiago/diago) v0.42.1 on sipgo v1.7.3 (`bench/diago`, a module of its own),\n")
	w("driven by the same SIPp callers in the same driver run, one server at a time, alternating which goes\n")
	w("first. The harness is in [bench/](../bench/README.md). Every figure is the median of the runs of the\n")
	w("point; the RTP figures are inter-arrival times of the packets each server sent, captured on `lo`.\n\n")
	if notes, err := os.ReadFile(filepath.Join(root, "bench/results/notes.md")); err == nil {
		w("%s\n\n", strings.TrimSpace(string(notes)))
	}
	w("![CPU and RTP p99 against concurrent calls](%s)\n\n", rel)

	w("## Campaigns\n\n| campaign | started (UTC) | commit | machine | command |\n|---|---|---|---|---|\n")
	for _, c := range cs {
		if !used[c.Campaign] {
			continue
		}
		w("| %s | %s | `%s` | %d × %s, %s, Linux %s, %s, %s | `%s` |\n", c.Campaign, c.Started, c.Commit, c.NumCPU, c.CPUModel,
			c.MemTotal, c.Kernel, c.GoVersion, c.SIPp, c.Command)
		if c.Note != "" {
			w("| | note: %s | | | |\n", c.Note)
		}
	}
	w("\n")

	titles := map[string]string{
		"ivr":        "IVR: answer, loop a 10 s PCMU prompt, detect one RFC 4733 digit",
		"bridge":     "Bridged calls, relay (PCMU on both legs)",
		"transcode":  "Bridged calls, transcoded (caller PCMU, callee PCMA)",
		"conference": "Conference",
		"setup":      "Call-setup ramp",
	}
	for _, wl := range []string{"ivr", "bridge", "transcode", "conference"} {
		var rows []point
		for _, p := range ps {
			if p.Workload == wl {
				rows = append(rows, p)
			}
		}
		if len(rows) == 0 {
			continue
		}
		w("## %s\n\n", titles[wl])
		first := rows[0]
		legs := ""
		if wl == "bridge" || wl == "transcode" {
			legs = " Each caller has a callee leg (a second SIPp): the RTP columns cover both legs' streams from the server."
		}
		if wl == "conference" {
			legs = " Calls are *members (rooms × members per room)*; every member sends a tone and hears the mix of the others."
		}
		if wl != "ivr" {
			legs += " *SIPp in* is the inter-arrival p99 / max of the RTP SIPp sent to the server: a relay without a jitter buffer passes that jitter on."
		}
		if wl == "ivr" {
			legs = " Each caller sends its digit 1 s after the answer, in a 200 ms pause of its PCMU stream; the call then holds for the given time."
		}
		w("Calls ramp up at %.0f/s and last %.0f s after the answer.%s CPU is measured while every call is up.\n\n",
			first.Rate, first.HoldS, legs)
		w("| calls | server | runs | CPU s per call-minute (min–max) | ours ÷ diago | %% of one core | RSS MB (idle) | KB per call | RTP p50 / p99 / max ms | audio sent %% | loss %% | skipped frames %% | streams | failed calls | digits |\n")
		w("|---:|---|---:|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, p := range rows {
			ratio := ""
			if p.Server == "ours" {
				if d := find(ps, wl, "diago", p.Calls, p.Room); d != nil && d.CPUPerCallMin > 0 {
					ratio = fmt.Sprintf("%.2f", p.CPUPerCallMin/d.CPUPerCallMin)
				}
			}
			digits := "–"
			if wl == "ivr" {
				digits = fmt.Sprintf("%d / %d", p.Digits, p.Successful)
			}
			w("| %s | %s | %d | %.4f (%.4f–%.4f) | %s | %.1f | %.1f (%.1f) | %.1f | %.1f / %.1f / %.1f | %.1f | %.3f | %.3f | %d | %d | %s |\n",
				callsLabel(p), p.Server, p.Runs, p.CPUPerCallMin, p.CPUMin, p.CPUMax, ratio, p.CorePct, p.RSSMB, p.IdleMB, p.KBPerCall,
				p.P50, p.P99, p.Max, p.PktRate*2, p.LossPct, p.SkippedPct, p.Streams, p.Failed, digits)
		}
		w("\nDetail (medians of the same runs):\n\n")
		w("| calls | server | RTP p99.9 ms | worst stream p99 | packets/s per stream | gaps > 100 ms (in first 3 s / most at once) | SIPp in p99 / max ms | SIPp retransmissions | SIPp %% core | irq %% core | other load %% core | runs not quiet | capture drops | Go sched latency p99 / max ms | media clock: longest tick ms / skipped ticks | goroutines (stacks MB) with every call up |\n")
		w("|---:|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|---|\n")
		for _, p := range rows {
			sched, clock := "–", "–"
			if p.HasRuntime {
				sched = fmt.Sprintf("%.1f / %.0f", p.SchedP99, p.SchedMax)
			}
			if p.HasClock {
				clock = fmt.Sprintf("%.0f / %.0f", p.ClockWork, p.ClockSkipped)
			}
			gor := "–"
			if p.HasSnap {
				gor = fmt.Sprintf("%.0f (%.1f)", p.Goroutines, p.StackMB)
			}
			w("| %s | %s | %.1f | %.1f | %.2f | %.0f (%.0f / %.0f) | %.1f / %.0f | %d | %.0f | %.0f | %.0f | %d | %d | %s | %s | %s |\n",
				callsLabel(p), p.Server, p.P999, p.WorstP99, p.PktRate, p.Gaps, p.GapsStart, p.GapsTogether, p.InP99, p.InMax, p.Retrans,
				p.LoadGenPct, p.IrqPct, p.OtherPct, p.NotQuiet, p.CaptureDrops, sched, clock, gor)
		}
		w("\n")
		errs := false
		for _, p := range rows {
			for _, e := range p.Errors {
				if !errs {
					w("Errors recorded in these runs:\n\n")
					errs = true
				}
				w("- %s %s: %s\n", p.Server, callsLabel(p), shorten(strings.ReplaceAll(e, "\n", " "), 400))
			}
		}
		if errs {
			w("\n")
		}
	}
	var setup []point
	for _, p := range ps {
		if p.Workload == "setup" {
			setup = append(setup, p)
		}
	}
	if len(setup) > 0 {
		w("## %s\n\n", titles["setup"])
		w("Each point sends new calls at the given rate for %.0f s; each call is answered by the IVR, holds 1 s and hangs up. No RTP from the callers.\n\n", setup[0].HoldS)
		w("| calls/s | server | runs | answered | failed calls | SIPp retransmissions | setup p50 / p99 / max ms | CPU ms per call | other load %% core |\n|---:|---|---:|---:|---:|---:|---|---:|---:|\n")
		for _, p := range setup {
			w("| %d | %s | %d | %d | %d | %d | %.0f / %.0f / %.0f | %.2f | %.0f |\n", p.Calls, p.Server, p.Runs, p.Successful, p.Failed, p.Retrans,
				p.SetupP50, p.SetupP99, p.SetupMax, 1000*p.CPUPerCallS, p.OtherPct)
		}
		w("\n")
		for _, p := range setup {
			for _, e := range p.Errors {
				w("- %s %d/s: %s\n", p.Server, p.Calls, strings.ReplaceAll(e, "\n", " "))
			}
		}
		w("\n")
	}
	profiles, _ := filepath.Glob(filepath.Join(root, "bench/results/profile-*.txt"))
	if len(profiles) > 0 {
		w("## Profiles\n\nThe CPU profile of each profiled run, cumulative (the files hold the flat listing, the heap in use, and blocking and mutex contention where recorded):\n\n")
	}
	for _, pf := range profiles {
		b2, err := os.ReadFile(pf)
		if err != nil {
			continue
		}
		relp, _ := filepath.Rel(filepath.Dir(o.doc), pf)
		w("### %s\n\n[%s](%s)\n\n```\n%s```\n\n", strings.TrimSuffix(filepath.Base(pf), ".txt"), filepath.Base(pf), relp, topLines(string(b2), 22))
	}
	w("## Columns\n\n")
	w("- **CPU s per call-minute**: the server's user+system CPU (`/proc/<pid>/stat`) in the steady window, divided by calls × window minutes. **%% of one core** is the same CPU over the window length.\n")
	w("- **RSS**: the largest VmRSS sampled each second in the window; idle is VmRSS after start, before any call. **KB per call** = (RSS − idle) / calls.\n")
	w("- **RTP**: dumpcap on `lo` (`-s 64`, kernel timestamps) of what the server sent to the SIPp media ports; inter-arrival of the audio packets of each stream (20 ms nominal), pooled over all streams; *worst stream p99* is the largest per-stream p99. **audio sent**: the audio packets of each stream per second of the stream, in %% of the nominal 50/s: below 100 %% the server sent less audio than real time (a stalled sender that does not catch up). **Loss** from RTP sequence gaps per stream; **skipped frames**: 20 ms frames missing from the RTP timestamps of consecutive packets (timestamp jumps of more than 160), i.e. audio never sent although the sequence numbers run on.\n")
	w("- **Go sched latency**: the server's `/sched/latencies:seconds` (runtime/metrics) at stop: how long runnable goroutines waited to run. **media clock** (ours): `Server.ClockStats` — the longest single 20 ms tick and the ticks skipped after the clock fell more than 100 ms behind.\n")
	w("- **failed calls**: SIPp's FailedCall counters (callers and callees). **digits**: digits the server reported / calls that SIPp completed.\n")
	w("- **SIPp %% core**: CPU of the SIPp processes in the window. **other load**: the machine's busy time in the window (`/proc/stat`) minus the server, SIPp and dumpcap, in %% of one core: other engineers' work on the shared machine (plus any kernel time not charged to a process). **irq**: the machine's irq+softirq time, where the kernel moves the loopback packets; most of it runs in the sending process's context and is already counted in that process's CPU. *not quiet*: runs that started after the quiet-machine wait timed out.\n\n")
	w("## Reproduce\n\n```sh\n")
	w("apt-get install -y sip-tester tshark   # SIPp 3.6.1 and dumpcap; run as root\n")
	w("go run ./bench/driver -smoke             # a few calls, prints a table\n")
	for _, c := range cs {
		if used[c.Campaign] {
			w("%s\n", c.Command)
		}
	}
	w("go run ./bench/driver -report           # rewrite this page from bench/results/runs.jsonl\n```\n")
	if err := os.WriteFile(o.doc, []byte(b.String()), 0o644); err != nil {
		return err
	}
	logf("wrote %s and %s", o.doc, o.chart)
	return nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// topLines returns the cumulative CPU listing of a profile text (and the
// mutex listing when there is one), each cut to n entries.
func topLines(s string, n int) string {
	var b strings.Builder
	for _, block := range strings.Split(s, "$ go ") {
		lines := strings.Split(block, "\n")
		cmd := lines[0]
		cpu := strings.Contains(cmd, "-cum") && strings.HasSuffix(cmd, "cpu.pprof")
		mutex := strings.HasSuffix(cmd, ".mutex")
		if !cpu && !mutex {
			continue
		}
		f := strings.Fields(cmd)
		b.WriteString("$ go tool pprof ... " + filepath.Base(f[len(f)-1]) + "\n")
		start := 0
		for i, l := range lines {
			if strings.Contains(l, "flat%") {
				start = i
				break
			}
			if strings.HasPrefix(l, "Duration") || strings.HasPrefix(l, "Type") {
				b.WriteString(l + "\n")
			}
		}
		for i := start; i < len(lines) && i <= start+n; i++ {
			b.WriteString(lines[i] + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}
