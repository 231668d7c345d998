package mediaservertest

import (
	"context"
	"math"
	"slices"
)

// Levels of what a phone sends, as fractions of full scale.
const (
	toneAmplitude = 0.3 * 32767  // about -13.5 dBFS RMS, as INTEROP.md's "vol 0.3"
	dtmfAmplitude = 0.25 * 32767 // per frequency of a dual tone
)

// DTMF timing: 100 ms per digit and 100 ms between digits.
const (
	digitSamples = SampleRate / 10
	gapSamples   = SampleRate / 10
	endPackets   = 3 // RFC 4733 section 2.5.1.4: the final packet is sent three times
)

// dtmfItem is one digit queued for sending.
type dtmfItem struct {
	digit byte
	mode  DTMFMode // DTMFRFC4733 or DTMFInband
	done  chan struct{}
	err   error // set before done is closed
}

// generator produces what a call sends: a tone or a WAV loop, with in-band
// DTMF mixed in, or RFC 4733 events in place of audio. Its owner guards it.
type generator struct {
	toneHz float64
	phase  float64
	wav    []int16
	wavPos int
	useWAV bool

	queue []*dtmfItem
	pos   int    // progress of queue[0]: samples (in-band) or packets (RFC 4733)
	evTS  uint32 // RTP timestamp of the current RFC 4733 event
}

// setTone makes the generator send a tone of hz (0: silence) from now on.
func (g *generator) setTone(hz float64) {
	g.toneHz, g.useWAV = hz, false
}

// pop finishes queue[0] with err.
func (g *generator) pop(err error) {
	it := g.queue[0]
	it.err = err
	close(it.done)
	g.queue[0] = nil
	g.queue = g.queue[1:]
	g.pos = 0
}

// abort fails every queued digit with err.
func (g *generator) abort(err error) {
	for len(g.queue) > 0 {
		g.pop(err)
	}
}

// drop removes those of items that have not started yet.
func (g *generator) drop(items []*dtmfItem) {
	if len(g.queue) == 0 {
		return
	}
	first := g.queue[0]
	kept := g.queue[:0]
	for i, it := range g.queue {
		started := i == 0 && g.pos > 0
		if !started && slices.Contains(items, it) {
			it.err = context.Canceled
			close(it.done)
			continue
		}
		kept = append(kept, it)
	}
	clear(g.queue[len(kept):])
	if len(kept) == 0 || kept[0] != first {
		g.pos = 0
	}
	g.queue = kept
}

// event returns the RFC 4733 payload to send in this packet instead of audio,
// if an event is due. ts is the packet's audio timestamp and frame its number
// of samples. marker is true for the first packet of an event; evTS is the
// event's timestamp, the same for all its packets (RFC 4733 section 2.5.1.2).
func (g *generator) event(ts uint32, frame int) (ev telephoneEvent, evTS uint32, marker, ok bool) {
	for len(g.queue) > 0 && g.queue[0].mode == DTMFRFC4733 {
		it := g.queue[0]
		updates := (digitSamples + frame - 1) / frame // packets until the end
		gaps := (gapSamples + frame - 1) / frame
		k := g.pos
		switch {
		case k < updates+endPackets-1:
			g.pos++
			if k == 0 {
				g.evTS = ts
			}
			last := min(k, updates-1)
			ev = telephoneEvent{
				Event:    uint8(eventCode(it.digit)),
				End:      k >= updates-1,
				Volume:   eventVolume,
				Duration: uint16((last + 1) * frame),
			}
			return ev, g.evTS, k == 0, true
		case k < updates+endPackets-1+gaps:
			g.pos++
			return telephoneEvent{}, 0, false, false // audio between digits
		default:
			g.pop(nil)
		}
	}
	return telephoneEvent{}, 0, false, false
}

// eventCode returns the RFC 4733 event code of a digit.
func eventCode(d byte) int {
	for i := range len(dtmfDigits) {
		if dtmfDigits[i] == d {
			return i
		}
	}
	return 0
}

// fill writes the next len(pcm) samples of audio, with in-band DTMF mixed in.
func (g *generator) fill(pcm []int16) {
	step := 2 * math.Pi * g.toneHz / SampleRate
	for i := range pcm {
		var v float64
		switch {
		case g.useWAV && len(g.wav) > 0:
			v = float64(g.wav[g.wavPos])
			g.wavPos = (g.wavPos + 1) % len(g.wav)
		case g.toneHz > 0:
			v = toneAmplitude * math.Sin(g.phase)
			g.phase = math.Mod(g.phase+step, 2*math.Pi)
		}
		v += g.inband()
		pcm[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
}

// inband returns the next in-band DTMF sample and advances the queue.
func (g *generator) inband() float64 {
	if len(g.queue) == 0 || g.queue[0].mode != DTMFInband {
		return 0
	}
	it := g.queue[0]
	var v float64
	if g.pos < digitSamples {
		row, col, _ := dtmfFreqs(it.digit)
		t := float64(g.pos) / SampleRate
		v = dtmfAmplitude * (math.Sin(2*math.Pi*row*t) + math.Sin(2*math.Pi*col*t))
	}
	g.pos++
	if g.pos >= digitSamples+gapSamples {
		g.pop(nil)
	}
	return v
}
