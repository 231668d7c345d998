package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Ports (all on 127.0.0.1). SIPp binds -mp and -mp+2.
const (
	serverSIP  = 35080
	uacSIP     = 35060
	uacCtl     = 35061
	uacMedia   = 36000
	uasSIP     = 35070
	uasCtl     = 35071
	uasMedia   = 36010
	serverRTP0 = 50000
	serverRTP1 = 59999
)

// spec is one run: one server, one workload, one load point.
type spec struct {
	Workload string        // ivr, bridge, transcode, conference, setup
	Server   string        // ours, diago
	Calls    int           // concurrent calls; for setup, calls per second
	Rate     float64       // new calls per second
	Hold     time.Duration // <pause/> of the caller
	Room     int           // conference members per room
	Rep      int
	Profile  bool // write a CPU profile (the run is then not counted)
	Capture  bool
	DTMF     bool
}

func (s spec) String() string {
	p := ""
	if s.Profile {
		p = " (profiled)"
	}
	unit := "calls"
	if s.Workload == "setup" {
		unit = "calls/s"
	}
	return fmt.Sprintf("%s %s %d %s rep %d%s", s.Workload, s.Server, s.Calls, unit, s.Rep, p)
}

// result is what one run measured. It is stored as one JSON line.
type result struct {
	Campaign string    `json:"campaign"`
	Started  time.Time `json:"started"`
	Workload string    `json:"workload"`
	Server   string    `json:"server"`
	Calls    int       `json:"calls"`
	Rate     float64   `json:"rate"`
	HoldS    float64   `json:"holdS"`
	Room     int       `json:"room,omitempty"`
	Rep      int       `json:"rep"`
	Profile  string    `json:"profile,omitempty"`

	Machine machineState `json:"machine"`

	WindowS          float64 `json:"windowS"`          // steady window: all calls up
	ServerCPU        float64 `json:"serverCpuS"`       // in the window
	CPUPerCallMin    float64 `json:"cpuPerCallMinute"` // CPU s per call-minute
	CorePct          float64 `json:"corePct"`          // % of one core in the window
	ServerCPUTotal   float64 `json:"serverCpuTotalS"`  // whole run
	CPUPerCall       float64 `json:"cpuPerCallS"`      // whole run / calls (setup)
	IdleRSS          int64   `json:"idleRss"`
	RSS              int64   `json:"rss"` // max VmRSS in the window
	HWM              int64   `json:"hwm"`
	LoadGenCPU       float64 `json:"loadGenCpuS"` // SIPp, in the window
	LoadGenCorePct   float64 `json:"loadGenCorePct"`
	LoadGenCPUTotal  float64 `json:"loadGenCpuTotalS"`
	CaptureCPU       float64 `json:"captureCpuS"`
	OtherBusyCorePct float64 `json:"otherBusyCorePct"` // machine busy minus ours and irq, in cores ×100
	SoftirqCorePct   float64 `json:"softirqCorePct"`   // irq+softirq of the machine, in cores ×100
	StealCorePct     float64 `json:"stealCorePct"`     // steal time of the machine (VM), in cores ×100

	Out rtpStats `json:"rtpOut"` // server → SIPp
	In  rtpStats `json:"rtpIn"`  // SIPp → server

	SIPp       sippStats       `json:"sipp"`
	SIPpUAS    sippStats       `json:"sippUas,omitempty"`
	Counters   json.RawMessage `json:"counters,omitempty"`
	Snapshot   json.RawMessage `json:"snapshot,omitempty"` // goroutines and memory at the end of the window
	MemProfile string          `json:"memProfile,omitempty"`
	Digits     int64           `json:"digits"`
	Failed     int64           `json:"failed"` // failed calls (SIPp UAC + UAS)
	Errors     []string        `json:"errors,omitempty"`
	ElapsedS   float64         `json:"elapsedS"`
}

type runner struct {
	root, work string // repo root, work directory
	bins       map[string]string
	assets     assets
	campaign   string
	quietBusy  float64
	quietWait  time.Duration
	logf       func(string, ...any)
	keepPcap   bool
	minWindow  time.Duration
}

