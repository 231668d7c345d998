package deploy

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The setup's files, as committed beside this one (dispatcher.list is
// what DispatcherList writes for DefaultPorts).
var (
	//go:embed kamailio.cfg
	kamailioCfg []byte
	//go:embed uac.xml
	uacXML []byte
)

// Ports are the fixed ports of a cluster on 127.0.0.1. Instance i (from 0)
// takes SIP+i (UDP and TCP), API+i and the RTP ports
// RTP+i*RTPPerInstance to RTP+(i+1)*RTPPerInstance-1.
type Ports struct {
	SIP, API       int
	RTP            int
	RTPPerInstance int
	// App is the webhook application's HTTP port.
	App int
	// Kamailio is Kamailio's SIP port (UDP).
	Kamailio int
	// SIPp is the caller's SIP port; it also binds SIPp+1 (control), SIPp+2
	// and SIPp+4 (media), and the readiness probe of Kamailio uses SIPp+6.
	SIPp int
}

// DefaultPorts are the ports of deploy/cluster and of docs/SCALING.md.
var DefaultPorts = Ports{SIP: 37001, API: 37151, RTP: 55000, RTPPerInstance: 1000, App: 37160, Kamailio: 37200, SIPp: 37210}

// Config describes a cluster.
type Config struct {
	// Dir holds the logs, the data directory of each instance, Kamailio's
	// configuration and runtime files and SIPp's files. Required.
	Dir string
	// Mediaserver is the cmd/mediaserver binary. Required (Build makes one).
	Mediaserver string
	// Kamailio and SIPp are the programs. Default "kamailio" and "sipp".
	Kamailio, SIPp string
	// Instances is the number of instances, 1 to 9. Default 3.
	Instances int
	// Ports default to DefaultPorts.
	Ports Ports
	// DrainTimeout is each instance's -drain-timeout. Default 60 s.
	DrainTimeout time.Duration
	// PingInterval is Kamailio's ds_ping_interval. Default 1 s.
	PingInterval time.Duration
	// Logf, when set, receives progress lines and the commands run.
	Logf func(format string, args ...any)
}

// Instance is one running cmd/mediaserver.
type Instance struct {
	ID         string
	SIPAddr    string
	APIBaseURL string
	RTPPorts   string
	Proc       *Proc
}

// Cluster is a running setup: instances, Kamailio and the webhook App.
type Cluster struct {
	cfg       Config
	App       *App
	Instances []*Instance
	Kamailio  *Proc
	http      *http.Server
	httpDone  chan error
	procs     []*Proc
}

