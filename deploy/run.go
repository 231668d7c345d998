package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario is what Run does with a started cluster: a SIPp load through
// Kamailio, and optionally one instance drained while it runs.
type Scenario struct {
	Load
	// Drain is the index of the instance to drain; -1 for none.
	Drain int
	// DrainAfter drains once every instance has had at least this many
	// calls, so that the drained one has calls to finish. Default: a third
	// of each instance's share of the calls, at least 2.
	DrainAfter int
}

// Result is what Run saw.
type Result struct {
	Report  Report        `json:"report"`
	SIPp    SIPpStats     `json:"sipp"`
	Elapsed time.Duration `json:"elapsed"`

	// Drained is the ID of the drained instance ("" for none).
	Drained string `json:"drained,omitempty"`
	// DrainedCalls is the number of calls it had got when it was drained.
	DrainedCalls int `json:"drainedCalls,omitempty"`
	// LateCalls are its sessions whose newCall came more than 2 s
	// after SIGTERM: calls it should have refused.
	LateCalls []string `json:"lateCalls,omitempty"`
	// DrainedExit is its exit code, DrainTook the time from SIGTERM to its
	// exit: its last call's end, well before its -drain-timeout.
	DrainedExit int           `json:"drainedExit,omitempty"`
	DrainTook   time.Duration `json:"drainTook,omitempty"`
	// KamailioLog are Kamailio's log lines about the drained instance: the
	// probe that took it out, and 503s retried on the next instance.
	KamailioLog []string `json:"kamailioLog,omitempty"`
}

