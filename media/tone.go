package media

import (
	"math"
	"time"
)

// Tone synthesis by phase accumulation: each component keeps a 32-bit
// phase that wraps once per period, so frequencies are exact to
// 8000/2^32 Hz, successive frames join without a phase jump, and no error
// accumulates however long a tone plays. The sine comes from an immutable
// table with linear interpolation (better than 90 dB SNR).
const (
	sineBits = 10
	sineSize = 1 << sineBits
	// fracBits is the part of the phase below the table index.
	fracBits = 32 - sineBits
)

// sineTable holds one period of a unit sine plus a guard entry, so that
// interpolation never wraps. It is written once at init.
var sineTable [sineSize + 1]float32

func init() {
	for i := range sineTable {
		sineTable[i] = float32(math.Sin(2 * math.Pi * float64(i) / sineSize))
	}
}

// ToneGenerator produces a steady single or dual-frequency tone, 20 ms
// per ReadFrame, with phase continuity across frames. The zero value is
// silence. It is a FrameSource. A ToneGenerator is not safe for concurrent
// use; copying one copies its phase.
type ToneGenerator struct {
	inc   [2]uint32  // phase increment per sample; 0 for no component
	phase [2]uint32  // current phase
	amp   [2]float32 // peak amplitude in sample units
}

// NewToneGenerator returns a generator of f1 + f2 Hz (f2 0 for a single
// tone), each component with peak amplitude amplitude as a fraction of
// full scale (clamped to 0..1; 0.25 is about -12 dBFS). Frequencies at or
// below 0 or at or above half the sample rate (4 kHz) are left out.
func NewToneGenerator(f1, f2, amplitude float64) ToneGenerator {
	amplitude = min(max(amplitude, 0), 1)
	var g ToneGenerator
	for i, f := range [2]float64{f1, f2} {
		if f <= 0 || f >= SampleRate/2 {
			continue
		}
		g.inc[i] = uint32(math.Round(f / SampleRate * (1 << 32)))
		g.amp[i] = float32(amplitude * math.MaxInt16)
	}
	return g
}

// ReadFrame writes the next 20 ms of the tone into f and returns true.
// It does not allocate.
func (g *ToneGenerator) ReadFrame(f *Frame) bool {
	g.fill(f[:])
	return true
}

// fill writes the next len(dst) samples of the tone.
func (g *ToneGenerator) fill(dst []int16) {
	for i := range dst {
		v := g.amp[0]*sine(g.phase[0]) + g.amp[1]*sine(g.phase[1])
		g.phase[0] += g.inc[0]
		g.phase[1] += g.inc[1]
		dst[i] = saturate(v)
	}
}

// Reset restarts the tone at phase zero.
func (g *ToneGenerator) Reset() { g.phase = [2]uint32{} }

// sine returns sin(2π·phase/2^32) by table lookup and interpolation.
func sine(phase uint32) float32 {
	i := phase >> fracBits
	frac := float32(phase&(1<<fracBits-1)) * (1.0 / (1 << fracBits))
	a := sineTable[i]
	return a + (sineTable[i+1]-a)*frac
}

// saturate rounds v to the nearest int16, clipping at the limits.
func saturate(v float32) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v < 0:
		return int16(v - 0.5)
	}
	return int16(v + 0.5)
}

// DTMF frequencies (ITU-T Q.23): rows are the low group, columns the high
// group. dtmfKeypad is laid out the same way.
var (
	dtmfRowFreqs = [4]float64{697, 770, 852, 941}
	dtmfColFreqs = [4]float64{1209, 1336, 1477, 1633}
)

const dtmfKeypad = "123A456B789C*0#D"

// DTMF tone levels of NewDTMFTone: each component a little under
// -10 dBFS, the high group 1.6 dB above the low group (a small positive
// twist, as Q.23 recommends), together about -6 dBm0 in G.711.
const (
	dtmfLowAmplitude  = 0.25
	dtmfHighAmplitude = 0.30
)

