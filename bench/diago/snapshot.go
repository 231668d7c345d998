package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
)

// snapshot is printed as one JSON line on SIGUSR1: the driver sends it at
// the end of the steady window, while every call is up.
type snapshot struct {
	Snapshot   bool   `json:"snapshot"`
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	HeapObjs   uint64 `json:"heapObjects"`
}

// snapshots prints a snapshot on every SIGUSR1 and, with memProfile set,
// writes a heap profile there the first time; with blockProfile set it
// records blocking and mutex contention from the start and writes both
// profiles (blockProfile and blockProfile+".mutex") at the first SIGUSR1.
func snapshots(memProfile, blockProfile string) {
	if blockProfile != "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond)) // events of 10 µs and longer
		runtime.SetMutexProfileFraction(10)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	wrote := false
	go func() {
		for range ch {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b, _ := json.Marshal(snapshot{Snapshot: true, Goroutines: runtime.NumGoroutine(),
				HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Sys: m.Sys, HeapObjs: m.HeapObjects})
			fmt.Println(string(b))
			if !wrote {
				wrote = true
				for name, path := range map[string]string{"heap": memProfile, "block": blockProfile, "mutex": blockProfile + ".mutex"} {
					if path == "" || path == ".mutex" {
						continue
					}
					if f, err := os.Create(path); err == nil {
						_ = pprof.Lookup(name).WriteTo(f, 0)
						f.Close()
					}
				}
			}
		}
	}()
}
