// Command driver is the load harness of bench/: it builds our IVR server
// (bench/ivrserver) and the diago peer (bench/diago, a module of its own),
// drives both with SIPp on loopback, one after the other on the same
// workload, captures the RTP they send with dumpcap, measures their CPU and
// memory from /proc, and writes docs/PERFORMANCE.md with an SVG chart.
//
//	go run ./bench/driver -smoke                 # a few calls, for CI
//	go run ./bench/driver -ivr 100,500,1000 -bridge 100,500 -repeat 3
//
// See bench/README.md. It needs root (dumpcap on lo and SIPp's
// play_pcap_audio), sipp (Debian sip-tester) and dumpcap.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	ivr, bridge, transcode, conference, setup       []int
	servers, profServers                            []string
	repeat                                          int
	hold, setupLen                                  time.Duration
	rate                                            float64
	room                                            int
	profileAt                                       int
	profileWorkload                                 string
	quietBusy                                       float64
	quietWait                                       time.Duration
	work, results, doc, chart                       string
	smoke, noCapture, noDTMF, keepPcap, shippedDTMF bool
	reportOnly                                      bool
	note                                            string
}

func main() {
	var o options
	var ivr, bridge, transcode, conference, setup, servers, profServers string
	flag.StringVar(&ivr, "ivr", "", "IVR load points: concurrent calls, comma-separated (e.g. 100,500,1000)")
	flag.StringVar(&bridge, "bridge", "", "relayed bridge load points: concurrent callers (each with a callee leg)")
	flag.StringVar(&transcode, "transcode", "", "PCMU↔PCMA bridge load points: concurrent callers")
	flag.StringVar(&conference, "conference", "", "conference load points: total members (rooms of -room)")
	flag.StringVar(&setup, "setup", "", "call-setup ramp points: new calls per second")
	flag.StringVar(&servers, "servers", "ours,diago", "servers to run: ours, diago")
	flag.IntVar(&o.repeat, "repeat", 3, "runs per point and server (the report shows the median); 0 with -profile-at runs only the profiles")
	flag.DurationVar(&o.hold, "hold", 40*time.Second, "call length after the answer (-d of SIPp); raised to ramp + 15 s when shorter")
	flag.DurationVar(&o.setupLen, "setup-length", 10*time.Second, "length of each call-setup ramp point")
	flag.Float64Var(&o.rate, "rate", 100, "new calls per second while the calls ramp up")
	flag.IntVar(&o.room, "room", 10, "members per conference room")
	flag.IntVar(&o.profileAt, "profile-at", 0, "after the points, one extra IVR run per -profile-servers at this many calls with a CPU profile (not counted in the medians)")
	flag.StringVar(&profServers, "profile-servers", "ours", "servers to profile with -profile-at")
	flag.StringVar(&o.profileWorkload, "profile-workload", "ivr", "workload of the -profile-at runs (ivr, bridge, transcode, conference, setup; for setup -profile-at is calls per second)")
	flag.Float64Var(&o.quietBusy, "quiet-busy", 25, "a quiet machine is busy less than this % of all CPUs")
	flag.DurationVar(&o.quietWait, "quiet-wait", 10*time.Minute, "longest wait for a quiet machine before each run")
	flag.StringVar(&o.work, "work", "", "work directory for binaries, logs and captures (default bench/out)")
	flag.StringVar(&o.results, "results", "", "JSON lines of all runs, appended (default bench/results/runs.jsonl)")
	flag.StringVar(&o.doc, "doc", "", "report to write (default docs/PERFORMANCE.md; - for none)")
	flag.StringVar(&o.chart, "chart", "", "SVG chart to write (default bench/results/performance.svg)")
	flag.BoolVar(&o.smoke, "smoke", false, "a few calls per server and workload, short holds, one run each; prints the table, writes no report")
	flag.BoolVar(&o.noCapture, "no-capture", false, "do not capture RTP (no root needed for dumpcap)")
	flag.BoolVar(&o.noDTMF, "no-dtmf", false, "callers send no RFC 4733 digit (no root needed for play_pcap_audio)")
	flag.BoolVar(&o.shippedDTMF, "shipped-dtmf", false, "play sip-tester's dtmf_2833_5.pcap unchanged (first packet of duration 0; diago misses that digit)")
	flag.BoolVar(&o.keepPcap, "keep-pcap", false, "keep the RTP captures")
	flag.BoolVar(&o.reportOnly, "report", false, "only rewrite the report from -results")
	flag.StringVar(&o.note, "note", "", "a note stored with the runs of this campaign")
	flag.Parse()
	var err error
	for _, p := range []struct {
		s   string
		dst *[]int
	}{{ivr, &o.ivr}, {bridge, &o.bridge}, {transcode, &o.transcode}, {conference, &o.conference}, {setup, &o.setup}} {
		if *p.dst, err = parseInts(p.s); err != nil {
			fatal(err)
		}
	}
	o.servers = strings.Split(servers, ",")
	o.profServers = strings.Split(profServers, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "driver:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad load point %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// lockPath is machine-wide: the ports of the harness are fixed.
const lockPath = "/tmp/mediaserver-bench.lock"

// errBusy is returned when another driver holds the machine lock.
var errBusy = errors.New("another bench driver is running on this machine (lock " + lockPath + ")")

// lockMachine takes an exclusive flock so that two drivers never share the
// ports. A smoke run gives up at once; others wait up to an hour.
func lockMachine(ctx context.Context, smoke bool, logf func(string, ...any)) (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Hour)
	for i := 0; ; i++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if smoke || time.Now().After(deadline) {
			f.Close()
			return nil, errBusy
		}
		if i%12 == 0 {
			logf("waiting for another bench driver to finish (lock %s)", lockPath)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// repoRoot finds the directory of our go.mod from the working directory.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/mediaserver-go/mediaserver\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("run the driver inside the mediaserver repository")
		}
		d = parent
	}
}

