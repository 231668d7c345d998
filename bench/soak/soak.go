package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver/bench/soak/internal/procstat"
)

// Config is one soak run.
type Config struct {
	Duration         time.Duration
	Calls            int
	MinCall, MaxCall time.Duration
	Mix              string
	Ramp, Sample     time.Duration
	Settle           time.Duration
	MinSettle        time.Duration
	RTPPorts         string
	SIPpSIPBase      int
	SIPpMediaBase    int
	Room             int
	TransferAfter    time.Duration
	ConsultFor       time.Duration
	NoDTMF           bool
	TolGoroutines    int
	TolFDs, TolUDP   int
	MaxGrowthPct     float64
	TolHeapMB        float64
	MaxFailedPct     float64
	RaceServer       bool
	TraceSessions    int
	MemProfileRate   int

	Root    string // module root
	Work    string // binaries, scenarios, logs
	Out     string // results directory ("" writes none)
	Command string
	Logf    func(format string, args ...any)
}

func defaultConfig() Config {
	return Config{
		Duration: 10 * time.Minute, Calls: 300,
		MinCall: 5 * time.Second, MaxCall: 40 * time.Second,
		Mix:  "ivr=1,bridge=1,transfer=1,conference=1",
		Ramp: 30 * time.Second, Sample: 5 * time.Second, Settle: 2 * time.Minute, MinSettle: 40 * time.Second,
		RTPPorts: "43000-44299", SIPpSIPBase: 35100, SIPpMediaBase: 35500,
		Room: 5, TransferAfter: 3 * time.Second, ConsultFor: 4 * time.Second,
		// Goroutines: at each sample the stats request itself runs on two
		// goroutines of the server (counted in the baseline too); a timer
		// firing or a connection closing at that instant may add one or
		// two more. See README.md.
		TolGoroutines: 2, TolFDs: 1, TolUDP: 0,
		MaxGrowthPct: 20, MaxFailedPct: 1, TolHeapMB: 4,
		// Traces of completed sessions are kept by the library (1000 for 10
		// minutes by default) with their whole object graph; -1 keeps
		// none, so that the end heap can be compared with the baseline.
		TraceSessions: -1,
	}
}

var routes = []string{"ivr", "bridge", "transfer", "conference"}

// Port ranges of this test (shared machine). SIPp's ports are fixed, so
// they lie in 35000-39999, which .ci/run keeps out of the kernel's
// ephemeral ports, and away from every other test's fixed ports and RTP
// ranges (the root package's servers take RTP ports from 42000-45999: a
// SIPp port there could be bound by one of them first, and SIPp exits
// 254). The server's own RTP ports may overlap other servers' ranges: a
// port allocator skips ports that are taken.
const (
	rtpLo, rtpHi     = 43000, 44499
	sipLo, sipHi     = 35100, 35199
	mediaLo, mediaHi = 35500, 35999
	sipPortsUsed     = 12
	mediaPortsUsed   = 20
)

func (c *Config) validate() error {
	var lo, hi int
	if _, err := fmt.Sscanf(c.RTPPorts, "%d-%d", &lo, &hi); err != nil || lo > hi {
		return fmt.Errorf("-rtp-ports %q: want MIN-MAX", c.RTPPorts)
	}
	switch {
	case lo < rtpLo || hi > rtpHi:
		return fmt.Errorf("-rtp-ports %s: must lie within %d-%d", c.RTPPorts, rtpLo, rtpHi)
	case c.SIPpSIPBase < sipLo || c.SIPpSIPBase+sipPortsUsed-1 > sipHi:
		return fmt.Errorf("-sipp-sip-base %d: ports %d.. must lie within %d-%d", c.SIPpSIPBase, c.SIPpSIPBase, sipLo, sipHi)
	case c.SIPpMediaBase < mediaLo || c.SIPpMediaBase+mediaPortsUsed-1 > mediaHi:
		return fmt.Errorf("-sipp-media-base %d: ports %d.. must lie within %d-%d", c.SIPpMediaBase, c.SIPpMediaBase, mediaLo, mediaHi)
	case c.Calls < len(routes):
		return fmt.Errorf("-calls %d: at least %d", c.Calls, len(routes))
	case c.MinCall < 2*time.Second || c.MaxCall < c.MinCall:
		return errors.New("want 2s <= -min-call <= -max-call")
	case c.Duration <= 0 || c.Sample <= 0:
		return errors.New("-duration and -sample must be positive")
	}
	return nil
}