// run executes one spec and returns its result; the result carries the
// errors of the run rather than failing it.
func (r *runner) run(ctx context.Context, sp spec) result {
	res := result{
		Campaign: r.campaign, Workload: sp.Workload, Server: sp.Server, Calls: sp.Calls,
		Rate: sp.Rate, HoldS: sp.Hold.Seconds(), Room: sp.Room, Rep: sp.Rep,
	}
	fail := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		res.Errors = append(res.Errors, msg)
		r.logf("  error: %s", msg)
	}
	name := fmt.Sprintf("%s-%s-%d-r%d", sp.Workload, sp.Server, sp.Calls, sp.Rep)
	if sp.Profile {
		name += "-prof"
	}
	dir := filepath.Join(r.work, r.campaign, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail("%v", err)
		return res
	}
	res.Machine = waitQuiet(ctx, r.quietBusy, r.quietWait, r.logf)
	res.Started = time.Now().UTC()
	r.logf("run %s (machine busy %.0f%%, load %s)", sp, res.Machine.BusyPct, res.Machine.LoadAvg)

	// Scenarios.
	n := sp.Calls
	total := n
	if sp.Workload == "setup" {
		total = int(sp.Rate * sp.Hold.Seconds()) // Hold is the test length here
	}
	ramp := time.Duration(float64(total) / sp.Rate * float64(time.Second))
	callHold := sp.Hold
	if sp.Workload == "setup" {
		callHold = time.Second
	}
	uacData := map[string]any{"AnswerTimeoutMS": 15000, "Tone": r.assets.ToneUlaw, "DTMF": ""}
	if sp.DTMF && sp.Workload == "ivr" {
		uacData["DTMF"] = r.assets.DTMF
	}
	if sp.Workload == "setup" {
		uacData["Tone"] = ""
	}
	uacXML, err := render(dir, "uac.xml", "uac.xml", uacData)
	if err != nil {
		fail("scenario: %v", err)
		return res
	}
	limit := time.Duration(float64(ramp) + float64(callHold) + float64(60*time.Second))

	// Capture.
	var capt *capture
	if sp.Capture && sp.Workload != "setup" {
		capt, err = startCapture(ctx, dir, limit+30*time.Second)
		if err != nil {
			fail("capture: %v", err)
		}
	}
	defer func() {
		if capt != nil {
			capt.stop()
		}
	}()

	// Server.
	mode := sp.Workload
	switch mode {
	case "transcode":
		mode = "bridge"
	case "setup":
		mode = "ivr"
	}
	args := []string{"-mode", mode, "-sip", fmt.Sprintf("127.0.0.1:%d", serverSIP),
		"-rtp-ports", fmt.Sprintf("%d-%d", serverRTP0, serverRTP1),
		"-prompt", r.assets.Prompt, "-dest", fmt.Sprintf("sip:uas@127.0.0.1:%d", uasSIP),
		"-room", strconv.Itoa(max(sp.Room, 1))}
	if sp.Profile {
		res.Profile = filepath.Join(dir, "cpu.pprof")
		res.MemProfile = filepath.Join(dir, "heap.pprof")
		args = append(args, "-cpuprofile", res.Profile, "-memprofile", res.MemProfile, "-blockprofile", filepath.Join(dir, "block.pprof"))
	}
	srv, err := startServer(ctx, r.bins[sp.Server], args, dir, limit+60*time.Second)
	if err != nil {
		fail("server: %v", err)
		return res
	}
	defer srv.kill()
	time.Sleep(300 * time.Millisecond)
	res.IdleRSS, _, _ = procMem(srv.pid())

	// Callee for the bridge workloads.
	var uas *sipp
	if sp.Workload == "bridge" || sp.Workload == "transcode" {
		d := map[string]any{"PT": 0, "Codec": "PCMU", "Tone": r.assets.ToneUlaw2,
			"ByeTimeoutMS": int((callHold + ramp + 60*time.Second).Milliseconds())}
		if sp.Workload == "transcode" {
			d["PT"], d["Codec"], d["Tone"] = 8, "PCMA", r.assets.ToneAlaw
		}
		uasXML, err := render(dir, "uas.xml", "uas.xml", d)
		if err != nil {
			fail("scenario: %v", err)
			return res
		}
		uas, err = startSIPp(ctx, dir, "uas", limit, "-sf", uasXML,
			"-i", "127.0.0.1", "-p", strconv.Itoa(uasSIP), "-mi", "127.0.0.1", "-mp", strconv.Itoa(uasMedia),
			"-cp", strconv.Itoa(uasCtl), "-m", strconv.Itoa(total))
		if err != nil {
			fail("sipp uas: %v", err)
			return res
		}
		defer uas.kill()
		time.Sleep(500 * time.Millisecond)
	}

	// Callers.
	concurrent := n
	if sp.Workload == "setup" {
		concurrent = int(2*sp.Rate) + 10 // short calls: about rate × 1 s are up
	}
	uacArgs := []string{fmt.Sprintf("127.0.0.1:%d", serverSIP), "-sf", uacXML, "-s", sp.Workload,
		"-i", "127.0.0.1", "-p", strconv.Itoa(uacSIP), "-mi", "127.0.0.1", "-mp", strconv.Itoa(uacMedia),
		"-cp", strconv.Itoa(uacCtl), "-m", strconv.Itoa(total), "-l", strconv.Itoa(concurrent),
		"-r", strconv.FormatFloat(sp.Rate, 'f', -1, 64), "-d", strconv.FormatInt(callHold.Milliseconds(), 10),
		"-trace_rtt", "-rtt_freq", "1"}
	t0 := time.Now()
	uac, err := startSIPp(ctx, dir, "uac", limit, uacArgs...)
	if err != nil {
		fail("sipp uac: %v", err)
		return res
	}
	defer uac.kill()

	// The steady window: every call is up.
	winStart := t0.Add(ramp + 2*time.Second)
	winEnd := t0.Add(callHold)
	if sp.Workload == "setup" {
		winStart, winEnd = t0.Add(time.Second), t0.Add(ramp)
	}
	if winEnd.Sub(winStart) < r.minWindow {
		fail("hold %s too short for ramp %s: the steady window is under %s", callHold, ramp, r.minWindow)
	}
	sample := func() (srvCPU, genCPU, capCPU float64, m cpuTimes) {
		srvCPU, _ = procCPU(srv.pid())
		genCPU, _ = procCPU(uac.pid())
		if uas != nil {
			c, _ := procCPU(uas.pid())
			genCPU += c
		}
		if capt != nil {
			capCPU, _ = procCPU(capt.pid())
		}
		m, _ = machineCPU()
		return
	}
	if !sleepUntil(ctx, winStart) {
		fail("interrupted")
		return res
	}
	s0, g0, c0, m0 := sample()
	w0 := time.Now()
	for time.Now().Add(time.Second).Before(winEnd) && ctx.Err() == nil && !uac.exited() {
		rss, _, _ := procMem(srv.pid())
		res.RSS = max(res.RSS, rss)
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
	sleepUntil(ctx, winEnd)
	s1, g1, c1, m1 := sample()
	w1 := time.Now()
	_ = srv.cmd.Process.Signal(syscall.SIGUSR1) // snapshot while every call is up
	if uac.exited() {
		fail("sipp uac exited before the end of the steady window")
	}
	rss, _, _ := procMem(srv.pid())
	res.RSS = max(res.RSS, rss)
	res.WindowS = w1.Sub(w0).Seconds()
	res.ServerCPU = s1 - s0
	res.LoadGenCPU = g1 - g0
	res.CaptureCPU = c1 - c0
	if res.WindowS > 0 {
		res.CorePct = 100 * res.ServerCPU / res.WindowS
		res.LoadGenCorePct = 100 * res.LoadGenCPU / res.WindowS
		irq := m1.softirq - m0.softirq
		other := (m1.busy - m0.busy) - irq - res.ServerCPU - res.LoadGenCPU - res.CaptureCPU
		res.OtherBusyCorePct = 100 * other / res.WindowS
		res.SoftirqCorePct = 100 * irq / res.WindowS
		res.StealCorePct = 100 * (m1.steal - m0.steal) / res.WindowS
		if sp.Workload != "setup" {
			res.CPUPerCallMin = res.ServerCPU / (float64(n) * res.WindowS / 60)
		}
	}

	// Let the calls end.
	if err := uac.wait(); err != nil {
		fail("sipp uac: %v", err)
	}
	if uas != nil {
		done := make(chan error, 1)
		go func() { done <- uas.wait() }()
		select {
		case err := <-done:
			if err != nil {
				fail("sipp uas: %v", err)
			}
		case <-time.After(20 * time.Second):
			fail("sipp uas still running 20 s after the callers; killed")
			uas.kill()
		}
	}
	res.ServerCPUTotal, _ = procCPU(srv.pid())
	_, res.HWM, _ = procMem(srv.pid())
	res.LoadGenCPUTotal = uac.cpu()
	if uas != nil {
		res.LoadGenCPUTotal += uas.cpu()
	}
	res.SIPp = uac.stats()
	if uas != nil {
		res.SIPpUAS = uas.stats()
	}
	res.Failed = res.SIPp.Failed + res.SIPpUAS.Failed
	if res.SIPp.Successful > 0 {
		res.CPUPerCall = res.ServerCPUTotal / float64(res.SIPp.Successful)
	}
	counters, snap, err := srv.stop()
	if err != nil {
		fail("server stop: %v", err)
	}
	res.Counters, res.Snapshot = counters, snap
	var c struct {
		Digits int64 `json:"digits"`
	}
	_ = json.Unmarshal(counters, &c)
	res.Digits = c.Digits
	if capt != nil {
		drops, err := capt.stop()
		capt = nil
		if err != nil {
			fail("capture: %v", err)
		} else {
			out, in, err := analysePcap(filepath.Join(dir, "rtp.pcap"), serverRTP0, serverRTP1)
			if err != nil {
				fail("analyse: %v", err)
			}
			out.CaptureDrops, in.CaptureDrops = drops, drops
			res.Out, res.In = out, in
			if !r.keepPcap {
				os.Remove(filepath.Join(dir, "rtp.pcap"))
			}
		}
	}
	res.ElapsedS = time.Since(t0).Seconds()
	r.logf("  %s", summaryLine(res))
	return res
}

