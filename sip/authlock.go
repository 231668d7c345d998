package sip

import (
	"net/netip"
	"sync"
	"time"
)

// maxLockSources bounds the sources authLock remembers. A source is only
// remembered after a wrong password on a nonce bound to its address, so
// filling the table takes that many addresses that can receive our 401s.
const maxLockSources = 65536

// authLock counts wrong credentials per source address and locks a source
// out once it has sent max of them (InboundAuth.MaxFailures). A source's
// failures are forgotten, and its lock lifted, window (InboundAuth.Lockout)
// after its last failed or refused INVITE, so a guesser that keeps trying
// stays locked. Methods of a nil *authLock (lockout off) do nothing. It is
// safe for concurrent use.
type authLock struct {
	max    int
	window time.Duration

	mu   sync.Mutex
	srcs map[netip.Addr]*lockState
}

type lockState struct {
	fails  int
	last   time.Time // of the latest failure or refusal
	locked bool
}

func newAuthLock(max int, window time.Duration) *authLock {
	if max < 0 {
		return nil
	}
	return &authLock{max: max, window: window, srcs: make(map[netip.Addr]*lockState)}
}

// refuse reports whether src is locked out now; a refused INVITE extends
// the lock.
func (l *authLock) refuse(src netip.Addr, now time.Time) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.current(src, now)
	if st == nil || !st.locked {
		return false
	}
	st.last = now
	return true
}

// fail records wrong credentials from src. It returns the source's
// failures so far and whether this one locked it.
func (l *authLock) fail(src netip.Addr, now time.Time) (int, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.current(src, now)
	if st == nil {
		if len(l.srcs) >= maxLockSources {
			l.prune(now)
		}
		if len(l.srcs) >= maxLockSources {
			return 0, false // full of recent failures: this source goes uncounted
		}
		st = &lockState{}
		l.srcs[src] = st
	}
	st.fails++
	st.last = now
	if !st.locked && st.fails >= l.max {
		st.locked = true
		return st.fails, true
	}
	return st.fails, false
}

// current returns the state of src, forgetting it when it is older than
// the window. Called with mu held.
func (l *authLock) current(src netip.Addr, now time.Time) *lockState {
	st := l.srcs[src]
	if st != nil && now.Sub(st.last) >= l.window {
		delete(l.srcs, src)
		return nil
	}
	return st
}

// prune forgets every source older than the window. Called with mu held.
func (l *authLock) prune(now time.Time) {
	for src, st := range l.srcs {
		if now.Sub(st.last) >= l.window {
			delete(l.srcs, src)
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
