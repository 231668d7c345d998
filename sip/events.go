package sip

import (
	"log/slog"
	"runtime/debug"
	"sync"
)

// serializer runs queued functions one at a time, in order, without holding
// any lock while they run. There is no goroutine per queue: the goroutine
// that finds the queue idle drains it, and every other goroutine only
// appends. This is how DialogHandler methods are delivered one at a time per
// call.
type serializer struct {
	log *slog.Logger

	mu      sync.Mutex // guards q, running
	q       []func()
	running bool
}

// push appends f; call run afterwards (outside any lock) to deliver it.
func (s *serializer) push(f func()) {
	s.mu.Lock()
	s.q = append(s.q, f)
	s.mu.Unlock()
}

// run drains the queue on the calling goroutine unless another goroutine is
// already draining it, in which case that goroutine will run what was pushed.
func (s *serializer) run() {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	for len(s.q) > 0 {
		f := s.q[0]
		s.q[0] = nil
		s.q = s.q[1:]
		s.mu.Unlock()
		s.call(f)
		s.mu.Lock()
	}
	s.q = nil
	s.running = false
	s.mu.Unlock()
}

// call runs f and turns a panic in application code into an Error log, so
// that one faulty handler neither kills the process nor wedges the queue.
func (s *serializer) call(f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("sip: dialog handler panicked", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}
