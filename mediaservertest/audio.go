package mediaservertest

import (
	"sort"
	"time"
)

// maxHeard bounds the audio a call keeps: the last 120 s.
const maxHeard = 120 * SampleRate

// audioMark records when a packet's samples arrived.
type audioMark struct {
	at  time.Time
	pos int // index into Audio.samples of the packet's first sample
}

// Audio is a snapshot of audio a call received: 8 kHz mono PCM in order of
// arrival (one packet's samples after the other, without gap filling), with
// the arrival time of each packet. Its methods never modify it, so it is safe
// to share between goroutines. The zero value is empty audio.
type Audio struct {
	samples []int16
	marks   []audioMark
}

// Samples returns the PCM samples. The slice belongs to the Audio; do not
// modify it.
func (a Audio) Samples() []int16 { return a.samples }

// Duration returns the length of the audio.
func (a Audio) Duration() time.Duration {
	return time.Duration(len(a.samples)) * time.Second / SampleRate
}

// Since returns the audio of the packets that arrived at or after t.
func (a Audio) Since(t time.Time) Audio {
	i := sort.Search(len(a.marks), func(i int) bool { return !a.marks[i].at.Before(t) })
	if i == len(a.marks) {
		return Audio{}
	}
	return a.from(a.marks[i].pos)
}

// Last returns the final d of the audio (all of it if it is shorter).
func (a Audio) Last(d time.Duration) Audio {
	n := int(d * SampleRate / time.Second)
	if n >= len(a.samples) {
		return a
	}
	return a.from(len(a.samples) - n)
}

// from returns the audio from sample index pos on.
func (a Audio) from(pos int) Audio {
	i := sort.Search(len(a.marks), func(i int) bool { return a.marks[i].pos >= pos })
	marks := make([]audioMark, 0, len(a.marks)-i+1)
	if i == len(a.marks) || a.marks[i].pos > pos {
		// pos falls inside the packet before: it arrived at that packet's time.
		if i > 0 {
			marks = append(marks, audioMark{at: a.marks[i-1].at})
		}
	}
	for _, m := range a.marks[i:] {
		marks = append(marks, audioMark{at: m.at, pos: m.pos - pos})
	}
	return Audio{samples: a.samples[pos:], marks: marks}
}

// Share returns ToneShare of the audio at freq Hz.
func (a Audio) Share(freq float64) float64 { return ToneShare(a.samples, freq) }

// Level returns LevelDBFS of the audio.
func (a Audio) Level() float64 { return LevelDBFS(a.samples) }

// DominantFrequency returns DominantFrequency of the audio.
func (a Audio) DominantFrequency() float64 { return DominantFrequency(a.samples) }

// Digits returns DetectDigits of the audio: in-band DTMF digits.
func (a Audio) Digits() string { return DetectDigits(a.samples) }

// heardBuffer accumulates received audio; its owner guards it with a mutex.
type heardBuffer struct {
	samples []int16
	marks   []audioMark
}

// append adds one packet's samples, dropping the oldest beyond maxHeard.
func (h *heardBuffer) append(at time.Time, pcm []int16) {
	h.marks = append(h.marks, audioMark{at: at, pos: len(h.samples)})
	h.samples = append(h.samples, pcm...)
	if len(h.samples) <= maxHeard+10*SampleRate {
		return
	}
	drop := len(h.samples) - maxHeard
	h.samples = append(h.samples[:0], h.samples[drop:]...)
	i := sort.Search(len(h.marks), func(i int) bool { return h.marks[i].pos >= drop })
	h.marks = append(h.marks[:0], h.marks[i:]...)
	for j := range h.marks {
		h.marks[j].pos -= drop
	}
}

// snapshot copies the audio of packets that arrived at or after since.
func (h *heardBuffer) snapshot(since time.Time) Audio {
	i := sort.Search(len(h.marks), func(i int) bool { return !h.marks[i].at.Before(since) })
	if i == len(h.marks) {
		return Audio{}
	}
	base := h.marks[i].pos
	a := Audio{
		samples: append([]int16(nil), h.samples[base:]...),
		marks:   make([]audioMark, len(h.marks)-i),
	}
	for j, m := range h.marks[i:] {
		a.marks[j] = audioMark{at: m.at, pos: m.pos - base}
	}
	return a
}
