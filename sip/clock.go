package sip

import "time"

// clock is the time source of every timer the agent runs itself (2xx
// retransmission, ACK wait, session timers, no-answer and give-up timers).
// Tests replace it with a fake to run minutes of protocol time instantly.
// sipgo's transaction timers are not on this clock.
type clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine after d.
	AfterFunc(d time.Duration, f func()) stopper
}

// stopper is a timer that can be stopped.
type stopper interface {
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }
