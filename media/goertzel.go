package media

import "math"

// In-band DTMF detection (ITU-T Q.24 style) with the Goertzel algorithm.
//
// Each 20 ms frame is analysed as two 160-sample windows that overlap by
// half (the second half of the previous frame with the first half of this
// one, then this whole frame), so that every tone of 40 ms or more fills
// at least two consecutive windows whatever its alignment with frames.
// A window holds a DTMF digit when all of these hold:
//
//   - level: each of the two tones has a peak amplitude of at least
//     dtmfMinAmplitude (about -32 dBFS, -29 dBm0 in G.711);
//   - one row and one column stand out: the strongest row and column
//     filters exceed every other filter of their group by 6 dB;
//   - twist: the column (high) tone is at most 8 dB weaker (normal twist)
//     and at most 4 dB stronger (reverse twist) than the row (low) tone;
//   - purity: the two tones carry at least 80 % of the window's energy;
//     speech and music spread theirs over many frequencies (the talk-off
//     files in testdata peak at 66-69 %), and a 20 ms tone never fills
//     two consecutive windows that much;
//   - second harmonics: the energy at twice each tone's frequency is at
//     least 10 dB below the tone (the row's: below the stronger tone, as
//     the column leaks into it); voiced speech and instruments have
//     harmonics, DTMF generators do not.
//
// Each tone's power is the best of filters at its nominal frequency and
// ±1.5 %, so off-frequency generators pass. A digit is reported once,
// when it has held for two consecutive windows (30 ms of signal); it stays
// active, under relaxed thresholds (half the level, half the energy),
// until two consecutive windows lack it, and only then can the next digit
// start.
const (
	goertzelN = FrameSamples // window length: 20 ms, 50 Hz bins
	halfN     = goertzelN / 2

	dtmfMinAmplitude   = 800.0 // peak, in sample units (-32 dBFS)
	dtmfPeakRatio      = 4.0   // 6 dB over the rest of the group
	dtmfNormalTwist    = 6.31  // 8 dB
	dtmfReverseTwist   = 2.51  // 4 dB
	dtmfMinShare       = 0.8   // tones' share of the window energy
	dtmfHarmonicRatio  = 10.0  // 10 dB below the fundamental
	dtmfRelaxedShare   = 0.5   // share that keeps an active digit
	dtmfRelaxedLevel   = 0.5   // amplitude factor that keeps it
	dtmfConfirmWindows = 2     // windows in a row to report a digit
	dtmfGapWindows     = 2     // windows in a row without it to end it
)

// dtmfFreqTolerance is the frequency deviation a DTMF tone may have
// (Q.24 asks for acceptance within 1.5 %); a 20 ms window loses 3.7 dB
// that far from its centre at the column frequencies, so each tone's power
// is taken as the best of filters at its nominal frequency and at ±1.5 %.
const dtmfFreqTolerance = 0.015

// goertzelCoef holds 2·cos(2πf/8000) for the four rows then the four
// columns: [k][0] at the nominal frequency, [k][1] and [k][2] at -1.5 %
// and +1.5 %, [k][3] at the second harmonic. Written once at init.
var goertzelCoef [8][4]float64

func init() {
	for k := range 8 {
		f := dtmfRowFreqs[k%4]
		if k >= 4 {
			f = dtmfColFreqs[k-4]
		}
		for j, g := range [4]float64{f, f * (1 - dtmfFreqTolerance), f * (1 + dtmfFreqTolerance), 2 * f} {
			goertzelCoef[k][j] = 2 * math.Cos(2*math.Pi*g/SampleRate)
		}
	}
}

// InbandDetector finds DTMF digits in decoded audio, 20 ms frame by
// frame, and reports each key press once. It is meant for legs without
// RFC 4733 telephone-event (decision 14). The zero value is ready to use.
// An InbandDetector is not safe for concurrent use.
type InbandDetector struct {
	prev    [halfN]float64 // second half of the previous frame
	window  [goertzelN]float64
	cand    byte // digit seen in the latest windows, 0 for none
	hits    int  // consecutive windows with cand
	active  byte // digit reported and not yet ended, 0 for none
	misses  int  // consecutive windows without active
	started bool // prev holds a frame
}

// Process analyses the next 20 ms frame. It returns a digit (0-9, *, #,
// A-D) and true in the frame in which a new key press is recognised,
// about 30-40 ms after the tone starts. It does not allocate.
func (d *InbandDetector) Process(f *Frame) (digit byte, ok bool) {
	if d.started {
		copy(d.window[:halfN], d.prev[:])
		for i := range halfN {
			d.window[halfN+i] = float64(f[i])
		}
		if dg, ok := d.step(); ok {
			digit = dg
		}
	}
	for i, v := range f {
		d.window[i] = float64(v)
	}
	if dg, ok := d.step(); ok {
		digit = dg
	}
	copy(d.prev[:], d.window[halfN:])
	d.started = true
	return digit, digit != 0
}

// Reset forgets the audio and any digit in progress.
func (d *InbandDetector) Reset() { *d = InbandDetector{} }

// step runs the state machine on d.window and reports a new digit.
func (d *InbandDetector) step() (byte, bool) {
	strict, relaxed := classifyDTMF(&d.window, d.active)
	if d.active != 0 {
		if relaxed {
			d.misses = 0
		} else {
			d.misses++
		}
		if d.misses < dtmfGapWindows {
			d.track(strict)
			return 0, false
		}
		d.active = 0
	}
	d.track(strict)
	if d.cand != 0 && d.hits >= dtmfConfirmWindows {
		d.active, d.misses = d.cand, 0
		d.cand, d.hits = 0, 0
		return d.active, true
	}
	return 0, false
}

