package media

import (
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Processor is work the media clock runs once per tick between the input
// phase (every endpoint's received audio delivered to its sinks) and the
// output phase (every endpoint's generated audio sent). Mixers use it to
// mix the frames of one tick. Process runs on the clock goroutine and must
// not block.
type Processor interface {
	Process(now time.Time)
}

// ClockConfig configures a Clock.
type ClockConfig struct {
	// Logger is the clock's logger. Default slog.Default().
	Logger *slog.Logger
	// Workers is how many goroutines share the output phase of a tick
	// (encoding and sending every endpoint's generated frame) once there
	// are enough endpoints to be worth it. Sending is one system call per
	// packet, so one goroutine alone cannot keep a 20 ms tick for a
	// thousand legs on a loaded machine. Default GOMAXPROCS, at most 16.
	Workers int
	// manual disables the ticker goroutine; tests call step.
	manual bool
}

// ClockStats report how well the clock keeps time.
type ClockStats struct {
	// Ticks is the number of ticks run.
	Ticks uint64
	// Skipped is the number of ticks dropped because the clock fell more
	// than a few periods behind.
	Skipped uint64
	// MaxLag is the largest delay of a tick behind its deadline.
	MaxLag time.Duration
	// LastLag is the delay of the most recent tick.
	LastLag time.Duration
	// MaxWork is the longest time one tick took.
	MaxWork time.Duration
}

// Clock is the shared 20 ms media clock. It drives everything the server
// generates (prompts, silence, ringback, mixes), the decoded sinks, RTCP
// and the media-timeout sweep, for all endpoints in one batch per tick,
// instead of a timer per call. It also serialises wiring changes.
//
// Clock is safe for concurrent use; Close stops its goroutine and waits.
type Clock struct {
	log *slog.Logger

	// wiringMu serialises wiring changes of all endpoints of this clock, so
	// that changes touching two endpoints cannot deadlock.
	wiringMu sync.Mutex

	// tickMu is held for the whole of a tick.
	tickMu sync.Mutex

	// mu guards pending, all and closed. Changes to what a tick serves
	// are queued in pending and applied by the next tick under tickMu, so
	// that adding one of thousands of endpoints or processors is O(1) and
	// removing one a scan in the tick, instead of a copy of the whole list
	// per change (at 1,000 calls set up a second the copies were a
	// measurable share of the server's garbage).
	mu      sync.Mutex
	pending []clockOp
	spare   []clockOp // the other buffer of pending, reused
	all     map[*Endpoint]struct{}
	closed  Totals // counters of endpoints that closed

	// Owned by the tick (tickMu).
	endpoints  []*Endpoint
	processors []Processor
	observers  []Processor

	ticks, skipped atomic.Uint64
	maxLag, last   atomic.Int64
	maxWork        atomic.Int64

	// workers share the output phase; nil when Workers is 1.
	workers []chan tickJob
	phase   sync.WaitGroup

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // the ticker goroutine
	workersWG sync.WaitGroup
}

// clockOp is a queued change of what the clock serves.
type clockOp struct {
	kind clockOpKind
	e    *Endpoint
	p    Processor
}

type clockOpKind uint8

const (
	opAddEndpoint clockOpKind = iota
	opRemoveEndpoint
	opAddProcessor
	opAddObserver
	opRemoveProcessor
)

// tickJob is one worker's share of an output phase.
type tickJob struct {
	eps   []*Endpoint
	first int // index of eps[0] in the tick's endpoint list
	n     uint64
	nanos int64
}

// minPerWorker is the fewest endpoints worth handing to another
// goroutine: below it, waking a worker costs more than it saves.
const minPerWorker = 64

// NewClock starts a clock.
func NewClock(cfg ClockConfig) *Clock {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Clock{log: log, done: make(chan struct{}), all: make(map[*Endpoint]struct{})}
	workers := cfg.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 16)
	}
	for range workers - 1 {
		ch := make(chan tickJob, 1)
		c.workers = append(c.workers, ch)
		c.workersWG.Add(1)
		go c.work(ch)
	}
	if !cfg.manual {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

// Stats returns the clock's timing figures.
func (c *Clock) Stats() ClockStats {
	return ClockStats{
		Ticks:   c.ticks.Load(),
		Skipped: c.skipped.Load(),
		MaxLag:  time.Duration(c.maxLag.Load()),
		LastLag: time.Duration(c.last.Load()),
		MaxWork: time.Duration(c.maxWork.Load()),
	}
}

// Close stops the clock and waits for its goroutines.
func (c *Clock) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.wg.Wait()
		// No tick runs any more (manual steps come from tests, which
		// close the clock last): the workers can go.
		c.tickMu.Lock()
		for _, ch := range c.workers {
			close(ch)
		}
		c.tickMu.Unlock()
		c.workersWG.Wait()
	})
	return nil
}