// split divides the concurrent calls between the routes by the -mix
// weights.
func (c *Config) split() (map[string]int, error) {
	w := map[string]float64{}
	var total float64
	for _, part := range strings.Split(c.Mix, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || f < 0 || !slicesContains(routes, k) {
			return nil, fmt.Errorf("-mix %q: want kind=weight,... with kinds %s", c.Mix, strings.Join(routes, ", "))
		}
		w[k] = f
		total += f
	}
	if total <= 0 {
		return nil, fmt.Errorf("-mix %q: no weight", c.Mix)
	}
	out := map[string]int{}
	left := c.Calls
	for _, r := range routes {
		n := int(math.Floor(float64(c.Calls) * w[r] / total))
		out[r] = n
		left -= n
	}
	for i := 0; left > 0; i = (i + 1) % len(routes) {
		if w[routes[i]] > 0 {
			out[routes[i]]++
			left--
		}
	}
	return out, nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Sample is one reading of the server. FDs, UDP and TCP sockets and RSS
// are read from /proc/<pid> by the driver; the rest comes from the
// server's /stats.
type Sample struct {
	T            float64 `json:"t"` // seconds since the first call was started
	Phase        string  `json:"phase"`
	Goroutines   int     `json:"goroutines"`
	FDs          int     `json:"fds"`
	UDPSockets   int     `json:"udpSockets"`
	TCPSockets   int     `json:"tcpSockets"`
	Threads      int     `json:"threads"`
	RSSBytes     int64   `json:"rssBytes"`
	HeapInuse    uint64  `json:"heapInuseBytes"`
	HeapLive     uint64  `json:"heapLiveBytes"`
	Sessions     int     `json:"sessions"`
	Participants int     `json:"participants"`
	Conferences  int     `json:"conferences"`
	Endpoints    int     `json:"endpoints"`
	Calls        int64   `json:"sippCalls"` // calls up at the SIPp callers
	Completed    int64   `json:"completed"` // successful calls of the callers so far
	Failed       int64   `json:"failed"`    // failed calls of callers and callee so far
	// ServerFDs and ServerUDP are the server's own count (it includes the
	// stats request's TCP connection).
	ServerFDs int `json:"serverFds"`
	ServerUDP int `json:"serverUdp"`
}

// serverStats is the part of the server's /stats answer the driver reads.
type serverStats struct {
	Goroutines   int    `json:"goroutines"`
	FDs          int    `json:"fds"`
	UDPSockets   int    `json:"udpSockets"`
	HeapInuse    uint64 `json:"heapInuseBytes"`
	HeapLive     uint64 `json:"heapLiveBytes"`
	Sessions     int    `json:"sessions"`
	Participants int    `json:"participants"`
	Conferences  int    `json:"conferences"`
	Endpoints    int    `json:"endpoints"`
}

// run is the state of one soak run.
type run struct {
	cfg       Config
	client    *http.Client
	httpURL   string
	serverSIP string
	server    *proc
	uacs      map[string]*sipp
	uas       *sipp
	t0        time.Time // the first call was started

	mu      sync.Mutex
	samples []Sample
}

// Run runs one soak. It returns a Result whenever the calls ran, also
// with an error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	shares, err := cfg.split()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		return nil, errors.New("sipp not found (apt-get install sip-tester)")
	}
	if err := os.MkdirAll(cfg.Work, 0o755); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, uacs: map[string]*sipp{},
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	res := &Result{Config: cfg.public(), Shares: shares, Started: time.Now().UTC(), Machine: machineInfo(), Commit: commitInfo(cfg.Root)}
	res.Machine.LoadStart = loadAvg()
	defer r.cleanup()

	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if err := r.startServer(ctx); err != nil {
		return nil, err
	}
	if err := r.startCallee(ctx); err != nil {
		return nil, err
	}

	// Baseline: the idle server after a forced GC.
	if !sleep(ctx, 2*time.Second) {
		return nil, ctx.Err()
	}
	base, err := r.sample(ctx, "baseline", true)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	r.save(ctx, "/goroutines", "goroutines-baseline.txt")
	r.save(ctx, "/debug/pprof/heap?gc=1", "heap-baseline.pprof")
	cfg.Logf("baseline: %s", base.brief())

	r.t0 = time.Now()
	if err := r.startCallers(ctx, shares); err != nil {
		return nil, err
	}
	cfg.Logf("%d callers started: %s; load for %v", len(r.uacs), shareString(shares), cfg.Duration)

	// Load: sample until the time is up.
	if err := r.sampleUntil(ctx, "load", r.t0.Add(cfg.Duration), nil); err != nil {
		return nil, err
	}
	// Drain: the callers start no more calls and finish theirs.
	cfg.Logf("time is up: the callers finish their calls (up to %v)", cfg.MaxCall)
	drained := make(chan struct{})
	var graceful sync.Map
	go func() {
		defer close(drained)
		var wg sync.WaitGroup
		for name, u := range r.uacs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				graceful.Store(name, u.end(ctx, cfg.MaxCall+45*time.Second))
			}()
		}
		wg.Wait()
		graceful.Store("uas", r.uas.end(ctx, 30*time.Second))
	}()
	if err := r.sampleUntil(ctx, "drain", time.Time{}, drained); err != nil {
		<-drained
		return nil, err
	}
	<-drained
	graceful.Range(func(k, v any) bool {
		if !v.(bool) {
			res.Problems = append(res.Problems, fmt.Sprintf("SIPp %s did not finish its calls in time and was stopped", k))
		}
		return true
	})
	lastCall := time.Now()
	cfg.Logf("all SIPp processes ended; settling (up to %v)", cfg.Settle)

	// Settle: wait for the figures to return to baseline, then force a GC.
	settled := false
	deadline := lastCall.Add(cfg.Settle)
	for time.Now().Before(deadline) {
		if !sleep(ctx, 2*time.Second) {
			return nil, ctx.Err()
		}
		s, err := r.sample(ctx, "settle", false)
		if err != nil {
			return nil, err
		}
		if time.Since(lastCall) >= cfg.MinSettle && r.backToBase(base, s) {
			settled = true
			break
		}
	}
	res.SettleS = time.Since(lastCall).Seconds()
	if !sleep(ctx, time.Second) {
		return nil, ctx.Err()
	}
	end, err := r.sample(ctx, "end", true)
	if err != nil {
		return nil, err
	}
	cfg.Logf("end (after %.0f s, settled=%v): %s", res.SettleS, settled, end.brief())
	r.save(ctx, "/goroutines", "goroutines-end.txt")
	r.save(ctx, "/debug/pprof/heap?gc=1", "heap-end.pprof")

	// Stop the server; it prints its final figures.
	r.server.stop(syscall.SIGTERM, 30*time.Second)
	res.ServerFinal = lastJSONLine(filepath.Join(cfg.Work, "server.out"))
	res.Machine.LoadEnd = loadAvg()
	res.SIPp = map[string]sippStats{}
	for name, u := range r.uacs {
		res.SIPp[name] = u.stats()
	}
	res.SIPp["uas"] = r.uas.stats()
	r.mu.Lock()
	res.Samples = append([]Sample(nil), r.samples...)
	r.mu.Unlock()
	res.evaluate(cfg, base, end)
	return res, nil
}

