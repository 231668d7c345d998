package sip

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter is a token bucket per source (Config.InviteRateLimit): each
// source has Rate+Burst tokens when idle, an INVITE takes one, and tokens
// come back at Rate per second. Memory is bounded: a source idle long
// enough to have a full bucket again is the same as an unknown one, so it
// is forgotten at the next sweep; and the table never holds more than
// max sources. It is safe for concurrent use.
type rateLimiter struct {
	rate     float64       // tokens per second
	capacity float64       // tokens of an idle source
	idle     time.Duration // time to refill an empty bucket
	max      int

	mu        sync.Mutex // guards buckets, lastSweep
	buckets   map[netip.Addr]bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// minSweepInterval bounds how often the table is swept (O(n) each).
const minSweepInterval = time.Second

// newRateLimiter returns nil when the limit is off.
func newRateLimiter(rl RateLimit) *rateLimiter {
	if rl.Rate <= 0 {
		return nil
	}
	capacity := rl.Rate + float64(rl.Burst)
	if capacity < 1 {
		capacity = 1 // a source may always send its first INVITE
	}
	return &rateLimiter{
		rate:     rl.Rate,
		capacity: capacity,
		idle:     time.Duration(capacity / rl.Rate * float64(time.Second)),
		max:      rl.MaxSources,
		buckets:  make(map[netip.Addr]bucket),
	}
}

// sourceKey is what one source is: an IPv4 address, or the /64 of an IPv6
// address (a host usually has the whole /64).
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// allow takes a token for src at now. When there is none it returns false
// and how long until there is one.
func (l *rateLimiter) allow(src netip.Addr, now time.Time) (bool, time.Duration) {
	key := sourceKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= max(l.idle, minSweepInterval) {
		l.sweepLocked(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.makeRoomLocked(now)
		}
		b = bucket{tokens: l.capacity, last: now}
	} else if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.capacity, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		l.buckets[key] = b
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	l.buckets[key] = b
	return true, 0
}

// sweepLocked forgets the sources whose bucket is full again.
func (l *rateLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.idle {
			delete(l.buckets, k)
		}
	}
}

// makeRoomLocked frees one entry of a full table: idle ones first (at most
// one sweep per minSweepInterval), else an arbitrary one (map order), which
// then starts again with a full bucket. Refusing new sources instead would
// let a flood from many addresses lock every new caller out.
func (l *rateLimiter) makeRoomLocked(now time.Time) {
	if now.Sub(l.lastSweep) >= minSweepInterval {
		l.sweepLocked(now)
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, k)
	}
}

// size is the number of sources tracked.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
