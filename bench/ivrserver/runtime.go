package main

import (
	"math"
	"runtime/metrics"
)

// runtimeStats are the Go runtime's scheduling and GC figures at stop:
// a long scheduling latency means runnable goroutines waited for a thread
// (the OS did not run the process, or every P was busy).
type runtimeStats struct {
	SchedLatP99MS float64 `json:"schedLatencyP99Ms"`
	SchedLatMaxMS float64 `json:"schedLatencyMaxMs"`
	GCPauseMaxMS  float64 `json:"gcPauseMaxMs"`
	GCCycles      uint64  `json:"gcCycles"`
}

func readRuntimeStats() runtimeStats {
	s := []metrics.Sample{
		{Name: "/sched/latencies:seconds"},
		{Name: "/gc/pauses:seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	var r runtimeStats
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := s[0].Value.Float64Histogram()
		r.SchedLatP99MS = 1000 * histQuantile(h, 0.99)
		r.SchedLatMaxMS = 1000 * histQuantile(h, 1)
	}
	if s[1].Value.Kind() == metrics.KindFloat64Histogram {
		r.GCPauseMaxMS = 1000 * histQuantile(s[1].Value.Float64Histogram(), 1)
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		r.GCCycles = s[2].Value.Uint64()
	}
	return r
}

// histQuantile returns the lower bound of the bucket holding quantile q
// (for q = 1, of the highest non-empty bucket).
func histQuantile(h *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var c uint64
	for i, n := range h.Counts {
		c += n
		if c >= want && n > 0 {
			b := h.Buckets[i]
			if math.IsInf(b, -1) {
				return 0
			}
			return b
		}
	}
	return 0
}