func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = filepath.Join(root, v)
		}
	}
	def(&o.work, "bench/out")
	def(&o.results, "bench/results/runs.jsonl")
	def(&o.doc, "docs/PERFORMANCE.md")
	def(&o.chart, "bench/results/performance.svg")
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	if o.reportOnly {
		return writeReport(root, o, logf)
	}
	if o.smoke {
		o.ivr, o.bridge, o.transcode, o.conference, o.setup = []int{4}, []int{3}, nil, nil, nil
		o.repeat, o.hold, o.rate, o.profileAt = 1, 4*time.Second, 20, 0
		o.quietWait = 0 // record the load, never wait
		o.work = filepath.Join(o.work, "smoke")
		o.results = filepath.Join(o.work, "runs.jsonl")
	}
	if len(o.ivr)+len(o.bridge)+len(o.transcode)+len(o.conference)+len(o.setup) == 0 && o.profileAt == 0 {
		return errors.New("nothing to run: give -ivr, -bridge, -transcode, -conference, -setup, -profile-at or -smoke")
	}
	for _, tool := range []string{"sipp", "dumpcap"} {
		if _, err := exec.LookPath(tool); err != nil && (tool == "sipp" || !o.noCapture) {
			return fmt.Errorf("%s not found: apt-get install sip-tester tshark", tool)
		}
	}
	if os.Geteuid() != 0 {
		if !o.noCapture || !o.noDTMF {
			logf("not root: capturing RTP on lo and SIPp's play_pcap_audio need root; running with -no-capture -no-dtmf")
		}
		o.noCapture, o.noDTMF = true, true
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	unlock, err := lockMachine(ctx, o.smoke, logf)
	if err != nil {
		return err
	}
	defer unlock()
	r := &runner{root: root, work: o.work, bins: map[string]string{}, quietBusy: o.quietBusy,
		quietWait: o.quietWait, logf: logf, keepPcap: o.keepPcap, minWindow: 5 * time.Second,
		campaign: time.Now().UTC().Format("20060102-150405")}
	if o.smoke {
		r.minWindow = time.Second
	}
	if r.assets, err = writeAssets(o.work, !o.noDTMF, o.shippedDTMF); err != nil {
		return err
	}
	if err := r.build(ctx, o.servers); err != nil {
		return err
	}
	meta := campaignMeta(root, o)
	meta.Campaign = r.campaign
	if err := appendJSON(o.results, meta); err != nil {
		return err
	}
	logf("campaign %s: results to %s", r.campaign, o.results)

	type point struct {
		workload string
		calls    int
	}
	var plan []point
	for _, w := range []struct {
		name string
		pts  []int
	}{{"ivr", o.ivr}, {"bridge", o.bridge}, {"transcode", o.transcode}, {"conference", o.conference}, {"setup", o.setup}} {
		for _, c := range w.pts {
			plan = append(plan, point{w.name, c})
		}
	}
	var all []result
	for _, pt := range plan {
		for rep := 1; rep <= o.repeat; rep++ {
			order := append([]string(nil), o.servers...)
			if rep%2 == 0 { // alternate who goes first
				for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
					order[i], order[j] = order[j], order[i]
				}
			}
			for _, srv := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				res := r.run(ctx, r.specFor(o, pt.workload, srv, pt.calls, rep, false))
				all = append(all, res)
				if err := appendJSON(o.results, res); err != nil {
					return err
				}
			}
		}
	}
	for _, srv := range o.profServers {
		if o.profileAt == 0 || ctx.Err() != nil {
			break
		}
		if r.bins[srv] == "" {
			if err := r.build(ctx, []string{srv}); err != nil {
				return err
			}
		}
		res := r.run(ctx, r.specFor(o, o.profileWorkload, srv, o.profileAt, 1, true))
		all = append(all, res)
		if err := appendJSON(o.results, res); err != nil {
			return err
		}
		if res.Profile == "" {
			continue
		}
		top, err := pprofTop(ctx, r.bins[srv], res.Profile, res.MemProfile)
		if err != nil {
			logf("pprof: %v", err)
			continue
		}
		path := filepath.Join(root, "bench/results", fmt.Sprintf("profile-%s-%d-%s.txt", o.profileWorkload, o.profileAt, srv))
		if o.smoke {
			path = filepath.Join(o.work, "profile-"+srv+".txt")
		}
		if err := os.WriteFile(path, []byte(top), 0o644); err != nil {
			return err
		}
		logf("profile: %s (top entries in %s)", res.Profile, path)
	}
	if o.smoke {
		fmt.Print(smokeTable(all))
		return nil
	}
	if o.doc == "-" {
		return nil
	}
	return writeReport(root, o, logf)
}

func (r *runner) specFor(o options, workload, server string, calls, rep int, profile bool) spec {
	sp := spec{Workload: workload, Server: server, Calls: calls, Rate: o.rate, Hold: o.hold,
		Room: o.room, Rep: rep, Profile: profile, Capture: !o.noCapture, DTMF: !o.noDTMF}
	if workload == "setup" {
		sp.Rate, sp.Hold = float64(calls), o.setupLen
		return sp
	}
	ramp := time.Duration(float64(calls) / sp.Rate * float64(time.Second))
	if min := ramp + 15*time.Second; sp.Hold < min && !o.smoke {
		sp.Hold = min.Round(time.Second)
	}
	if o.smoke {
		sp.Hold = ramp + 4*time.Second
	}
	return sp
}

// build compiles the two servers into the work directory.
func (r *runner) build(ctx context.Context, servers []string) error {
	bin := filepath.Join(r.work, "bin")
	for _, s := range servers {
		var cmd *exec.Cmd
		switch s {
		case "ours":
			r.bins[s] = filepath.Join(bin, "ivrserver")
			cmd = exec.CommandContext(ctx, "go", "build", "-o", r.bins[s], "./bench/ivrserver")
			cmd.Dir = r.root
		case "diago":
			r.bins[s] = filepath.Join(bin, "diagoserver")
			cmd = exec.CommandContext(ctx, "go", "build", "-o", r.bins[s], ".")
			cmd.Dir = filepath.Join(r.root, "bench/diago")
		default:
			return fmt.Errorf("unknown server %q (ours, diago)", s)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", s, err, out)
		}
	}
	return nil
}

