package mediaservertest

import (
	"math"
	"math/cmplx"
)

// SampleRate is the rate of all audio in this package: 8 kHz, as G.711.
const SampleRate = 8000

// SilenceDBFS is the level below which audio counts as silence (INTEROP.md
// section 3).
const SilenceDBFS = -50.0

// shareBlock is the block length of ToneShare: 100 ms, so the Goertzel main
// lobe is ±10 Hz wide and a tone a few hertz off still counts.
const shareBlock = 800

// goertzel returns the power of x at freq (Hz) scaled so that a full-block sine
// of amplitude A gives N*A²/2 (its energy), and the energy of x.
//
// See INTEROP.md section 3 for the derivation of the share.
func goertzel(x []int16, freq float64) (power, energy float64) {
	c := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var s1, s2 float64
	for _, v := range x {
		f := float64(v)
		s1, s2 = f+c*s1-s2, s1
		energy += f * f
	}
	if len(x) == 0 {
		return 0, 0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * p / float64(len(x)), energy
}

// ToneShare returns the fraction of the energy of samples (8 kHz PCM) that lies
// at freq Hz: about 1.0 for a pure tone, about 0.5 each for two equal tones,
// and 0 for silence or no samples. It runs the Goertzel algorithm on 100 ms
// blocks, so a tone within a few hertz of freq counts. A tone holding 5% or
// more of the energy is audible (INTEROP.md section 3).
func ToneShare(samples []int16, freq float64) float64 {
	var p, e float64
	for len(samples) > 0 {
		n := min(len(samples), shareBlock)
		if rest := len(samples) - n; rest > 0 && rest < shareBlock/2 {
			n = len(samples) // fold a short tail into the last block
		}
		bp, be := goertzel(samples[:n], freq)
		p += bp
		e += be
		samples = samples[n:]
	}
	if e == 0 {
		return 0
	}
	return min(p/e, 1)
}

// LevelDBFS returns the RMS level of samples in dB relative to full scale
// (a full-scale square wave is 0 dBFS, a full-scale sine about -3 dBFS).
// It returns -Inf for silence or no samples. Below SilenceDBFS is silence.
func LevelDBFS(samples []int16) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	var e float64
	for _, v := range samples {
		f := float64(v)
		e += f * f
	}
	if e == 0 {
		return math.Inf(-1)
	}
	rms := math.Sqrt(e / float64(len(samples)))
	return 20 * math.Log10(rms/32768)
}

// fftSize is the block length of DominantFrequency: 64 ms, bins of 15.6 Hz.
const fftSize = 512

// DominantFrequency returns the frequency (Hz) with the most energy in samples
// between 100 and 3500 Hz, accurate to a few hertz for a steady tone. It
// averages Hann-windowed 512-sample spectra and interpolates the peak. It
// returns 0 for silence or fewer than 512 samples.
func DominantFrequency(samples []int16) float64 {
	if len(samples) < fftSize {
		return 0
	}
	var power [fftSize/2 + 1]float64
	buf := make([]complex128, fftSize)
	for start := 0; start+fftSize <= len(samples); start += fftSize {
		for i := range buf {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/fftSize)
			buf[i] = complex(w*float64(samples[start+i]), 0)
		}
		fft(buf)
		for k := range power {
			a := cmplx.Abs(buf[k])
			power[k] += a * a
		}
	}
	const binHz = float64(SampleRate) / fftSize
	lo, hi := int(math.Ceil(100/binHz)), int(3500/binHz)
	peak := lo
	for k := lo; k <= hi; k++ {
		if power[k] > power[peak] {
			peak = k
		}
	}
	if power[peak] == 0 {
		return 0
	}
	// Parabolic interpolation on log power (Gaussian fit); good for Hann.
	a, b, c := math.Log(power[peak-1]+1e-9), math.Log(power[peak]), math.Log(power[peak+1]+1e-9)
	delta := 0.0
	if d := a - 2*b + c; d < 0 {
		delta = 0.5 * (a - c) / d
	}
	return (float64(peak) + max(-0.5, min(0.5, delta))) * binHz
}

// fft is an in-place iterative radix-2 FFT; len(x) must be a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := range size / 2 {
				u, v := x[start+k], w*x[start+k+size/2]
				x[start+k], x[start+k+size/2] = u+v, u-v
				w *= step
			}
		}
	}
}