func summaryLine(r result) string {
	return fmt.Sprintf("cpu %.4f s/call-min (%.1f%% core), rss %.1f MB, rtp p50 %.1f p99 %.1f max %.1f ms, loss %.3f%% skipped %.3f%% (%d streams), gaps>100ms %d (start %d, together %d), sipp ok %d failed %d retrans %d, digits %d, loadgen %.0f%% core, irq %.0f%% core, other %.0f%% core",
		r.CPUPerCallMin, r.CorePct, float64(r.RSS)/1e6, r.Out.P50MS, r.Out.P99MS, r.Out.MaxMS, r.Out.LossPct, r.Out.TSSkippedPct, r.Out.Streams, r.Out.Gaps100, r.Out.GapsAtStart, r.Out.GapsTogether,
		r.SIPp.Successful, r.Failed, r.SIPp.Retrans+r.SIPpUAS.Retrans, r.Digits, r.LoadGenCorePct, r.SoftirqCorePct, r.OtherBusyCorePct+r.SoftirqCorePct)
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// proc is a child process bounded by a deadline and stopped by its PID.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(ctx context.Context, dir string, limit time.Duration, stdout, stderr io.Writer, name string, args ...string) (*proc, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) wait() error {
	<-p.done
	return p.err
}

func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) signalWait(sig os.Signal, d time.Duration) error {
	if p.exited() {
		return p.err
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.kill()
		return fmt.Errorf("still running %s after %v; killed", d, sig)
	}
}