// campaign is the first line a driver run appends: what was run, how, where.
type campaign struct {
	Campaign  string   `json:"campaign"`
	Kind      string   `json:"kind"` // "campaign"
	Started   string   `json:"started"`
	Command   string   `json:"command"`
	GoVersion string   `json:"goVersion"`
	Commit    string   `json:"commit"`
	Kernel    string   `json:"kernel"`
	NumCPU    int      `json:"numCPU"`
	CPUModel  string   `json:"cpuModel"`
	MemTotal  string   `json:"memTotal"`
	SIPp      string   `json:"sipp"`
	Note      string   `json:"note,omitempty"`
	Servers   []string `json:"servers"`
}

func campaignMeta(root string, o options) campaign {
	c := campaign{Kind: "campaign", Started: time.Now().UTC().Format(time.RFC3339),
		Command: "go run ./bench/driver " + strings.Join(os.Args[1:], " "), GoVersion: runtime.Version(),
		NumCPU: runtime.NumCPU(), CPUModel: cpuModel(), Note: o.note, Servers: o.servers}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		c.Commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			c.Commit += "+dirty"
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		c.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			c.MemTotal = strings.Join(strings.Fields(sc.Text())[1:], " ")
		}
		f.Close()
	}
	if out, _ := exec.Command("sipp", "-v").CombinedOutput(); len(out) > 0 {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "SIPp v") {
				c.SIPp = strings.TrimSpace(l)
			}
		}
	}
	return c
}

func appendJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if c, ok := v.(campaign); ok && c.Campaign == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}

// pprofTop renders the top of a CPU profile as text.
func pprofTop(ctx context.Context, bin, prof, heap string) (string, error) {
	var b strings.Builder
	cmds := [][]string{
		{"tool", "pprof", "-top", "-nodecount=40", bin, prof},
		{"tool", "pprof", "-top", "-cum", "-nodecount=40", bin, prof},
	}
	if _, err := os.Stat(heap); err == nil {
		cmds = append(cmds, []string{"tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=25", bin, heap})
	}
	dir := filepath.Dir(prof)
	for _, f := range []string{"block.pprof", "block.pprof.mutex"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			cmds = append(cmds, []string{"tool", "pprof", "-top", "-cum", "-nodecount=30", bin, filepath.Join(dir, f)})
		}
	}
	for _, args := range cmds {
		out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		fmt.Fprintf(&b, "$ go %s\n%s\n", strings.Join(args, " "), out)
	}
	return b.String(), nil
}

func smokeTable(rs []result) string {
	var b strings.Builder
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Workload < rs[j].Workload })
	fmt.Fprintf(&b, "%-10s %-6s %5s %10s %7s %8s %7s %7s %7s %7s %6s %6s %6s\n",
		"workload", "server", "calls", "cpu/c-min", "core%", "rss MB", "p50", "p99", "max", "loss%", "ok", "fail", "digits")
	for _, r := range rs {
		fmt.Fprintf(&b, "%-10s %-6s %5d %10.4f %7.1f %8.1f %7.1f %7.1f %7.1f %7.3f %6d %6d %6d\n",
			r.Workload, r.Server, r.Calls, r.CPUPerCallMin, r.CorePct, float64(r.RSS)/1e6,
			r.Out.P50MS, r.Out.P99MS, r.Out.MaxMS, r.Out.LossPct, r.SIPp.Successful, r.Failed, r.Digits)
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "    error: %s\n", e)
		}
	}
	return b.String()
}
