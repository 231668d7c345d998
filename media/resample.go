package media

import (
	"fmt"
	"math"
)

// Sample-rate conversion to the internal 8 kHz by band-limited
// interpolation: a Kaiser-windowed sinc low-pass evaluated at the exact
// rational position of each output sample (polyphase). The low-pass has
// its half-amplitude point at 3.6 kHz (decision 22), passes up to about
// 3.4 kHz and stops (80 dB) from 3.8 kHz, so nothing above 4 kHz folds
// back into the telephone band.
//
// For a rate r the conversion ratio 8000/r reduces to L/M (L output
// samples per M input samples). When L is small (44100 → 80/441,
// 48000 → 1/6, 22050 → 160/441) there is one coefficient table per
// phase and the result is exact up to float32 rounding; for other rates
// (11025, odd ones, very high ones) the coefficients are interpolated
// linearly between fewer tables (at most maxCoefs coefficients in all),
// which adds an error below -100 dB.
const (
	// MinInputRate and MaxInputRate bound the sample rates that the
	// resampler and the decoders accept, in Hz.
	MinInputRate = 1000
	MaxInputRate = 768000

	resampleCutoff     = 3600.0  // Hz, half-amplitude point (decision 22)
	resampleTransition = 400.0   // Hz, full width of the transition band
	resampleAtten      = 80.0    // dB in the stop band
	maxCoefs           = 1 << 16 // bounds the tables to 256 kB and their set-up to ~3 ms
)

// Resampler converts a stream of mono 16-bit PCM at one sample rate to
// 8 kHz. Feed it with Append in chunks of any size and finish with Flush;
// the output is the same however the input is split. A rate of exactly
// 8000 Hz passes samples through unchanged. A Resampler is not safe for
// concurrent use; once its history buffer has grown to the largest chunk
// it does not allocate except to grow dst.
type Resampler struct {
	passthrough bool
	l, m        int64 // output n sits at input position n*m/l
	half        int   // taps on each side of the centre
	taps        int   // 2*half
	phases      int   // coefficient tables minus one when interpolating
	interp      bool  // coefficients interpolated between tables
	coef        []float32

	buf  []float32 // input history; buf[0] is input sample base
	base int64
	ipos int64 // integer part of the next output's input position
	frac int64 // fractional part, in units of 1/l
	in   int64 // input samples consumed so far
	done bool
}

// NewResampler returns a resampler from rate Hz to 8 kHz. It fails with an
// *AudioError wrapping ErrBadAudio when rate is outside
// [MinInputRate, MaxInputRate].
func NewResampler(rate int) (*Resampler, error) {
	if rate < MinInputRate || rate > MaxInputRate {
		return nil, &AudioError{Format: "pcm", Reason: fmt.Sprintf("sample rate %d Hz out of range", rate)}
	}
	r := &Resampler{}
	if rate == SampleRate {
		r.passthrough = true
		return r, nil
	}
	g := gcd(SampleRate, int64(rate))
	r.l, r.m = SampleRate/g, int64(rate)/g

	fs := float64(rate)
	fc, trans := resampleCutoff, resampleTransition
	if rate < SampleRate {
		// Upsampling: band-limit to the input's own Nyquist frequency.
		fc, trans = 0.45*fs, 0.1*fs
	}
	// Kaiser's estimate of the filter length for the wanted attenuation
	// and transition width, in input samples.
	n := (resampleAtten - 8) / (2.285 * 2 * math.Pi * trans / fs)
	r.half = int(math.Ceil(n/2)) + 1
	r.taps = 2 * r.half
	r.phases = int(min(r.l, int64(max(maxCoefs/r.taps-1, 4))))
	r.interp = int64(r.phases) < r.l
	r.coef = make([]float32, (r.phases+1)*r.taps)
	beta := 0.1102 * (resampleAtten - 8.7)
	i0beta := besselI0(beta)
	w := 2 * fc / fs // normalised cutoff
	h := make([]float64, r.taps)
	for p := 0; p <= r.phases; p++ {
		tab := r.coef[p*r.taps : (p+1)*r.taps]
		if q := r.phases - p; q < p {
			// h is even: phase p is phase phases-p reversed.
			mirror := r.coef[q*r.taps : (q+1)*r.taps]
			for j := range tab {
				tab[j] = mirror[r.taps-1-j]
			}
			continue
		}
		d := float64(p) / float64(r.phases)
		var sum float64
		clear(h)
		for j := range h {
			x := float64(j-r.half+1) - d
			q := x / float64(r.half)
			if q < -1 || q > 1 {
				continue
			}
			h[j] = w * sinc(w*x) * besselI0(beta*math.Sqrt(1-q*q)) / i0beta
			sum += h[j]
		}
		for j := range h {
			tab[j] = float32(h[j] / sum) // unity gain at DC in every phase
		}
	}
	r.Reset()
	return r, nil
}