// prepare writes the scenarios and media files and builds the server.
func (r *run) prepare(ctx context.Context) error {
	c := r.cfg
	for name, hz := range map[string]float64{"tone1000.ulaw": 1000, "tone440.ulaw": 440} {
		if err := os.WriteFile(filepath.Join(c.Work, name), toneULaw(hz), 0o644); err != nil {
			return err
		}
	}
	dtmf := ""
	if !c.NoDTMF {
		src, err := dtmfPcap()
		if err != nil {
			return fmt.Errorf("%w (or use -no-dtmf)", err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dtmf = "dtmf5.pcap"
		if err := os.WriteFile(filepath.Join(c.Work, dtmf), b, 0o644); err != nil {
			return err
		}
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	for _, route := range routes {
		data := map[string]any{
			"Route": route, "Tone": "tone1000.ulaw", "DTMF": "",
			"HoldMinMS": ms(c.MinCall), "HoldMaxMS": ms(c.MaxCall),
			"AnswerTimeoutMS": 30000, "ByeTimeoutMS": 30000,
		}
		if route == "ivr" && dtmf != "" {
			data["DTMF"] = dtmf
			data["HoldMinMS"], data["HoldMaxMS"] = ms(c.MinCall)-1200, ms(c.MaxCall)-1200
		}
		if err := render(filepath.Join(c.Work, "uac-"+route+".xml"), uacXML, data); err != nil {
			return err
		}
	}
	// A callee leg lasts at most as long as its caller's call.
	if err := render(filepath.Join(c.Work, "uas.xml"), uasXML, map[string]any{
		"Tone": "tone440.ulaw", "AckTimeoutMS": 30000, "ByeTimeoutMS": ms(c.MaxCall + 2*time.Minute),
	}); err != nil {
		return err
	}
	args := []string{"build", "-o", filepath.Join(c.Work, "soakserver")}
	if c.RaceServer {
		args = append(args, "-race")
	}
	args = append(args, "./bench/soak/server")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the server: %v\n%s", err, out)
	}
	return nil
}

func (r *run) uasSIPPort() int { return r.cfg.SIPpSIPBase + 10 }

func (r *run) startServer(ctx context.Context) error {
	c := r.cfg
	info := filepath.Join(c.Work, "server.json")
	_ = os.Remove(info)
	out, err := os.Create(filepath.Join(c.Work, "server.out"))
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(c.Work, "server.log"))
	if err != nil {
		out.Close()
		return err
	}
	p, err := startProc(ctx, c.Work, out, logf, filepath.Join(c.Work, "soakserver"),
		"-sip", "127.0.0.1:0", "-http", "127.0.0.1:0", "-rtp-ports", c.RTPPorts, "-info", info,
		"-callee", fmt.Sprintf("127.0.0.1:%d", r.uasSIPPort()), "-room", strconv.Itoa(c.Room),
		"-room-ttl", (c.MinCall / 2).String(), "-transfer-after", c.TransferAfter.String(),
		"-consult-for", c.ConsultFor.String(), "-trace-sessions", strconv.Itoa(c.TraceSessions),
		"-memprofilerate", strconv.Itoa(c.MemProfileRate))
	if err != nil {
		out.Close()
		logf.Close()
		return err
	}
	p.name = "soakserver"
	go func() { <-p.done; out.Close(); logf.Close() }()
	r.server = p
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(info)
		if err == nil {
			var v struct {
				PID  int    `json:"pid"`
				SIP  string `json:"sip"`
				HTTP string `json:"http"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("server info %s: %w", info, err)
			}
			if v.PID != p.pid() {
				return fmt.Errorf("server info names pid %d, started %d", v.PID, p.pid())
			}
			r.httpURL = "http://" + v.HTTP
			c.Logf("server pid %d: SIP %s, stats http://%s/stats, RTP %s", v.PID, v.SIP, v.HTTP, c.RTPPorts)
			r.serverSIP = v.SIP
			return nil
		}
		if p.exited() {
			return fmt.Errorf("server exited before ready: %v (see %s)", p.err, filepath.Join(c.Work, "server.log"))
		}
		if time.Now().After(deadline) {
			return errors.New("server not ready after 60 s")
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// limit is the hard stop of every SIPp (-timeout with -timeout_error): the
// whole run with room to spare; normally they end by 'q' long before.
func (r *run) limit() time.Duration {
	return r.cfg.Duration + r.cfg.MaxCall + r.cfg.Settle + 5*time.Minute
}

func (r *run) startCallee(ctx context.Context) error {
	c := r.cfg
	u, err := startSIPp(ctx, c.Work, "uas", r.uasSIPPort()+1, r.limit(),
		"-sf", "uas.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(r.uasSIPPort()),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(c.SIPpMediaBase+16))
	if err != nil {
		return err
	}
	r.uas = u
	if !sleep(ctx, 500*time.Millisecond) {
		return ctx.Err()
	}
	if u.exited() {
		return fmt.Errorf("SIPp callee exited at once (exit %d): see %s", u.exitCode(), filepath.Join(c.Work, "sipp-uas.out"))
	}
	return nil
}

// startCallers starts one SIPp caller per route: at most n calls at once
// (-l), new calls at a rate that reaches n within the ramp and keeps the
// number up as calls end.
func (r *run) startCallers(ctx context.Context, shares map[string]int) error {
	c := r.cfg
	mean := (c.MinCall + c.MaxCall).Seconds() / 2
	for i, route := range routes {
		n := shares[route]
		if n == 0 {
			continue
		}
		rate := int(math.Ceil(math.Max(float64(n)/math.Max(c.Ramp.Seconds(), 1), 2*float64(n)/mean)))
		u, err := startSIPp(ctx, c.Work, route, c.SIPpSIPBase+2*i+1, r.limit(),
			r.serverSIP, "-sf", "uac-"+route+".xml", "-s", route,
			"-i", "127.0.0.1", "-p", strconv.Itoa(c.SIPpSIPBase+2*i),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(c.SIPpMediaBase+4*i),
			"-l", strconv.Itoa(n), "-r", strconv.Itoa(rate))
		if err != nil {
			return err
		}
		r.uacs[route] = u
	}
	if !sleep(ctx, 500*time.Millisecond) {
		return ctx.Err()
	}
	for name, u := range r.uacs {
		if u.exited() {
			return fmt.Errorf("SIPp caller %s exited at once (exit %d): see %s", name, u.exitCode(), filepath.Join(c.Work, "sipp-"+name+".out"))
		}
	}
	return nil
}

// sampleUntil samples every cfg.Sample until the deadline (when not zero)
// or until done is closed.
func (r *run) sampleUntil(ctx context.Context, phase string, deadline time.Time, done <-chan struct{}) error {
	t := time.NewTicker(r.cfg.Sample)
	defer t.Stop()
	var wait <-chan time.Time // nil: no deadline
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		wait = tm.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return nil
		case <-wait:
			return nil
		case <-t.C:
		}
		s, err := r.sample(ctx, phase, false)
		if err != nil {
			return err
		}
		r.cfg.Logf("%-5s t=%4.0fs %s", phase, s.T, s.brief())
		for name, u := range r.uacs {
			if u.exited() && phase == "load" {
				return fmt.Errorf("SIPp caller %s exited during the load (exit %d): %s", name, u.exitCode(), u.stats().Errors)
			}
		}
		if r.server.exited() {
			return fmt.Errorf("the server exited: %v", r.server.err)
		}
	}
}

// sample reads /proc/<pid> first (so the stats request's own connection
// is not in it), then the server's /stats (or /gc).
func (r *run) sample(ctx context.Context, phase string, gc bool) (Sample, error) {
	s := Sample{Phase: phase}
	if !r.t0.IsZero() {
		s.T = time.Since(r.t0).Seconds()
	}
	fig, err := procstat.Read(r.server.pid())
	if err != nil {
		return s, fmt.Errorf("reading /proc of the server: %w", err)
	}
	s.FDs, s.UDPSockets, s.TCPSockets, s.RSSBytes, s.Threads = fig.FDs, fig.UDPSockets, fig.TCPSockets, fig.RSSBytes, fig.Threads
	method, path := http.MethodGet, "/stats"
	if gc {
		method, path = http.MethodPost, "/gc"
	}
	var st serverStats
	if err := r.getJSON(ctx, method, path, &st); err != nil {
		return s, err
	}
	if gc {
		// RSS after the collection returned memory to the OS.
		if fig, err := procstat.Read(r.server.pid()); err == nil {
			s.RSSBytes = fig.RSSBytes
		}
	}
	s.Goroutines, s.HeapInuse, s.HeapLive = st.Goroutines, st.HeapInuse, st.HeapLive
	s.Sessions, s.Participants, s.Conferences, s.Endpoints = st.Sessions, st.Participants, st.Conferences, st.Endpoints
	s.ServerFDs, s.ServerUDP = st.FDs, st.UDPSockets
	for _, u := range r.uacs {
		cs := u.current()
		s.Calls += cs.Current
		s.Completed += cs.Successful
		s.Failed += cs.Failed
	}
	if r.uas != nil {
		s.Failed += r.uas.current().Failed
	}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
	return s, nil
}

func (r *run) getJSON(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.httpURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("server %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// save writes what the server serves at path to name in the work
// directory (goroutine dumps and heap profiles, for evidence).
func (r *run) save(ctx context.Context, path, name string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.httpURL+path, nil)
	if err != nil {
		return
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(r.cfg.Work, name))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// backToBase reports whether s is back at the baseline: no session or
// endpoint left, goroutines, fds and UDP sockets within tolerance.
func (r *run) backToBase(base, s Sample) bool {
	c := r.cfg
	return s.Sessions == 0 && s.Participants == 0 && s.Endpoints == 0 && s.Conferences == 0 &&
		absInt(s.Goroutines-base.Goroutines) <= c.TolGoroutines &&
		absInt(s.FDs-base.FDs) <= c.TolFDs && absInt(s.UDPSockets-base.UDPSockets) <= c.TolUDP
}

// cleanup stops whatever still runs, by PID: callers, callee, server.
func (r *run) cleanup() {
	for _, u := range r.uacs {
		u.stop(syscall.SIGTERM, 5*time.Second)
		u.close()
	}
	if r.uas != nil {
		r.uas.stop(syscall.SIGTERM, 5*time.Second)
		r.uas.close()
	}
	if r.server != nil {
		r.server.stop(syscall.SIGTERM, 30*time.Second)
	}
}

func (s Sample) brief() string {
	return fmt.Sprintf("calls=%d sessions=%d parts=%d confs=%d goroutines=%d fds=%d udp=%d rss=%.1fMB heap=%.1fMB done=%d failed=%d",
		s.Calls, s.Sessions, s.Participants, s.Conferences, s.Goroutines, s.FDs, s.UDPSockets,
		mb(s.RSSBytes), mb(int64(s.HeapInuse)), s.Completed, s.Failed)
}

func shareString(m map[string]int) string {
	var parts []string
	for _, r := range routes {
		parts = append(parts, fmt.Sprintf("%s %d", r, m[r]))
	}
	return strings.Join(parts, ", ")
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// lastJSONLine returns the last line of a file that is a JSON object.
func lastJSONLine(path string) json.RawMessage {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var last json.RawMessage
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "{") && json.Valid([]byte(line)) {
			last = json.RawMessage(line)
		}
	}
	return last
}