// track counts consecutive windows of the same candidate digit.
func (d *InbandDetector) track(digit byte) {
	switch {
	case digit == 0:
		d.cand, d.hits = 0, 0
	case digit == d.cand:
		d.hits++
	default:
		d.cand, d.hits = digit, 1
	}
}

// classifyDTMF returns the digit that w holds under the strict checks (0
// for none), and whether active (a digit, or 0) is still present under
// the relaxed ones.
func classifyDTMF(w *[goertzelN]float64, active byte) (strict byte, relaxed bool) {
	energy := 0.0
	for _, x := range w {
		energy += x * x
	}
	// Two tones of the relaxed minimum amplitude A carry N·A² of energy:
	// below that nothing can pass, and silence costs no filtering.
	const minA = dtmfRelaxedLevel * dtmfMinAmplitude
	if energy < goertzelN*minA*minA {
		return 0, false
	}
	var s1, s2 [8]float64
	for _, x := range w {
		for k := range 8 {
			s := x + goertzelCoef[k][0]*s1[k] - s2[k]
			s2[k], s1[k] = s1[k], s
		}
	}
	var p [8]float64
	for k := range 8 {
		c := goertzelCoef[k][0]
		p[k] = s1[k]*s1[k] + s2[k]*s2[k] - c*s1[k]*s2[k]
	}
	if active != 0 {
		i := indexByte(dtmfKeypad, active)
		r, c := i/4, 4+i%4
		if pr, pc, ok := tonePair(w, &p, energy, r, c); ok {
			relaxed = dtmfPresent(pr, pc, energy, dtmfRelaxedShare, dtmfRelaxedLevel)
		}
	}
	r, c := argmax4(p[:4]), 4+argmax4(p[4:])
	pr, pc, ok := tonePair(w, &p, energy, r, c)
	if !ok || !dtmfPresent(pr, pc, energy, dtmfMinShare, 1) {
		return 0, relaxed
	}
	for k := range 4 {
		if (k != r && pr < dtmfPeakRatio*p[k]) || (4+k != c && pc < dtmfPeakRatio*p[4+k]) {
			return 0, relaxed
		}
	}
	// The row's harmonic is judged against the stronger tone: at reverse
	// twist the column leaks into it (2·852 Hz is 71 Hz from 1633 Hz).
	top := max(pr, pc)
	if goertzelPower(w, goertzelCoef[r][3])*dtmfHarmonicRatio > top ||
		goertzelPower(w, goertzelCoef[c][3])*dtmfHarmonicRatio > pc {
		return 0, relaxed
	}
	return dtmfKeypad[r*4+c-4], relaxed
}

// tonePair returns the power of row filter r and column filter c, each
// the best of the nominal frequency and ±dtmfFreqTolerance, or false
// when the nominal filters hold too little of the energy to matter.
func tonePair(w *[goertzelN]float64, p *[8]float64, energy float64, r, c int) (pr, pc float64, ok bool) {
	if 2*(p[r]+p[c]) < 0.25*goertzelN*energy {
		return 0, 0, false
	}
	pr, pc = p[r], p[c]
	for j := 1; j <= 2; j++ {
		pr = max(pr, goertzelPower(w, goertzelCoef[r][j]))
		pc = max(pc, goertzelPower(w, goertzelCoef[c][j]))
	}
	return pr, pc, true
}

// dtmfPresent checks level, twist and share of a row tone of power pr
// and a column tone of power pc; level scales the minimum amplitude.
func dtmfPresent(pr, pc, energy, minShare, level float64) bool {
	// Amplitude² of a tone from its Goertzel power: A² = 4|X|²/N².
	const amp2 = 4.0 / (goertzelN * goertzelN)
	minP := level * level * dtmfMinAmplitude * dtmfMinAmplitude / amp2
	share := 2 * (pr + pc) / (goertzelN * energy)
	return pr >= minP && pc >= minP && share >= minShare &&
		pc*dtmfNormalTwist >= pr && pr*dtmfReverseTwist >= pc
}

func argmax4(p []float64) int {
	m := 0
	for k := 1; k < 4; k++ {
		if p[k] > p[m] {
			m = k
		}
	}
	return m
}

func indexByte(s string, b byte) int {
	for i := range len(s) {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// goertzelPower returns |X|² of w at the frequency whose coefficient is
// coef (2·cos(2πf/fs)).
func goertzelPower(w *[goertzelN]float64, coef float64) float64 {
	var s1, s2 float64
	for _, x := range w {
		s1, s2 = x+coef*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coef*s1*s2
}

// ToneShare returns the fraction of the energy of samples (8 kHz) that
// lies at freq Hz, by the Goertzel algorithm: about 1 for a pure tone at
// freq, about 0.5 each for two equal tones, near 0 when freq is absent
// (INTEROP.md §3: a tone holding 5 % of the energy is heard). It returns
// 0 for silence. Frequencies closer than about 8000/len(samples) Hz are
// not resolved. It does not allocate.
func ToneShare(samples []int16, freq float64) float64 {
	c := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var s1, s2, e float64
	for _, v := range samples {
		x := float64(v)
		s1, s2, e = x+c*s1-s2, s1, e+x*x
	}
	if e == 0 {
		return 0
	}
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / (float64(len(samples)) * e)
}
