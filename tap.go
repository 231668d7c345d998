package mediaserver

import (
	"sync"
	"time"

	"github.com/mediaserver-go/mediaserver/media"
)

// tap mixes what a session's participants say, for its recordings and its
// monitor: every SIP leg's received audio, every IVR's output, and the mix
// of every conference its participants are in. It follows the session as
// its connections change (caller↔IVR, caller↔callee, conference), because
// it listens to participants, not connections. It runs on the media clock
// as a Processor while the session records or is monitored.
type tap struct {
	mu     sync.Mutex // guards the fields below against the session loop
	voices []tapVoice
	confs  []*Conference
	recs   []*recording

	// Owned by the clock goroutine.
	sum1, sum2 [media.FrameSamples]int32
	mono       media.Frame
	ch1, ch2   media.Frame
	tmp        media.Frame
}

// tapVoice is one participant's contribution.
type tapVoice struct {
	p      *Participant
	sink   *voiceSink // SIP legs
	ivr    FrameReader
	first  bool        // channel 1 of two-channel recordings
	inConf *Conference // its voice is inside that conference's mix
}

// FrameReader is what the tap needs of an IVR player: its output of the
// tick.
type FrameReader interface {
	ReadFrame(f *media.Frame) bool
}

// voiceSink keeps the frame an endpoint received this tick.
type voiceSink struct {
	f     media.Frame
	fresh bool
}

// WriteFrame implements media.FrameSink.
func (v *voiceSink) WriteFrame(f *media.Frame) {
	v.f = *f
	v.fresh = true
}

// Process mixes one tick for the monitor and the recordings.
func (t *tap) Process(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum1 = [media.FrameSamples]int32{}
	t.sum2 = [media.FrameSamples]int32{}
	for i := range t.voices {
		v := &t.voices[i]
		f := t.voiceFrame(v)
		if f == nil {
			continue
		}
		switch {
		case v.first:
			add(&t.sum1, f, 1)
			if v.inConf != nil {
				add(&t.sum2, f, -1) // it is in the conference mix added below
			}
		case v.inConf == nil:
			add(&t.sum2, f, 1)
		}
	}
	for _, c := range t.confs {
		c.mixer.Mix(&t.tmp)
		add(&t.sum2, &t.tmp, 1)
	}
	for i := range t.mono {
		t.ch1[i] = sat16(t.sum1[i])
		t.ch2[i] = sat16(t.sum2[i])
		t.mono[i] = sat16(t.sum1[i] + t.sum2[i])
	}
	for _, r := range t.recs {
		r.write(now, &t.mono, &t.ch1, &t.ch2)
	}
}

func (t *tap) voiceFrame(v *tapVoice) *media.Frame {
	switch {
	case v.sink != nil:
		if !v.sink.fresh {
			return nil
		}
		v.sink.fresh = false
		return &v.sink.f
	case v.ivr != nil:
		if v.ivr.ReadFrame(&t.tmp) {
			return &t.tmp
		}
	}
	return nil
}

// ReadFrame gives the monitor the mix of this tick (media.FrameSource).
func (t *tap) ReadFrame(f *media.Frame) bool {
	*f = t.mono
	return true
}

func add(sum *[media.FrameSamples]int32, f *media.Frame, sign int32) {
	for i, v := range f {
		sum[i] += sign * int32(v)
	}
}

func sat16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}

// refreshTap matches the tap to the session's participants: it runs the
// tap while the session records or is monitored, attaches a voice sink to
// every SIP leg and follows IVRs and conferences. Call it after any change
// of participants or connections.
func (ss *Session) refreshTap() {
	need := len(ss.recs) > 0 || ss.monitor != nil
	if !need {
		if ss.tap != nil {
			ss.srv.clock.RemoveProcessor(ss.tap)
			for p, v := range ss.sinks {
				if p.ep != nil {
					p.ep.RemoveSink(v)
				}
				delete(ss.sinks, p)
			}
			ss.tap = nil
		}
		return
	}
	if ss.tap == nil {
		ss.tap = &tap{}
		// After mixers and players, so it mixes this tick's frames.
		ss.srv.clock.AddObserver(ss.tap)
	}
	var voices []tapVoice
	var confs []*Conference
	live := make(map[*Participant]bool)
	for _, p := range ss.parts {
		v := tapVoice{p: p, first: p == ss.first, inConf: p.conf}
		switch {
		case p.kind == KindIVR:
			if p.player == nil || p.conn == nil {
				continue // an IVR plays only while connected
			}
			v.ivr = p.player
		case p.ep != nil:
			s := ss.sinks[p]
			if s == nil {
				s = &voiceSink{}
				ss.sinks[p] = s
				p.ep.AddSink(s)
			}
			v.sink = s
			live[p] = true
		default:
			continue
		}
		if p.conf != nil && !containsConf(confs, p.conf) {
			confs = append(confs, p.conf)
		}
		voices = append(voices, v)
	}
	for p, s := range ss.sinks {
		if !live[p] {
			if p.ep != nil {
				p.ep.RemoveSink(s)
			}
			delete(ss.sinks, p)
		}
	}
	ss.tap.mu.Lock()
	ss.tap.voices, ss.tap.confs = voices, confs
	ss.tap.recs = append(ss.tap.recs[:0:0], ss.recs...)
	ss.tap.mu.Unlock()
}

func containsConf(cs []*Conference, c *Conference) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
