package callback

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// worker delivers the queued callbacks of its sessions, in order, until
// its queue is closed and empty.
func (h *Handler) worker(q chan job) {
	defer h.wg.Done()
	dropped := 0
	for j := range q {
		h.stats.queued.Add(-1)
		if h.hard.Err() != nil {
			dropped++
			h.stats.dropped.Add(1)
			continue
		}
		h.deliver(j)
	}
	if dropped > 0 {
		h.log.Error("callbacks dropped at close", "count", dropped)
	}
}

// deliver makes the attempts of one queued callback: the first, then
// Config.Retries retries with doubling backoff while the failure is
// retryable (decision 16).
func (h *Handler) deliver(j job) {
	backoff := h.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(h.hard, h.cfg.DeliveryTimeout)
		res := h.try(ctx, j.path, j.body, j.apiBase, attempt, false)
		cancel()
		if res.err == nil {
			h.stats.delivered.Add(1)
			return
		}
		if !res.retry || attempt > h.cfg.Retries || h.hard.Err() != nil {
			h.stats.failed.Add(1)
			h.log.Error("callback failed; giving up", "callback", j.path, logSessionID, j.sessionID,
				"attempts", attempt, "queuedFor", time.Since(j.queued).Round(time.Millisecond), logErr, res.err)
			return
		}
		h.stats.retried.Add(1)
		h.log.Warn("callback failed; retrying", "callback", j.path, logSessionID, j.sessionID,
			"attempt", attempt, "in", backoff, logErr, res.err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-h.hard.Done():
			t.Stop()
		}
		backoff *= 2
	}
}

// stopQueue refuses new callbacks and lets the workers finish the queue.
// It reports whether this call closed it.
func (h *Handler) stopQueue() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closed = true
	for _, q := range h.queues {
		close(q)
	}
	return true
}

// Shutdown refuses new callbacks, delivers those queued (with their
// retries) and stops the workers. When ctx ends first, delivery stops at
// once, the rest is dropped and Shutdown returns an error wrapping ctx's.
// It returns after every goroutine of the Handler has exited. Call it
// after mediaserver.Server.Shutdown, whose last sessionCompleted callbacks
// it then delivers.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.stopQueue()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		h.stopHard()
		<-done
		err = fmt.Errorf("callback: shutdown: %d callbacks undelivered: %w", h.stats.dropped.Load(), ctx.Err())
	}
	h.stopHard()
	if h.own != nil {
		h.own.CloseIdleConnections()
	}
	return err
}

// Close stops at once: callbacks in flight are cancelled and those queued
// are dropped (and logged). It returns after every goroutine of the
// Handler has exited. Close and Shutdown are idempotent.
func (h *Handler) Close() error {
	h.stopHard()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
