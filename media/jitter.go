package media

import "time"

// Jitter buffer sizes. The ring holds samples by RTP timestamp, so its
// size bounds the configurable capacity.
const (
	jbRingBits = 12
	jbRing     = 1 << jbRingBits // 4096 samples, 512 ms
	jbMask     = jbRing - 1

	// DefaultJitterTarget is the playout delay of a JitterBuffer whose
	// JitterConfig.Target is zero.
	DefaultJitterTarget = 40 * time.Millisecond
	// DefaultJitterCapacity is the most audio a JitterBuffer holds when
	// JitterConfig.Capacity is zero.
	DefaultJitterCapacity = 300 * time.Millisecond
	// MaxJitterCapacity is the largest JitterConfig.Capacity honoured.
	MaxJitterCapacity = 500 * time.Millisecond

	// jbMaxConceal is how many frames are concealed (repeated, fading)
	// before a loss or underrun plays silence.
	jbMaxConceal = 3
	// jbDriftWindow is how many pops the depth is watched before the
	// drift correction may drop a frame (1 s).
	jbDriftWindow = 50
	// jbStaleResync is after how many packets in a row that are older than
	// the whole buffer the stream is taken to have jumped back in time.
	jbStaleResync = 3
)

// FrameState says what a JitterBuffer.Pop produced.
type FrameState uint8

// Frame states.
const (
	// FrameSilence is digital silence: playout has not started (no packet
	// yet, or filling to the target depth after a restart), the sender is
	// in a DTX pause after comfort noise, or concealment ran out.
	FrameSilence FrameState = iota
	// FrameReal is received audio (samples missing from a partly received
	// frame are concealed).
	FrameReal
	// FrameConcealed replaces a lost or late frame: the last real frame
	// repeated, fading out over three frames.
	FrameConcealed
)

// String returns "silence", "real" or "concealed".
func (s FrameState) String() string {
	switch s {
	case FrameReal:
		return "real"
	case FrameConcealed:
		return "concealed"
	}
	return "silence"
}

// JitterConfig sets a JitterBuffer's delays. The zero value gives the
// defaults.
type JitterConfig struct {
	// Target is the playout delay at the start of the stream and of each
	// talkspurt: the audio buffered before playout begins, rounded up to
	// 20 ms. The buffer raises it for long packets (at least one packet)
	// and high jitter (three times the interarrival jitter), up to half
	// the capacity. Default DefaultJitterTarget (40 ms).
	Target time.Duration
	// Capacity bounds the audio held; when a packet would exceed it, the
	// oldest audio is dropped. Default DefaultJitterCapacity (300 ms), at
	// most MaxJitterCapacity (500 ms).
	Capacity time.Duration
}

// JitterStats are a JitterBuffer's counters since its creation or last
// Reset.
type JitterStats struct {
	// Packets counts audio packets pushed; ComfortNoise counts comfort
	// noise (PT 13) packets.
	Packets, ComfortNoise uint64
	// Late counts packets that arrived after their playout time, dropped.
	Late uint64
	// Duplicates counts packets whose audio was already buffered.
	Duplicates uint64
	// Overflow counts frames dropped because a packet arrived beyond the
	// capacity.
	Overflow uint64
	// Real, Concealed and Silence count the frames popped of each state.
	Real, Concealed, Silence uint64
	// Underruns counts pops that found nothing to play while playing (not
	// in DTX): each holds playout back one frame, the "insert" half of the
	// drift correction.
	Underruns uint64
	// DriftDrops counts frames dropped because the depth stayed above the
	// target for a whole second (the "drop" half of the drift correction).
	DriftDrops uint64
	// Restarts counts playout restarts: a marker bit after a pause, a new
	// SSRC, or a timestamp jump.
	Restarts uint64
	// Jitter is the interarrival jitter estimate in samples (RFC 3550
	// §6.4.1, from arrival times).
	Jitter uint32
}