// DTMFFrequencies returns the low (row) and high (column) frequency in Hz
// of a DTMF digit (0-9, *, #, A-D or a-d), or false for another byte.
func DTMFFrequencies(digit byte) (low, high float64, ok bool) {
	ev, ok := DigitEvent(digit)
	if !ok {
		return 0, 0, false
	}
	d, _ := EventDigit(ev) // upper case
	for i := range len(dtmfKeypad) {
		if dtmfKeypad[i] == d {
			return dtmfRowFreqs[i/4], dtmfColFreqs[i%4], true
		}
	}
	return 0, 0, false
}

// NewDTMFTone returns a generator of the in-band DTMF tone of digit, for
// legs that did not negotiate telephone-event. The caller decides how long
// it plays. An invalid digit gives a silent generator.
func NewDTMFTone(digit byte) ToneGenerator {
	low, high, ok := DTMFFrequencies(digit)
	if !ok {
		return ToneGenerator{}
	}
	g := NewToneGenerator(low, high, dtmfLowAmplitude)
	g.amp[1] = dtmfHighAmplitude * math.MaxInt16
	return g
}

// cadenceRamp is the length in samples of the fade in and out at each
// edge of a cadence's tone, so that switching makes no click (4 ms).
const cadenceRamp = 32

// Cadence plays a tone switched on and off periodically: ringback, busy,
// call waiting. Each on period restarts the tone at phase zero and fades
// in and out over 4 ms. It is a FrameSource; the zero value is silence.
// A Cadence is not safe for concurrent use.
type Cadence struct {
	tone   ToneGenerator
	on     int // samples of tone per period
	period int // samples per period
	pos    int // position in the period
}

// NewCadence returns a cadence of tone, on for on and then off for off,
// starting with the tone. Durations are rounded to samples; an off of 0
// plays the tone continuously.
func NewCadence(tone ToneGenerator, on, off time.Duration) Cadence {
	tone.Reset()
	onS := int(max(on, 0) * SampleRate / time.Second)
	offS := int(max(off, 0) * SampleRate / time.Second)
	return Cadence{tone: tone, on: onS, period: onS + offS}
}

// NewRingbackETSI returns the ringing tone of ETSI TR 101 041 and most of
// Europe: 425 Hz, 1 s on, 4 s off, about -13 dBFS.
func NewRingbackETSI() Cadence {
	return NewCadence(NewToneGenerator(425, 0, 0.22), time.Second, 4*time.Second)
}

// NewRingbackUS returns the North American ringback tone: 440 + 480 Hz,
// 2 s on, 4 s off, each component about -19 dBFS.
func NewRingbackUS() Cadence {
	return NewCadence(NewToneGenerator(440, 480, 0.11), 2*time.Second, 4*time.Second)
}

// ReadFrame writes the next 20 ms of the cadence into f and returns true.
// It does not allocate.
func (c *Cadence) ReadFrame(f *Frame) bool {
	if c.period <= 0 {
		*f = Frame{}
		return true
	}
	for i := 0; i < len(f); {
		if c.pos >= c.period {
			c.pos = 0
			c.tone.Reset()
		}
		if c.pos >= c.on {
			// Silence to the end of the period or of the frame.
			n := min(c.period-c.pos, len(f)-i)
			clear(f[i : i+n])
			i += n
			c.pos += n
			continue
		}
		// Tone to the end of the on period or of the frame.
		n := min(c.on-c.pos, len(f)-i)
		c.tone.fill(f[i : i+n])
		if c.period != c.on {
			for k := range n {
				// Fade in over the first samples, out over the last.
				if g := min(c.pos+k+1, c.on-c.pos-k); g < cadenceRamp {
					f[i+k] = int16(int32(f[i+k]) * int32(g) / cadenceRamp)
				}
			}
		}
		i += n
		c.pos += n
	}
	return true
}

// Reset restarts the cadence at the start of an on period.
func (c *Cadence) Reset() {
	c.pos = 0
	c.tone.Reset()
}