// AddProcessor runs p once per tick between the input and output phases,
// from the next tick on.
func (c *Clock) AddProcessor(p Processor) { c.queue(clockOp{kind: opAddProcessor, p: p}) }

// AddObserver runs p once per tick after every processor (mixers, IVR
// players) and before the output phase: for taps that mix what the
// processors produced this tick.
func (c *Clock) AddObserver(p Processor) { c.queue(clockOp{kind: opAddObserver, p: p}) }

// RemoveProcessor stops running p (a processor or an observer). When it
// returns, p is not running and will not run again. It must not be called
// from the clock goroutine.
func (c *Clock) RemoveProcessor(p Processor) {
	c.queue(clockOp{kind: opRemoveProcessor, p: p})
	c.barrier()
}

func (c *Clock) queue(op clockOp) {
	c.mu.Lock()
	c.pending = append(c.pending, op)
	c.mu.Unlock()
}

func (c *Clock) add(e *Endpoint) {
	c.mu.Lock()
	c.all[e] = struct{}{}
	c.pending = append(c.pending, clockOp{kind: opAddEndpoint, e: e})
	c.mu.Unlock()
}

func (c *Clock) remove(e *Endpoint) {
	st := e.Stats()
	c.mu.Lock()
	c.closed.add(st) // with the delete, so Totals counts e exactly once
	delete(c.all, e)
	c.pending = append(c.pending, clockOp{kind: opRemoveEndpoint, e: e})
	c.mu.Unlock()
	c.barrier()
}

// apply makes the queued changes; the tick calls it first, under tickMu.
// A removal queued before a barrier is applied by the first tick that
// starts after the barrier returned, before that tick touches anything:
// so once remove or RemoveProcessor returns, nothing of it runs again.
func (c *Clock) apply() {
	c.mu.Lock()
	ops := c.pending
	c.pending = c.spare[:0]
	c.mu.Unlock()
	for _, op := range ops {
		switch op.kind {
		case opAddEndpoint:
			c.endpoints = append(c.endpoints, op.e)
		case opRemoveEndpoint:
			if i := slices.Index(c.endpoints, op.e); i >= 0 {
				last := len(c.endpoints) - 1
				c.endpoints[i] = c.endpoints[last]
				c.endpoints[last] = nil
				c.endpoints = c.endpoints[:last]
			}
		case opAddProcessor:
			c.processors = append(c.processors, op.p)
		case opAddObserver:
			c.observers = append(c.observers, op.p)
		case opRemoveProcessor:
			c.processors = deleteProcessor(c.processors, op.p)
			c.observers = deleteProcessor(c.observers, op.p)
		}
	}
	clear(ops)
	c.mu.Lock()
	c.spare = ops[:0]
	c.mu.Unlock()
}

// deleteProcessor removes every copy of p from ps keeping the order
// (mixers before the taps that read them).
func deleteProcessor(ps []Processor, p Processor) []Processor {
	return slices.DeleteFunc(ps, func(q Processor) bool { return q == p })
}

// barrier waits for a running tick to end, so that a client removed
// before it is never touched afterwards.
func (c *Clock) barrier() {
	c.tickMu.Lock()
	//lint:ignore SA2001 an empty critical section: waiting for the tick is the point
	c.tickMu.Unlock()
}

func (c *Clock) run() {
	defer c.wg.Done()
	const period = FrameDuration
	timer := time.NewTimer(period)
	defer timer.Stop()
	next := time.Now().Add(period)
	for {
		select {
		case <-c.done:
			return
		case <-timer.C:
		}
		now := time.Now()
		lag := now.Sub(next)
		if lag > 5*period {
			// Far behind (a stopped VM, a long GC): skip the missed ticks
			// rather than burst them out.
			missed := uint64(lag / period)
			c.skipped.Add(missed)
			next = next.Add(time.Duration(missed) * period)
			lag = now.Sub(next)
		}
		c.step(now, lag)
		next = next.Add(period)
		timer.Reset(max(time.Until(next), 0))
	}
}