// JitterBuffer turns the decoded audio of one received RTP stream into
// one 20 ms frame per media clock tick (decision 9). Push stores packets
// of any length by RTP timestamp, which re-frames 10-60 ms packets,
// absorbs reordering and drops duplicates; Pop plays one frame per tick
// at a fixed delay behind the newest audio.
//
// Losses are concealed by repeating the last frame, fading out; when the
// buffer runs empty Pop holds playout back (inserting a frame), and when
// a whole frame more than the target stays buffered for a second it drops
// one frame, which together follow a sender whose clock drifts from ours. A
// marker bit after a pause, a new SSRC or a timestamp jump restarts
// playout at the target depth without counting losses (DTX); comfort
// noise is pushed with PushSilence and makes the pause silent rather than
// concealed.
//
// The zero value is ready to use with the default JitterConfig. A
// JitterBuffer is not safe for concurrent use; it needs no goroutine and
// never allocates after creation.
type JitterBuffer struct {
	cfg      JitterConfig
	resolved bool
	target   int // configured target, samples
	capacity int // samples

	ring  [jbRing]int16
	valid [jbRing]bool

	started bool   // a packet was seen since the last Reset
	playing bool   // playout running (target depth was reached)
	ssrc    uint32 // current stream
	readTS  uint32 // timestamp of the next sample to play
	maxEnd  uint32 // timestamp just past the newest audio
	depth   int    // target depth of the current talkspurt, samples
	pktLen  int    // samples in the latest packet
	stale   int    // packets in a row older than the buffer
	dtx     bool   // comfort noise received: a pause is silent
	cnTS    uint32 // timestamp of that comfort noise

	last      Frame // last real frame played
	concealed int   // frames concealed in a row

	minAhead int // least depth seen in the drift window
	pops     int // pops in the drift window

	transit     int64 // RFC 3550 A.8 relative transit, samples
	jitter16    int64 // jitter estimate × 16, samples
	haveTransit bool
	epoch       time.Time

	stats JitterStats
}

// NewJitterBuffer returns an empty buffer with configuration cfg.
func NewJitterBuffer(cfg JitterConfig) *JitterBuffer {
	j := &JitterBuffer{cfg: cfg}
	j.resolve()
	return j
}

// resolve fills the defaults of the configuration.
func (j *JitterBuffer) resolve() {
	if j.resolved {
		return
	}
	target, capacity := j.cfg.Target, j.cfg.Capacity
	if target <= 0 {
		target = DefaultJitterTarget
	}
	if capacity <= 0 {
		capacity = DefaultJitterCapacity
	}
	capacity = min(capacity, MaxJitterCapacity)
	j.capacity = max(int(capacity*SampleRate/time.Second), 2*FrameSamples)
	frames := int((target + FrameDuration - 1) / FrameDuration)
	j.target = min(frames*FrameSamples, j.capacity/2)
	j.resolved = true
}

// Reset empties the buffer and its statistics, keeping the configuration.
func (j *JitterBuffer) Reset() {
	cfg := j.cfg
	*j = JitterBuffer{cfg: cfg}
	j.resolve()
}

// Stats returns the counters.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.Jitter = uint32(j.jitter16 >> 4)
	return s
}

// Buffered returns the audio held ahead of playout, gaps included.
func (j *JitterBuffer) Buffered() time.Duration {
	if !j.started {
		return 0
	}
	return time.Duration(max(tsDiff(j.maxEnd, j.readTS), 0)) * time.Second / SampleRate
}

// Push stores the decoded samples pcm of an RTP packet with header h that
// arrived at arrival. Any length is accepted (at most the capacity is
// kept); pcm is copied and not retained.
func (j *JitterBuffer) Push(h RTPHeader, pcm []int16, arrival time.Time) {
	j.resolve()
	j.stats.Packets++
	if len(pcm) == 0 {
		return
	}
	if excess := len(pcm) - j.capacity; excess > 0 {
		pcm = pcm[excess:]
		h.Timestamp += uint32(excess)
	}
	n := len(pcm)
	j.pktLen = n
	if j.dtx && tsDiff(h.Timestamp, j.cnTS) >= 0 {
		j.dtx = false
	}
	if j.needsRestart(h) {
		j.restart(h.SSRC, h.Timestamp)
	}
	j.updateJitter(h.Timestamp, arrival)
	rel := tsDiff(h.Timestamp, j.readTS)
	if !j.playing && rel < 0 && rel+j.capacity > tsDiff(j.maxEnd, j.readTS) {
		// Still filling: an earlier packet that arrived out of order
		// moves the start back.
		j.readTS, rel = h.Timestamp, 0
	}
	if rel+n <= 0 {
		if rel < -j.capacity {
			// Older than the whole buffer: late, or the stream jumped back.
			j.stale++
			if j.stale >= jbStaleResync {
				j.restart(h.SSRC, h.Timestamp)
				j.store(h.Timestamp, pcm)
				return
			}
		}
		j.stats.Late++
		return
	}
	j.stale = 0
	if end := rel + n; end > j.capacity {
		j.dropOldest(end - j.capacity)
	}
	j.store(h.Timestamp, pcm)
}

