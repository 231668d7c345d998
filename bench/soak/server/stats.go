package main

import (
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/mediaserver-go/mediaserver/bench/soak/internal/procstat"
)

// snapshot is what GET /stats answers: the process's resources as it sees
// them itself, the library's live objects and the handler's counters.
type snapshot struct {
	UnixMS     int64 `json:"unixMs"`
	Goroutines int   `json:"goroutines"`
	procstat.Figures
	// HeapInuseBytes is the heap in spans in use (runtime.MemStats.HeapInuse);
	// HeapLiveBytes the heap marked live by the last GC; GoTotalBytes all
	// memory the Go runtime has mapped.
	HeapInuseBytes uint64 `json:"heapInuseBytes"`
	HeapLiveBytes  uint64 `json:"heapLiveBytes"`
	HeapObjects    uint64 `json:"heapObjects"`
	GoTotalBytes   uint64 `json:"goTotalBytes"`
	GCCycles       uint64 `json:"gcCycles"`
	// Sessions, Participants and Conferences are live in the library.
	Sessions     int `json:"sessions"`
	Participants int `json:"participants"`
	Conferences  int `json:"conferences"`
	// Endpoints are the live RTP endpoints of the media clock.
	Endpoints int `json:"endpoints"`
	// RTP packets in and out over the server's life, and digits detected.
	PacketsIn  uint64   `json:"packetsIn"`
	PacketsOut uint64   `json:"packetsOut"`
	Counters   counters `json:"counters"`
	ProcErr    string   `json:"procErr,omitempty"`
}

var metricNames = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/gc/heap/live:bytes",
	"/gc/heap/objects:objects",
	"/memory/classes/total:bytes",
	"/gc/cycles/total:gc-cycles",
}

func (a *app) snapshot() snapshot {
	s := snapshot{UnixMS: time.Now().UnixMilli(), Goroutines: runtime.NumGoroutine()}
	fig, err := procstat.Read(0)
	s.Figures = fig
	if err != nil {
		s.ProcErr = err.Error()
	}
	samples := make([]metrics.Sample, len(metricNames))
	for i, n := range metricNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	u := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	s.HeapInuseBytes = u(0) + u(1)
	s.HeapLiveBytes, s.HeapObjects, s.GoTotalBytes, s.GCCycles = u(2), u(3), u(4), u(5)
	if a.srv != nil {
		st := a.srv.Stats()
		s.Sessions, s.Participants, s.Conferences = st.Sessions, st.Participants, st.Conferences
		s.PacketsIn, s.PacketsOut = st.Media.PacketsIn, st.Media.PacketsOut
		s.Endpoints = st.Media.Endpoints
	}
	s.Counters = a.counters()
	return s
}

// forceGC runs a full collection and returns freed memory to the OS, so
// that RSS and heap figures after it are comparable.
func forceGC() {
	runtime.GC()
	debug.FreeOSMemory()
}

func writeGoroutines(w io.Writer) {
	_ = pprof.Lookup("goroutine").WriteTo(w, 1)
}