// cpu is the CPU seconds of an exited process.
func (p *proc) cpu() float64 {
	if st := p.cmd.ProcessState; st != nil {
		return (st.UserTime() + st.SystemTime()).Seconds()
	}
	return 0
}

// server is ivrserver or diagoserver.
type server struct {
	*proc
	stdout *os.File
	path   string
}

func startServer(ctx context.Context, bin string, args []string, dir string, limit time.Duration) (*server, error) {
	outPath := filepath.Join(dir, "server.out")
	out, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	p, err := startProc(ctx, dir, limit, out, pw, bin, args...)
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		once := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !once && strings.Contains(sc.Text(), " ready ") {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() { <-p.done; pw.Close() }()
	select {
	case <-ready:
	case <-p.done:
		return nil, fmt.Errorf("%s exited before ready: %v (see %s)", filepath.Base(bin), p.err, filepath.Join(dir, "server.log"))
	case <-time.After(15 * time.Second):
		p.kill()
		return nil, errors.New("server not ready after 15 s")
	}
	return &server{proc: p, stdout: out, path: outPath}, nil
}

// stop sends SIGTERM and returns the counters line the server prints at
// exit and the snapshot line it printed on SIGUSR1.
func (s *server) stop() (counters, snap json.RawMessage, err error) {
	err = s.signalWait(syscall.SIGTERM, 30*time.Second)
	s.stdout.Close()
	b, rerr := os.ReadFile(s.path)
	if rerr != nil {
		return nil, nil, rerr
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "{") || !json.Valid([]byte(line)) {
			continue
		}
		if strings.Contains(line, `"snapshot":true`) {
			snap = json.RawMessage(line)
		} else {
			counters = json.RawMessage(line)
		}
	}
	if counters == nil && err == nil {
		err = errors.New("no counters printed")
	}
	return counters, snap, err
}