// needsRestart reports whether a packet starts a new playout: the first
// packet, a new SSRC, a marker bit when nothing is left to play, or a
// timestamp more than the capacity past the newest audio.
func (j *JitterBuffer) needsRestart(h RTPHeader) bool {
	if !j.started || h.SSRC != j.ssrc {
		return true
	}
	ahead := tsDiff(j.maxEnd, j.readTS)
	if h.Marker && ahead <= 0 {
		return true
	}
	return tsDiff(h.Timestamp, j.maxEnd) >= j.capacity
}

// restart begins a new playout at ts.
func (j *JitterBuffer) restart(ssrc, ts uint32) {
	if j.started {
		j.stats.Restarts++
	}
	clear(j.valid[:])
	j.started, j.playing = true, false
	j.ssrc, j.readTS, j.maxEnd = ssrc, ts, ts
	j.stale, j.dtx = 0, false
	j.pops, j.minAhead = 0, 0
	j.haveTransit = false // a new timing reference
	jit := int(3 * j.jitter16 >> 4)
	j.depth = max(j.target, (j.pktLen+FrameSamples-1)/FrameSamples*FrameSamples,
		(jit+FrameSamples-1)/FrameSamples*FrameSamples)
	j.depth = min(j.depth, j.capacity/2)
}

// dropOldest advances playout by n samples (rounded up to a frame) to make
// room, counting the frames that held audio.
func (j *JitterBuffer) dropOldest(n int) {
	frames := (n + FrameSamples - 1) / FrameSamples
	for range frames {
		if j.clearFrame(j.readTS) > 0 {
			j.stats.Overflow++
		}
		j.readTS += FrameSamples
	}
	if tsDiff(j.maxEnd, j.readTS) < 0 {
		j.maxEnd = j.readTS
	}
}

// store copies pcm at timestamp ts, skipping samples already played or
// already held.
func (j *JitterBuffer) store(ts uint32, pcm []int16) {
	rel := tsDiff(ts, j.readTS)
	stored := 0
	for i := max(-rel, 0); i < len(pcm); i++ {
		k := (ts + uint32(i)) & jbMask
		if !j.valid[k] {
			j.ring[k], j.valid[k] = pcm[i], true
			stored++
		}
	}
	if stored == 0 {
		j.stats.Duplicates++
		return
	}
	if end := ts + uint32(len(pcm)); tsDiff(end, j.maxEnd) > 0 {
		j.maxEnd = end
	}
}

// clearFrame marks the frame at ts empty and returns how many samples it
// held.
func (j *JitterBuffer) clearFrame(ts uint32) int {
	n := 0
	for i := range uint32(FrameSamples) {
		k := (ts + i) & jbMask
		if j.valid[k] {
			n++
			j.valid[k] = false
		}
	}
	return n
}

// PushSilence records a comfort noise packet (RFC 3389, PT 13) with header
// h: it decodes to silence, so when the buffered audio runs out the pause
// that follows is played as silence, neither concealed nor counted as an
// underrun. It is not malformed and is not counted as late.
func (j *JitterBuffer) PushSilence(h RTPHeader, arrival time.Time) {
	j.resolve()
	j.stats.ComfortNoise++
	if !j.started || h.SSRC != j.ssrc {
		return
	}
	j.dtx, j.cnTS = true, h.Timestamp
}

