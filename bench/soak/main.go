// Command soak is the soak load test of the library (issue 7): it starts
// the server of bench/soak/server as a separate process and drives it with
// SIPp callers and a SIPp callee on 127.0.0.1 for a long time at a steady
// number of concurrent calls of four kinds, with churn (every call lasts a
// random time within a range, and a new one starts when one ends):
//
//   - ivr: a prompt and an RFC 4733 digit collected by the IVR;
//   - bridge: the caller relayed to a second leg (the SIPp callee);
//   - transfer: a bridged caller moved to another callee by split, hold
//     music (IVR), a consultation call and connect;
//   - conference: callers joining conference connections of a few members.
//
// It samples the server's goroutines, open fds, UDP sockets (RTP ports),
// RSS, heap and live sessions every few seconds. When the time is up the
// callers stop starting calls and finish theirs; after a settle period and
// a forced GC it compares the figures with the baseline taken before the
// first call: goroutines, fds and UDP sockets must be back to baseline
// within a small tolerance, and the heap and RSS must not grow steadily
// while the load is steady. It prints a table and writes it as JSON and
// Markdown to bench/soak/results/.
//
//	go run ./bench/soak -duration 10m -calls 300
//	go run ./bench/soak -duration 1m -calls 40 -min-call 3s -max-call 10s
//
// Ports (127.0.0.1 only): the server's SIP and stats ports are picked by
// the kernel (:0); its RTP ports come from -rtp-ports (within 43000-44499);
// SIPp uses SIP and control ports from -sipp-sip-base (within 35100-35199)
// and media ports from -sipp-media-base (within 35500-35999).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg := defaultConfig()
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long calls are started (the load phase)")
	flag.IntVar(&cfg.Calls, "calls", cfg.Calls, "concurrent calls, over all kinds")
	flag.DurationVar(&cfg.MinCall, "min-call", cfg.MinCall, "shortest call (from the answer to the caller's BYE)")
	flag.DurationVar(&cfg.MaxCall, "max-call", cfg.MaxCall, "longest call; lengths are uniform between -min-call and -max-call")
	flag.StringVar(&cfg.Mix, "mix", cfg.Mix, "share of the concurrent calls per kind")
	flag.DurationVar(&cfg.Ramp, "ramp", cfg.Ramp, "time to reach -calls at the start")
	flag.DurationVar(&cfg.Sample, "sample", cfg.Sample, "sampling interval")
	flag.DurationVar(&cfg.Settle, "settle", cfg.Settle, "longest wait, after the last call, for the resources to return to baseline")
	flag.DurationVar(&cfg.MinSettle, "min-settle", cfg.MinSettle, "shortest wait after the last call before the end reading (sipgo keeps finished transactions, and with them the calls' objects, for 32 s)")
	flag.StringVar(&cfg.RTPPorts, "rtp-ports", cfg.RTPPorts, "the server's RTP port range (within 43000-44499)")
	flag.IntVar(&cfg.SIPpSIPBase, "sipp-sip-base", cfg.SIPpSIPBase, "first SIPp SIP/control port; 12 are used (within 35100-35199)")
	flag.IntVar(&cfg.SIPpMediaBase, "sipp-media-base", cfg.SIPpMediaBase, "first SIPp media port; 20 are used (within 35500-35999)")
	flag.IntVar(&cfg.Room, "room", cfg.Room, "members per conference")
	flag.DurationVar(&cfg.TransferAfter, "transfer-after", cfg.TransferAfter, "transfer: the server splits A↔B this long after it is connected")
	flag.DurationVar(&cfg.ConsultFor, "consult-for", cfg.ConsultFor, "transfer: the server splits B↔C this long after it is connected")
	flag.BoolVar(&cfg.NoDTMF, "no-dtmf", cfg.NoDTMF, "ivr callers send no digit (SIPp's play_pcap_audio needs root)")
	flag.IntVar(&cfg.TolGoroutines, "tol-goroutines", cfg.TolGoroutines, "tolerance of the goroutine check")
	flag.IntVar(&cfg.TolFDs, "tol-fds", cfg.TolFDs, "tolerance of the fd check")
	flag.IntVar(&cfg.TolUDP, "tol-udp", cfg.TolUDP, "tolerance of the UDP socket check")
	flag.Float64Var(&cfg.MaxGrowthPct, "max-growth", cfg.MaxGrowthPct, "largest heap/RSS growth (%) from the first to the last third of the steady load")
	flag.Float64Var(&cfg.TolHeapMB, "tol-heap", cfg.TolHeapMB, "tolerance (MB) of the live heap after GC at the end over the baseline")
	flag.Float64Var(&cfg.MaxFailedPct, "max-failed", cfg.MaxFailedPct, "largest share of failed calls (%)")
	flag.IntVar(&cfg.TraceSessions, "trace-sessions", cfg.TraceSessions, "the server's Config.TraceSessions (0: the library's default of 1000 kept for 10 minutes; -1: none)")
	flag.IntVar(&cfg.MemProfileRate, "memprofilerate", 0, "the server's runtime.MemProfileRate (1 records every allocation in heap-*.pprof; slow)")
	flag.BoolVar(&cfg.RaceServer, "race-server", cfg.RaceServer, "build the server with -race")
	flag.StringVar(&cfg.Work, "work", "", "directory for binaries, scenarios and logs (default bench/soak/out/<time>)")
	flag.StringVar(&cfg.Out, "out", "", "results directory (default bench/soak/results; \"-\" writes none)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	cfg.Root = root
	stamp := time.Now().UTC().Format("20060102-150405")
	if cfg.Work == "" {
		cfg.Work = filepath.Join(root, "bench", "soak", "out", stamp)
	}
	switch cfg.Out {
	case "":
		cfg.Out = filepath.Join(root, "bench", "soak", "results")
	case "-":
		cfg.Out = ""
	}
	cfg.Command = "go run ./bench/soak " + strings.Join(os.Args[1:], " ")
	cfg.Logf = func(format string, args ...any) {
		fmt.Printf("%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	res, err := Run(ctx, cfg)
	if res != nil {
		fmt.Println()
		fmt.Print(res.Table())
		if cfg.Out != "" {
			paths, werr := res.Write(cfg.Out, stamp)
			if werr != nil {
				fmt.Fprintln(os.Stderr, "soak: writing results:", werr)
			} else {
				fmt.Println("results:", strings.Join(paths, ", "))
			}
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "soak: interrupted; child processes stopped")
		os.Exit(130)
	case err != nil:
		fatal(err)
	case !res.Pass:
		fmt.Fprintln(os.Stderr, "soak: FAIL:", strings.Join(res.Problems, "; "))
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(1)
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