// step runs one tick: the input phase, the processors, the output phase and
// housekeeping.
func (c *Clock) step(now time.Time, lag time.Duration) {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	start := time.Now()
	n := c.ticks.Add(1)
	nanos := now.UnixNano()
	c.apply()
	eps := c.endpoints
	for _, e := range eps {
		e.tickIn(nanos)
	}
	for _, p := range c.processors {
		p.Process(now)
	}
	for _, p := range c.observers {
		p.Process(now)
	}
	c.output(eps, n, nanos)
	c.last.Store(int64(lag))
	if int64(lag) > c.maxLag.Load() {
		c.maxLag.Store(int64(lag))
	}
	if w := int64(time.Since(start)); w > c.maxWork.Load() {
		c.maxWork.Store(w)
	}
}

// output runs the output phase and housekeeping of eps, split in
// contiguous shares between the clock goroutine and as many workers as the
// number of endpoints warrants, and returns when all are done. An endpoint
// is only ever touched by one goroutine per tick, and the phase ends
// before the next tick's input phase, so endpoints need no more locking
// than with one goroutine.
func (c *Clock) output(eps []*Endpoint, n uint64, nanos int64) {
	shares := min(len(c.workers)+1, len(eps)/minPerWorker)
	select {
	case <-c.done: // a manual step after Close: the workers may be gone
		shares = 1
	default:
	}
	if shares <= 1 {
		outputShare(eps, 0, n, nanos)
		return
	}
	size := (len(eps) + shares - 1) / shares
	c.phase.Add(shares - 1)
	for w := range shares - 1 {
		lo := (w + 1) * size
		hi := min(lo+size, len(eps))
		c.workers[w] <- tickJob{eps: eps[lo:hi], first: lo, n: n, nanos: nanos}
	}
	outputShare(eps[:size], 0, n, nanos)
	c.phase.Wait()
}

func (c *Clock) work(jobs <-chan tickJob) {
	defer c.workersWG.Done()
	for j := range jobs {
		outputShare(j.eps, j.first, j.n, j.nanos)
		c.phase.Done()
	}
}

func outputShare(eps []*Endpoint, first int, n uint64, nanos int64) {
	for _, e := range eps {
		e.tickOut(nanos)
	}
	for i, e := range eps {
		if (n+uint64(first+i))%housekeepingTicks == 0 {
			e.housekeeping(nanos)
		}
	}
}

// housekeepingTicks spreads the media-timeout sweep and RTCP over ticks:
// each endpoint is visited once a second.
const housekeepingTicks = 50

// Totals are counters summed over every endpoint a clock served, live and
// closed. They only grow, except the gauges Endpoints and MaxJitter.
type Totals struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	Malformed, Foreign    uint64
	UnknownPayload        uint64
	Digits                uint64
	Flooded               uint64
	Lost                  int64
	// Late counts packets that arrived too late for a jitter buffer.
	Late uint64
	// Endpoints is the number of live endpoints.
	Endpoints int
	// MaxJitter is the largest interarrival jitter of a live endpoint, in
	// RTP timestamp units (1/8000 s).
	MaxJitter uint32
}

func (t *Totals) add(s Stats) {
	t.PacketsIn += s.PacketsIn
	t.PacketsOut += s.PacketsOut
	t.BytesIn += s.BytesIn
	t.BytesOut += s.BytesOut
	t.Malformed += s.Malformed
	t.Foreign += s.Foreign
	t.UnknownPayload += s.UnknownPayload
	t.Digits += s.Digits
	t.Flooded += s.Flooded
	t.Lost += s.Lost
	t.Late += s.Late
}

// Totals sums the counters of every endpoint this clock served.
func (c *Clock) Totals() Totals {
	c.mu.Lock()
	t := c.closed
	live := make([]*Endpoint, 0, len(c.all))
	for e := range c.all {
		live = append(live, e)
	}
	c.mu.Unlock()
	for _, e := range live {
		s := e.Stats()
		t.add(s)
		t.Endpoints++
		t.MaxJitter = max(t.MaxJitter, s.Jitter)
	}
	return t
}