// updateJitter runs the interarrival jitter estimator of RFC 3550 A.8.
func (j *JitterBuffer) updateJitter(ts uint32, arrival time.Time) {
	if j.epoch.IsZero() {
		j.epoch = arrival
	}
	arr := int64(arrival.Sub(j.epoch)) * SampleRate / int64(time.Second)
	transit := arr - int64(ts)
	if j.haveTransit {
		d := transit - j.transit
		// Timestamps wrap at 2^32: fold the difference back.
		d = int64(int32(d))
		if d < 0 {
			d = -d
		}
		j.jitter16 += d - (j.jitter16+8)>>4
	}
	j.transit, j.haveTransit = transit, true
}

// Pop writes the next 20 ms frame into f and says what it is. Call it
// once per media clock tick, also while nothing arrives: the buffer's
// timing is the number of pops. It does not allocate.
func (j *JitterBuffer) Pop(f *Frame) FrameState {
	j.resolve()
	if !j.started {
		return j.silence(f)
	}
	ahead := tsDiff(j.maxEnd, j.readTS)
	if !j.playing {
		// Start once the target depth remains after this frame.
		if ahead < j.depth+FrameSamples {
			return j.silence(f)
		}
		j.playing = true
	}
	j.watchDrift(ahead)
	have := j.countFrame(j.readTS)
	if have == 0 && ahead > 0 && ahead-FrameSamples > j.depth {
		// Behind after a burst of loss or held underruns: skip to the
		// earliest audio, keeping at least the target depth.
		j.catchUp()
		ahead = tsDiff(j.maxEnd, j.readTS)
		have = j.countFrame(j.readTS)
	}
	switch {
	case have == 0 && ahead <= 0:
		// Nothing to play: hold playout back (insert a frame).
		if j.dtx {
			return j.silence(f)
		}
		j.stats.Underruns++
		return j.conceal(f)
	case have == 0:
		// Lost: conceal it and move on.
		j.readTS += FrameSamples
		return j.conceal(f)
	}
	for i := range f {
		k := (j.readTS + uint32(i)) & jbMask
		if j.valid[k] {
			f[i] = j.ring[k]
			j.valid[k] = false
		} else {
			f[i] = j.last[i] / 2
		}
	}
	j.readTS += FrameSamples
	j.last, j.concealed = *f, 0
	j.stats.Real++
	return FrameReal
}

// countFrame returns how many samples of the frame at ts are held.
func (j *JitterBuffer) countFrame(ts uint32) int {
	n := 0
	for i := range uint32(FrameSamples) {
		if j.valid[(ts+i)&jbMask] {
			n++
		}
	}
	return n
}

// catchUp moves playout forward to the earliest held sample, but no
// further than the target depth behind the newest audio.
func (j *JitterBuffer) catchUp() {
	limit := j.maxEnd - uint32(j.depth)
	for tsDiff(limit, j.readTS) > 0 && j.countFrame(j.readTS) == 0 {
		j.readTS += FrameSamples
	}
}

// watchDrift tracks the least depth over a second of pops and drops a
// frame when a whole frame more than the target (beyond the frame being
// played) stayed buffered throughout.
func (j *JitterBuffer) watchDrift(ahead int) {
	if j.pops == 0 || ahead < j.minAhead {
		j.minAhead = ahead
	}
	j.pops++
	if j.pops < jbDriftWindow {
		return
	}
	if j.minAhead >= j.depth+2*FrameSamples {
		j.clearFrame(j.readTS)
		j.readTS += FrameSamples
		j.stats.DriftDrops++
	}
	j.pops = 0
}

// conceal writes the last real frame, attenuated by a quarter more for
// each frame concealed in a row, and silence after jbMaxConceal.
func (j *JitterBuffer) conceal(f *Frame) FrameState {
	j.concealed++
	if j.concealed > jbMaxConceal {
		return j.silence(f)
	}
	gain := int32(jbMaxConceal + 1 - j.concealed) // 3/4, 2/4, 1/4
	for i, v := range j.last {
		f[i] = int16(int32(v) * gain / (jbMaxConceal + 1))
	}
	j.stats.Concealed++
	return FrameConcealed
}

func (j *JitterBuffer) silence(f *Frame) FrameState {
	*f = Frame{}
	j.stats.Silence++
	return FrameSilence
}