// Reset discards the history so that r can convert a new stream.
func (r *Resampler) Reset() {
	r.buf = r.buf[:0]
	for range r.half - 1 {
		r.buf = append(r.buf, 0) // the signal is zero before its start
	}
	r.base = -int64(r.half - 1)
	r.ipos, r.frac, r.in, r.done = 0, 0, 0, false
}

// Append converts src and appends the output that is complete so far to
// dst, returning the extended slice. Samples near the end of src are held
// back until more input or Flush arrives.
func (r *Resampler) Append(dst, src []int16) []int16 {
	if r.passthrough {
		return append(dst, src...)
	}
	for _, s := range src {
		r.buf = append(r.buf, float32(s))
	}
	r.in += int64(len(src))
	return r.drain(dst, false)
}

// appendFloat is Append for samples already scaled to int16 range.
func (r *Resampler) appendFloat(dst []int16, src []float32) []int16 {
	if r.passthrough {
		for _, v := range src {
			dst = append(dst, saturate(v))
		}
		return dst
	}
	r.buf = append(r.buf, src...)
	r.in += int64(len(src))
	return r.drain(dst, false)
}

// Flush appends the rest of the output to dst: the samples whose input
// position lies before the end of the input. After Flush, Reset must be
// called before r converts more input.
func (r *Resampler) Flush(dst []int16) []int16 {
	if r.passthrough || r.done {
		return dst
	}
	for range r.half {
		r.buf = append(r.buf, 0)
	}
	r.done = true
	return r.drain(dst, true)
}

// drain computes every output sample whose taps are all in buf.
func (r *Resampler) drain(dst []int16, final bool) []int16 {
	end := r.base + int64(len(r.buf)) // one past the last input sample held
	qm, rm := r.m/r.l, r.m%r.l
	for r.ipos+int64(r.half) < end {
		if final && r.ipos >= r.in {
			break
		}
		x := r.buf[r.ipos-int64(r.half)+1-r.base:]
		x = x[:r.taps]
		var v float32
		if r.interp {
			pos := r.frac * int64(r.phases)
			p := int(pos / r.l)
			a := float32(pos%r.l) / float32(r.l)
			v0 := dot(r.coef[p*r.taps:(p+1)*r.taps], x)
			v1 := dot(r.coef[(p+1)*r.taps:(p+2)*r.taps], x)
			v = v0 + (v1-v0)*a
		} else {
			p := int(r.frac)
			v = dot(r.coef[p*r.taps:(p+1)*r.taps], x)
		}
		dst = append(dst, saturate(v))
		r.ipos += qm
		r.frac += rm
		if r.frac >= r.l {
			r.frac -= r.l
			r.ipos++
		}
	}
	// Drop the history no future output needs.
	if drop := r.ipos - int64(r.half) + 1 - r.base; drop > 0 {
		drop = min(drop, int64(len(r.buf)))
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
		r.base += drop
	}
	return dst
}

// Resample converts mono PCM at rate Hz to 8 kHz. The output has about
// len(pcm)*8000/rate samples; at 8000 Hz it is a copy of pcm. It fails
// like NewResampler for a rate out of range.
func Resample(pcm []int16, rate int) ([]int16, error) {
	r, err := NewResampler(rate)
	if err != nil {
		return nil, err
	}
	out := make([]int16, 0, int64(len(pcm))*SampleRate/int64(rate)+2)
	out = r.Append(out, pcm)
	return r.Flush(out), nil
}

func dot(c, x []float32) float32 {
	x = x[:len(c)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		s0 += c[i] * x[i]
		s1 += c[i+1] * x[i+1]
		s2 += c[i+2] * x[i+2]
		s3 += c[i+3] * x[i+3]
	}
	for ; i < len(c); i++ {
		s0 += c[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0,
// by the polynomial approximations of Abramowitz and Stegun 9.8.1 and
// 9.8.2 (relative error below 2e-7, far below what an 80 dB window
// needs), which cost a few multiplications instead of a series.
func besselI0(x float64) float64 {
	x = math.Abs(x)
	if x <= 3.75 {
		t := x / 3.75
		t *= t
		return 1 + t*(3.5156229+t*(3.0899424+t*(1.2067492+t*(0.2659732+t*(0.0360768+t*0.0045813)))))
	}
	t := 3.75 / x
	p := 0.39894228 + t*(0.01328592+t*(0.00225319+t*(-0.00157565+t*(0.00916281+
		t*(-0.02057706+t*(0.02635537+t*(-0.01647633+t*0.00392377)))))))
	return p * math.Exp(x) / math.Sqrt(x)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