func (c *Config) withDefaults() error {
	if c.Dir == "" || c.Mediaserver == "" {
		return errors.New("deploy: Config.Dir and Config.Mediaserver are required")
	}
	if c.Kamailio == "" {
		c.Kamailio = "kamailio"
	}
	if c.SIPp == "" {
		c.SIPp = "sipp"
	}
	if c.Instances == 0 {
		c.Instances = 3
	}
	if c.Instances < 1 || c.Instances > 9 {
		return fmt.Errorf("deploy: %d instances: want 1 to 9", c.Instances)
	}
	if c.Ports == (Ports{}) {
		c.Ports = DefaultPorts
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// InstanceID is the ID of instance i (from 0): ms1, ms2, ...
func InstanceID(i int) string { return "ms" + strconv.Itoa(i+1) }

// DispatcherList is the dispatcher.list of n instances on ports: set 1,
// one line per instance's SIP address.
func DispatcherList(n int, ports Ports) string {
	var b strings.Builder
	b.WriteString("# setid destination flags priority attributes (Kamailio dispatcher module)\n")
	b.WriteString("# Set 1: the cmd/mediaserver instances, dispatched round robin (kamailio.cfg).\n")
	for i := range n {
		fmt.Fprintf(&b, "1 sip:127.0.0.1:%d 0 0 instance=%s\n", ports.SIP+i, InstanceID(i))
	}
	return b.String()
}

// Start starts the App, the instances and Kamailio, and returns once all
// are ready: every instance's /readyz answers 200, the prompt is on every
// instance and Kamailio answers OPTIONS. On an error it stops what it
// started.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	c = &Cluster{cfg: cfg}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	p := cfg.Ports
	secret, token := randomHex(16), randomHex(16)
	instances := make(map[string]string)
	var peers []string
	for i := range cfg.Instances {
		in := &Instance{
			ID:         InstanceID(i),
			SIPAddr:    fmt.Sprintf("127.0.0.1:%d", p.SIP+i),
			APIBaseURL: fmt.Sprintf("http://127.0.0.1:%d", p.API+i),
			RTPPorts:   fmt.Sprintf("%d-%d", p.RTP+i*p.RTPPerInstance, p.RTP+(i+1)*p.RTPPerInstance-1),
		}
		c.Instances = append(c.Instances, in)
		instances[in.ID] = in.APIBaseURL
		peers = append(peers, in.ID+"="+in.APIBaseURL)
	}

	// The webhook application.
	c.App = &App{Instances: instances, Token: token, Secret: []byte(secret), Misdirect: true}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.App))
	if err != nil {
		return c, fmt.Errorf("deploy: the application's port: %w", err)
	}
	c.http = &http.Server{Handler: c.App, ReadHeaderTimeout: 10 * time.Second}
	c.httpDone = make(chan error, 1)
	go func() { c.httpDone <- c.http.Serve(ln) }()
	callbackURL := fmt.Sprintf("http://127.0.0.1:%d/hooks", p.App)

	// The instances. Secrets go in the environment, not on the command line.
	env := []string{"MEDIASERVER_CALLBACK_SECRET=" + secret, "MEDIASERVER_API_TOKEN=" + token}
	for _, in := range c.Instances {
		data := filepath.Join(cfg.Dir, in.ID, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return c, err
		}
		args := []string{
			"-instance-id", in.ID,
			"-sip-addr", in.SIPAddr,
			"-api-addr", strings.TrimPrefix(in.APIBaseURL, "http://"),
			"-api-base-url", in.APIBaseURL,
			"-rtp-ports", in.RTPPorts,
			"-data-dir", data,
			"-callback-url", callbackURL,
			"-peers", strings.Join(peers, ","),
			"-drain-timeout", cfg.DrainTimeout.String(),
			"-log-format", "json",
		}
		cfg.Logf("$ MEDIASERVER_CALLBACK_SECRET=... MEDIASERVER_API_TOKEN=... mediaserver %s", strings.Join(args, " "))
		if in.Proc, err = c.start(in.ID, env, cfg.Mediaserver, args...); err != nil {
			return c, err
		}
	}
	for _, in := range c.Instances {
		if err := waitReady(ctx, in); err != nil {
			return c, err
		}
	}
	if err := c.App.UploadPrompt(ctx); err != nil {
		return c, err
	}

	// Kamailio.
	files := map[string][]byte{
		"kamailio.cfg":    kamailioCfg,
		"dispatcher.list": []byte(DispatcherList(cfg.Instances, p)),
		"uac.xml":         uacXML,
		"tone.ulaw":       ulaw(tone(1000, 0.3, 10*time.Second)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), b, 0o644); err != nil {
			return c, err
		}
	}
	run := filepath.Join(cfg.Dir, "kamailio-run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return c, err
	}
	kargs := []string{
		"-f", filepath.Join(cfg.Dir, "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8", "-Y", run,
		"-A", fmt.Sprintf("LISTEN=udp:127.0.0.1:%d", p.Kamailio),
		"-A", fmt.Sprintf("DS_LIST=%q", filepath.Join(cfg.Dir, "dispatcher.list")),
		"-A", fmt.Sprintf("PING_INTERVAL=%d", max(1, int(cfg.PingInterval.Seconds()))),
	}
	cfg.Logf("$ kamailio %s", strings.Join(kargs, " "))
	if c.Kamailio, err = c.start("kamailio", nil, cfg.Kamailio, kargs...); err != nil {
		return c, err
	}
	if err := c.waitKamailio(ctx); err != nil {
		return c, err
	}
	cfg.Logf("ready: %d instances behind Kamailio at 127.0.0.1:%d", cfg.Instances, p.Kamailio)
	return c, nil
}

func (c *Cluster) start(name string, env []string, path string, args ...string) (*Proc, error) {
	pr, err := startProc(c.cfg.Dir, name, env, path, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, pr)
	return pr, nil
}

// waitReady polls the instance's /readyz until it answers 200.
func waitReady(ctx context.Context, in *Instance) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.APIBaseURL+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-in.Proc.Done():
			return fmt.Errorf("deploy: instance %s exited with %d (see %s)", in.ID, in.Proc.ExitCode(), in.Proc.LogPath())
		case <-ctx.Done():
			return fmt.Errorf("deploy: instance %s not ready: %w", in.ID, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitKamailio sends OPTIONS to Kamailio until it answers 200, from the
// probe port SIPp+6.
func (c *Cluster) waitKamailio(ctx context.Context) error {
	p := c.cfg.Ports
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.SIPp + 6})
	if err != nil {
		return fmt.Errorf("deploy: probe port: %w", err)
	}
	defer func() { _ = conn.Close() }()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.Kamailio}
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		msg := fmt.Sprintf("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ready-%d-%s\r\n"+
			"From: <sip:probe@127.0.0.1:%d>;tag=%s\r\nTo: <sip:127.0.0.1:%d>\r\n"+
			"Call-ID: ready-%s\r\nCSeq: %d OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			p.Kamailio, p.SIPp+6, i, randomHex(4), p.SIPp+6, randomHex(4), p.Kamailio, randomHex(8), i+1)
		if _, err := conn.WriteToUDP([]byte(msg), dst); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, _, err := conn.ReadFromUDP(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			return nil
		}
		select {
		case <-c.Kamailio.Done():
			return fmt.Errorf("deploy: kamailio exited with %d (see %s)", c.Kamailio.ExitCode(), c.Kamailio.LogPath())
		case <-ctx.Done():
			return fmt.Errorf("deploy: kamailio does not answer OPTIONS: %w", ctx.Err())
		default:
		}
	}
}

