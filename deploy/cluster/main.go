// Command cluster starts the scale-out setup of docs/SCALING.md on
// 127.0.0.1 and runs calls through it: three cmd/mediaserver instances
// (ms1, ms2, ms3) behind Kamailio's dispatcher, the webhook application of
// package deploy, and SIPp calls sent to Kamailio; one instance is drained
// (SIGTERM) while calls run. It prints the commands it runs, the calls per
// instance and whether any call failed (exit status 1 then).
//
//	go run ./deploy/cluster                         # 60 calls, 10/s, 10 s each, drain ms3
//	go run ./deploy/cluster -calls 300 -rate 20 -hold 30s -drain ""
//	go run ./deploy/cluster -keep                   # keep the cluster up until Ctrl-C
//
// It needs kamailio (Debian package kamailio) and sipp (sip-tester). Logs
// go to -dir (default a new temporary directory, kept). Ports: SIP
// 37001-37009, API 37151-37159, the application 37160, Kamailio 37200,
// SIPp 37210-37216, RTP from 55000 (1000 per instance).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/mediaserver-go/mediaserver/deploy"
)

func main() {
	dir := flag.String("dir", "", "work directory for logs and data (default: a new temporary directory)")
	bin := flag.String("mediaserver", "", "cmd/mediaserver binary (default: go build it)")
	n := flag.Int("instances", 3, "number of instances")
	calls := flag.Int("calls", 60, "calls to place")
	rate := flag.Int("rate", 10, "new calls per second")
	hold := flag.Duration("hold", 10*time.Second, "length of each call")
	drain := flag.String("drain", "ms3", `instance to drain while calls run ("" for none)`)
	keep := flag.Bool("keep", false, "keep the cluster running after the calls, until SIGINT")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *dir, *bin, *n, deploy.Load{Calls: *calls, Rate: *rate, Hold: *hold}, *drain, *keep))
}

func run(ctx context.Context, dir, bin string, n int, load deploy.Load, drain string, keep bool) int {
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "mediaserver-cluster-"); err != nil {
			logf("%v", err)
			return 1
		}
	}
	logf("work directory %s", dir)
	if bin == "" {
		var err error
		if bin, err = deploy.Build(ctx, dir); err != nil {
			logf("%v", err)
			return 1
		}
	}
	d := -1
	if drain != "" {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = deploy.InstanceID(i)
		}
		if d = slices.Index(ids, drain); d < 0 {
			logf("-drain %q: want one of %v", drain, ids)
			return 2
		}
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := deploy.Start(sctx, deploy.Config{Dir: dir, Mediaserver: bin, Instances: n, Logf: logf})
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer func() {
		for id, code := range c.Close() {
			if code != 0 {
				logf("%s exited %d", id, code)
			}
		}
		logf("logs: %v", c.Logs())
	}()
	limit := time.Duration(load.Calls/max(load.Rate, 1))*time.Second + load.Hold + 2*time.Minute
	rctx, rcancel := context.WithTimeout(ctx, limit)
	defer rcancel()
	res, err := deploy.Run(rctx, c, deploy.Scenario{Load: load, Drain: d})
	if err != nil {
		logf("%v", err)
		return 1
	}
	res.Print(os.Stdout)
	if keep {
		logf("the cluster runs on; send calls to sip:ivr@127.0.0.1:%d; Ctrl-C stops it", deploy.DefaultPorts.Kamailio)
		<-ctx.Done()
	}
	if res.Err() != nil {
		return 1
	}
	return 0
}
