package mediaserver

import (
	"fmt"
	"testing"
	"time"
)

// TestFinishedTracesBounded: completed sessions' traces are kept up to
// TraceSessions and dropped after TraceRetention by a timer, with no
// traffic needed to expire them; Close stops the timer.
func TestFinishedTracesBounded(t *testing.T) {
	s := &Server{}
	s.finished = finishedSessions{max: 3, keep: 100 * time.Millisecond, onTimer: s.expireTraces}
	s.mu.Lock()
	for i := range 5 {
		ss := &Session{id: fmt.Sprintf("s-%d", i), trace: newTrace(), endedAt: time.Now()}
		s.finished.add(ss)
	}
	n := len(s.finished.order)
	_, oldest := s.finished.byID["s-1"]
	_, newest := s.finished.byID["s-4"]
	s.mu.Unlock()
	if n != 3 || oldest || !newest {
		t.Fatalf("kept %d traces (s-1 %v, s-4 %v), want the newest 3", n, oldest, newest)
	}
	if _, ok := s.Trace("s-4"); !ok {
		t.Fatal("no trace of a session that just completed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n = len(s.finished.order) + len(s.finished.byID)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d traces still kept long after TraceRetention without traffic", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.finished.add(&Session{id: "s-late", trace: newTrace(), endedAt: time.Now()})
	armed := s.finished.timer != nil
	s.finished.stop()
	stopped := s.finished.timer == nil
	s.mu.Unlock()
	if !armed || !stopped {
		t.Fatalf("timer armed %v after add, stopped %v after stop", armed, stopped)
	}
}