// Run runs s on c and returns once SIPp has finished, the drained instance
// has exited, and every session's sessionCompleted has come (or ctx
// ends). It does not stop c.
func Run(ctx context.Context, c *Cluster, s Scenario) (Result, error) {
	start := time.Now()
	res := Result{}
	if s.DrainAfter <= 0 {
		s.DrainAfter = max(2, s.Calls/(3*len(c.Instances)))
	}
	sipp, err := c.StartLoad(s.Load)
	if err != nil {
		return res, err
	}
	var drainedAt time.Time
	if s.Drain >= 0 && s.Drain < len(c.Instances) {
		in := c.Instances[s.Drain]
		if err := waitCalls(ctx, c, sipp, s.DrainAfter); err != nil {
			return res, err
		}
		res.Drained, res.DrainedCalls = in.ID, c.App.Report().Calls(in.ID)
		drainedAt = time.Now()
		c.Drain(s.Drain)
	}
	select {
	case <-sipp.Done():
	case <-ctx.Done():
		return res, fmt.Errorf("deploy: SIPp still running: %w", ctx.Err())
	}
	res.SIPp = c.SIPpStats(sipp)
	c.cfg.Logf("SIPp exited %d: %d calls, %d successful, %d failed", res.SIPp.ExitCode, res.SIPp.Created, res.SIPp.Successful, res.SIPp.Failed)
	if res.Drained != "" {
		in := c.Instances[s.Drain]
		select {
		case <-in.Proc.Done():
			res.DrainedExit, res.DrainTook = in.Proc.ExitCode(), in.Proc.Exited().Sub(drainedAt)
		case <-ctx.Done():
			return res, fmt.Errorf("deploy: drained instance %s still running: %w", in.ID, ctx.Err())
		}
		c.cfg.Logf("%s exited %d, %.1f s after SIGTERM", in.ID, res.DrainedExit, res.DrainTook.Seconds())
	}
	if err := c.App.Wait(ctx); err != nil {
		return res, fmt.Errorf("deploy: REST calls still in flight: %w", err)
	}
	// sessionCompleted is delivered from a queue, after the BYE.
	for wait := time.Now().Add(15 * time.Second); time.Now().Before(wait); {
		if allCompleted(c.App.Report()) {
			break
		}
		select {
		case <-ctx.Done():
			wait = time.Time{}
		case <-time.After(100 * time.Millisecond):
		}
	}
	res.Report = c.App.Report()
	if res.Drained != "" {
		for _, ss := range res.Report.Sessions {
			if ss.Instance == res.Drained && ss.Started.After(drainedAt.Add(2*time.Second)) {
				res.LateCalls = append(res.LateCalls, ss.SessionID)
			}
		}
		for _, l := range grepFile(c.Kamailio.LogPath(), ":"+strconv.Itoa(c.cfg.Ports.SIP+s.Drain), 1000) {
			if !strings.Contains(l, ": dispatch ") && len(res.KamailioLog) < 20 {
				res.KamailioLog = append(res.KamailioLog, l)
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// waitCalls waits until every instance has had n calls.
func waitCalls(ctx context.Context, c *Cluster, sipp *Proc, n int) error {
	for {
		r := c.App.Report()
		ok := true
		for _, in := range r.Instances {
			ok = ok && in.Calls >= n
		}
		if ok {
			return nil
		}
		select {
		case <-sipp.Done():
			return fmt.Errorf("deploy: SIPp exited (%d) before every instance had %d calls: %+v", sipp.ExitCode(), n, r.Instances)
		case <-ctx.Done():
			return fmt.Errorf("deploy: not every instance got %d calls (%+v): %w", n, r.Instances, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allCompleted(r Report) bool {
	for _, s := range r.Sessions {
		if !s.Completed {
			return false
		}
	}
	return true
}

// grepFile returns up to max lines of file that contain s.
func grepFile(file, s string, max int) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, s) && len(out) < max {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// Err returns why the run failed, or nil: SIPp failed calls or did not
// exit 0, an instance got no call, the App saw a problem, the drained
// instance took calls after SIGTERM or did not exit 0 by itself.
func (r Result) Err() error {
	var errs []error
	if r.SIPp.ExitCode != 0 || r.SIPp.Failed != 0 || r.SIPp.Successful != r.SIPp.Created {
		errs = append(errs, fmt.Errorf("SIPp: exit %d, %d calls, %d successful, %d failed", r.SIPp.ExitCode, r.SIPp.Created, r.SIPp.Successful, r.SIPp.Failed))
	}
	total := 0
	for _, in := range r.Report.Instances {
		total += in.Calls
		if in.Calls == 0 {
			errs = append(errs, fmt.Errorf("instance %s got no call", in.ID))
		}
	}
	if total != r.SIPp.Successful {
		errs = append(errs, fmt.Errorf("the instances had %d sessions, SIPp %d successful calls", total, r.SIPp.Successful))
	}
	for _, p := range r.Report.Problems {
		errs = append(errs, errors.New(p))
	}
	if r.Drained != "" {
		if len(r.LateCalls) > 0 {
			errs = append(errs, fmt.Errorf("drained %s took calls after SIGTERM: %v", r.Drained, r.LateCalls))
		}
		if r.DrainedExit != 0 {
			errs = append(errs, fmt.Errorf("drained %s exited %d", r.Drained, r.DrainedExit))
		}
	}
	return errors.Join(errs...)
}

// Print writes the result as a table and a few lines.
func (r Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "instance\tapiBaseUrl\tcalls\tcompleted\tREST 200\t421s naming it")
	for _, in := range r.Report.Instances {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", in.ID, in.APIBaseURL, in.Calls, in.Completed, in.REST, in.Misdirected)
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintf(w, "SIPp: %d calls, %d successful, %d failed, %d retransmissions, exit %d (%.1f s)\n",
		r.SIPp.Created, r.SIPp.Successful, r.SIPp.Failed, r.SIPp.Retrans, r.SIPp.ExitCode, r.Elapsed.Seconds())
	if r.Drained != "" {
		_, _ = fmt.Fprintf(w, "drained %s after %d calls: exited %d %.1f s after SIGTERM; calls it took later: %d\n",
			r.Drained, r.DrainedCalls, r.DrainedExit, r.DrainTook.Seconds(), len(r.LateCalls))
		for _, l := range r.KamailioLog {
			_, _ = fmt.Fprintf(w, "  kamailio: %s\n", l)
		}
	}
	if err := r.Err(); err != nil {
		_, _ = fmt.Fprintf(w, "FAILED:\n%v\n", err)
	} else {
		_, _ = fmt.Fprintln(w, "no failed call")
	}
}