// capture is dumpcap on lo writing the RTP of the run.
type capture struct {
	*proc
	stderr *os.File
	path   string
}

func startCapture(ctx context.Context, dir string, limit time.Duration) (*capture, error) {
	filter := fmt.Sprintf("udp and ((src portrange %d-%d and (dst port %d or dst port %d)) or ((src port %d or src port %d) and dst portrange %d-%d))",
		serverRTP0, serverRTP1, uacMedia, uasMedia, uacMedia, uasMedia, serverRTP0, serverRTP1)
	errPath := filepath.Join(dir, "dumpcap.err")
	ef, err := os.Create(errPath)
	if err != nil {
		return nil, err
	}
	p, err := startProc(ctx, dir, limit, io.Discard, ef, "dumpcap", "-i", "lo", "-f", filter, "-s", "64",
		"-B", "128", "-P", "-q", "-w", filepath.Join(dir, "rtp.pcap"))
	if err != nil {
		ef.Close()
		return nil, err
	}
	c := &capture{proc: p, stderr: ef, path: errPath}
	// dumpcap needs a moment before it captures.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(errPath); strings.Contains(string(b), "File:") {
			time.Sleep(300 * time.Millisecond)
			return c, nil
		}
		if p.exited() {
			b, _ := os.ReadFile(errPath)
			return nil, fmt.Errorf("dumpcap exited: %s", strings.TrimSpace(string(b)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c, nil
}

var dropRe = regexp.MustCompile(`received/dropped on interface .*: (\d+)/(\d+)`)

// stop ends the capture and returns the packets the kernel dropped.
func (c *capture) stop() (int64, error) {
	if c == nil || c.proc == nil {
		return 0, nil
	}
	time.Sleep(500 * time.Millisecond)
	_ = c.signalWait(syscall.SIGTERM, 15*time.Second)
	c.stderr.Close()
	b, _ := os.ReadFile(c.path)
	m := dropRe.FindStringSubmatch(string(b))
	if m == nil {
		return 0, fmt.Errorf("dumpcap printed no statistics: %s", strings.TrimSpace(string(b)))
	}
	d, _ := strconv.ParseInt(m[2], 10, 64)
	return d, nil
}
