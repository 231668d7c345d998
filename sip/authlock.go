package sip

import (
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// maxLockSources bounds the sources authLock remembers. A source is only
// remembered after a wrong password on a live nonce bound to its address,
// so filling the table takes that many addresses (IPv6: /64s) that can
// receive our 401s.
const maxLockSources = 65536

// authLock counts wrong credentials per source (an IPv4 address or an IPv6
// /64, as the rate limiter keys them) and locks a source out once it has
// sent max of them (InboundAuth.MaxFailures). A source's failures are
// forgotten window (InboundAuth.Lockout) after its last failure, and a
// lock ends window after the failure that set it: refused INVITEs do not
// extend it, so forged packets cannot keep a phone locked out. A
// retransmitted INVITE (same Via branch as the last failure) is not a new
// failure. Methods of a nil *authLock (lockout off) do nothing. It is safe
// for concurrent use.
type authLock struct {
	max    int
	window time.Duration

	mu        sync.Mutex
	srcs      map[netip.Addr]*lockState
	lastPrune time.Time
}

type lockState struct {
	fails      int
	last       time.Time // of the latest failure
	lastBranch string    // Via branch of the latest failure
	locked     bool
}

func newAuthLock(max int, window time.Duration) *authLock {
	if max < 0 {
		return nil
	}
	return &authLock{max: max, window: window, srcs: make(map[netip.Addr]*lockState)}
}

// isLocked reports whether src is locked out now.
func (l *authLock) isLocked(src netip.Addr, now time.Time) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.current(sourceKey(src), now)
	return st != nil && st.locked
}

// fail records wrong credentials from src in an INVITE whose top Via
// branch is branch. It returns the source's failures so far and whether
// this one locked it.
func (l *authLock) fail(src netip.Addr, branch string, now time.Time) (int, bool) {
	if l == nil {
		return 0, false
	}
	key := sourceKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.current(key, now)
	if st == nil {
		if len(l.srcs) >= maxLockSources && now.Sub(l.lastPrune) >= time.Second {
			l.prune(now)
		}
		if len(l.srcs) >= maxLockSources {
			return 0, false // full of recent failures: this source goes uncounted
		}
		st = &lockState{}
		l.srcs[key] = st
	}
	if branch != "" && branch == st.lastBranch {
		return st.fails, false // a retransmission of the INVITE that failed
	}
	st.fails++
	st.last = now
	st.lastBranch = branch
	if !st.locked && st.fails >= l.max {
		st.locked = true
		return st.fails, true
	}
	return st.fails, false
}

// current returns the state of key, forgetting it when its last failure
// is a window old. Called with mu held.
func (l *authLock) current(key netip.Addr, now time.Time) *lockState {
	st := l.srcs[key]
	if st != nil && now.Sub(st.last) >= l.window {
		delete(l.srcs, key)
		return nil
	}
	return st
}

// prune forgets every source whose last failure is a window old. Called
// with mu held; at most once a second, since it visits the whole table.
func (l *authLock) prune(now time.Time) {
	l.lastPrune = now
	for key, st := range l.srcs {
		if now.Sub(st.last) >= l.window {
			delete(l.srcs, key)
		}
	}
}

// size is the number of sources remembered.
func (l *authLock) size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.srcs)
}

// branchOf returns the branch of req's top Via, "" without one.
func branchOf(req *sip.Request) string {
	if via := req.Via(); via != nil {
		b, _ := via.Params.Get("branch")
		return b
	}
	return ""
}
