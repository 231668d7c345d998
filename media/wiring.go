package media

import "slices"

// FrameSource produces generated audio for an endpoint, one 20 ms frame per
// media clock tick. ReadFrame fills f and returns true, or returns false
// when it has nothing to play (the endpoint then sends silence). It is
// called on the clock goroutine and must not block.
type FrameSource interface {
	ReadFrame(f *Frame) bool
}

// EncodedSource is a FrameSource that can also hand out pre-encoded G.711
// frames, so that playing a cached prompt to a leg is a copy of ready bytes
// (no per-frame encoding). ReadEncoded writes FrameSamples bytes of c into
// dst and returns true, or false when it has nothing for c.
type EncodedSource interface {
	FrameSource
	ReadEncoded(c Codec, dst []byte) bool
}

// FrameSink consumes the decoded audio an endpoint receives, one 20 ms
// frame per media clock tick after the jitter buffer. WriteFrame is called
// on the clock goroutine, must not block, and must not keep f.
type FrameSink interface {
	WriteFrame(f *Frame)
}

// wiring is an immutable snapshot of what an endpoint sends and where its
// received audio goes. The hot paths load it atomically; changes replace it
// under the clock's wiring mutex.
type wiring struct {
	// relayTo receives our RTP packets as they arrive (relay on receipt).
	relayTo *Endpoint
	// fedBy relays its packets to us: while set we generate nothing.
	fedBy *Endpoint
	// source is our generated output when fedBy is nil; nil is silence.
	source FrameSource
	// sinks consume what we receive, decoded and jitter-buffered.
	sinks []FrameSink
}

func (w *wiring) decode() bool { return len(w.sinks) > 0 }

func (e *Endpoint) updateWiringLocked(f func(w *wiring)) {
	w := *e.wiring.Load()
	f(&w)
	e.wiring.Store(&w)
}

// ForwardTo relays the audio and RFC 4733 events e receives to t as they
// arrive, rewriting headers so t's outgoing stream stays continuous
// (decision 10), transcoding only when the codecs differ. While t is fed
// this way it generates nothing. ForwardTo(nil) stops forwarding; the
// former target falls back to its own source (or silence).
func (e *Endpoint) ForwardTo(t *Endpoint) {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.forwardToLocked(t)
}

func (e *Endpoint) forwardToLocked(t *Endpoint) {
	old := e.wiring.Load().relayTo
	if old == t {
		return
	}
	if old != nil {
		old.updateWiringLocked(func(w *wiring) {
			if w.fedBy == e {
				w.fedBy = nil
			}
		})
	}
	if t != nil {
		if prev := t.wiring.Load().fedBy; prev != nil && prev != e {
			prev.updateWiringLocked(func(w *wiring) { w.relayTo = nil })
		}
		t.updateWiringLocked(func(w *wiring) { w.fedBy = e })
	}
	e.updateWiringLocked(func(w *wiring) { w.relayTo = t })
}

// Bridge connects a and b both ways by relay.
func Bridge(a, b *Endpoint) {
	a.clock.wiringMu.Lock()
	defer a.clock.wiringMu.Unlock()
	a.forwardToLocked(b)
	b.forwardToLocked(a)
}

// Isolate stops every relay into and out of e; e then plays its own source.
func (e *Endpoint) Isolate() {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.isolateLocked()
}

func (e *Endpoint) isolateLocked() {
	e.forwardToLocked(nil)
	if src := e.wiring.Load().fedBy; src != nil {
		src.forwardToLocked(nil)
	}
}

// SetSource sets what e plays when no peer relays into it; nil is silence.
func (e *Endpoint) SetSource(src FrameSource) {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.updateWiringLocked(func(w *wiring) { w.source = src })
}

// AddSink makes s receive the decoded audio e receives.
func (e *Endpoint) AddSink(s FrameSink) {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.updateWiringLocked(func(w *wiring) {
		if !slices.Contains(w.sinks, s) {
			w.sinks = append(slices.Clip(w.sinks), s)
		}
	})
}

// RemoveSink stops s receiving e's audio.
func (e *Endpoint) RemoveSink(s FrameSink) {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.updateWiringLocked(func(w *wiring) {
		if i := slices.Index(w.sinks, s); i >= 0 {
			w.sinks = slices.Delete(slices.Clone(w.sinks), i, i+1)
		}
	})
}

// detachAll removes e from every relay and drops its sinks and source.
func (e *Endpoint) detachAll() {
	e.clock.wiringMu.Lock()
	defer e.clock.wiringMu.Unlock()
	e.isolateLocked()
	e.wiring.Store(&wiring{})
}