// Load is a SIPp run: Calls calls at Rate per second, each held for Hold.
type Load struct {
	Calls int
	Rate  int
	Hold  time.Duration
}

// StartLoad starts SIPp sending the calls to Kamailio. Its own -timeout
// bounds it: the time to place the calls, plus the hold, plus a minute.
func (c *Cluster) StartLoad(l Load) (*Proc, error) {
	p := c.cfg.Ports
	limit := time.Duration(l.Calls/max(l.Rate, 1))*time.Second + l.Hold + time.Minute
	args := []string{
		fmt.Sprintf("127.0.0.1:%d", p.Kamailio), "-sf", "uac.xml", "-s", "ivr",
		"-i", "127.0.0.1", "-p", strconv.Itoa(p.SIPp), "-cp", strconv.Itoa(p.SIPp + 1),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(p.SIPp + 2),
		"-m", strconv.Itoa(l.Calls), "-l", strconv.Itoa(l.Calls), "-r", strconv.Itoa(l.Rate),
		"-d", strconv.FormatInt(l.Hold.Milliseconds(), 10),
		"-nostdin", "-timeout", fmt.Sprintf("%ds", int(limit.Seconds())), "-timeout_error",
		"-trace_err", "-error_file", "sipp-err.log", "-trace_stat", "-stf", "sipp-stat.csv", "-fd", "1",
	}
	c.cfg.Logf("$ sipp %s", strings.Join(args, " "))
	return c.start("sipp", nil, c.cfg.SIPp, args...)
}

// SIPpStats are SIPp's final counters.
type SIPpStats struct {
	ExitCode   int `json:"exitCode"`
	Created    int `json:"created"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
	Retrans    int `json:"retransmissions"`
}

// SIPpStats reads the last line of SIPp's statistics file, once SIPp has
// exited.
func (c *Cluster) SIPpStats(sipp *Proc) SIPpStats {
	st := SIPpStats{ExitCode: sipp.ExitCode()}
	b, err := os.ReadFile(filepath.Join(c.cfg.Dir, "sipp-stat.csv"))
	if err != nil {
		return st
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return st
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	get := func(col string) int {
		for i, h := range head {
			if h == col && i < len(last) {
				v, _ := strconv.Atoi(strings.TrimSpace(last[i]))
				return v
			}
		}
		return 0
	}
	st.Created, st.Successful = get("TotalCallCreated"), get("SuccessfulCall(C)")
	st.Failed, st.Retrans = get("FailedCall(C)"), get("Retransmissions(C)")
	return st
}

// Drain sends SIGTERM to instance i: it answers new INVITEs and OPTIONS
// 503 and exits once its calls have ended (or after DrainTimeout).
func (c *Cluster) Drain(i int) {
	c.cfg.Logf("draining %s: kill -TERM %d", c.Instances[i].ID, c.Instances[i].Proc.PID())
	c.Instances[i].Proc.Signal(syscall.SIGTERM)
}

// Logs returns the log files of every process started, in order.
func (c *Cluster) Logs() []string {
	var out []string
	for _, p := range c.procs {
		out = append(out, p.LogPath())
	}
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, "sipp-err.log")); err == nil {
		out = append(out, filepath.Join(c.cfg.Dir, "sipp-err.log"))
	}
	return out
}

// Close stops everything still running: SIPp, the instances, Kamailio,
// then the App. An instance gets SIGTERM; one that still has calls 10 s
// later gets a second one, which hangs them up at once; one still running
// 30 s after that is killed. It returns the instances' exit codes.
func (c *Cluster) Close() map[string]int {
	codes := make(map[string]int)
	for _, p := range c.procs {
		if p.Name() == "sipp" {
			p.Stop(5 * time.Second)
		}
	}
	var running []*Instance
	for _, in := range c.Instances {
		if in.Proc != nil {
			in.Proc.Signal(syscall.SIGTERM)
			running = append(running, in)
		}
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	expired := false
	for _, in := range running {
		if !expired {
			select {
			case <-in.Proc.Done():
				continue
			case <-timer.C:
				expired = true
			}
		}
		in.Proc.Signal(syscall.SIGTERM) // the second signal: hang up now
	}
	for _, in := range running {
		codes[in.ID] = in.Proc.Stop(30 * time.Second)
	}
	if c.Kamailio != nil {
		c.Kamailio.Stop(5 * time.Second)
	}
	for _, p := range c.procs {
		p.Stop(time.Second) // anything left
	}
	if c.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.App.Wait(ctx)
		_ = c.http.Shutdown(ctx)
		<-c.httpDone
		c.http = nil
		if c.App.Client != nil {
			c.App.Client.CloseIdleConnections()
		}
	}
	return codes
}

// Build builds cmd/mediaserver into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "mediaserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/mediaserver-go/mediaserver/cmd/mediaserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/mediaserver: %w\n%s", err, out)
	}
	return bin, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
