//go:build linux

package bpf

import (
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkSendfileCost measures one 4 KiB sendfile to /dev/null with the
// probe attached in several configurations, each against untraced calls of
// the same round, so that machine noise hits both alike. Run it as root:
//
//	go test -run '^$' -bench SendfileCost -benchtime 200000x ./bpf/
//
// It reports ns per untraced and per traced call and their ratio.
func BenchmarkSendfileCost(b *testing.B) {
	configs := []struct {
		name string
		opts Options
	}{
		{"metrics-only", Options{NoSpans: true}},
		{"spans", Options{NoEnrich: true}},
		{"spans-enriched", Options{}},
		{"spans-sampled-1pct", Options{NoEnrich: true, Filter: Filter{SampleRatio: 0.01}}},
	}
	for _, config := range configs {
		b.Run(config.name, func(b *testing.B) {
			requireRoot(b)
			dir := b.TempDir()
			in := openRead(b, writeFile(b, dir, "in", 4096))
			out := openDevNull(b)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			off := offsetVar(0)
			loop := func() time.Duration {
				start := time.Now()
				for i := 0; i < b.N; i++ {
					atomic.StoreInt64(off, 0)
					rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 4096)
				}
				return time.Since(start)
			}

			const rounds = 3
			var untraced, traced time.Duration
			b.ResetTimer()
			for round := 0; round < rounds; round++ {
				untraced += loop()
				opts := config.opts
				opts.Mode = testMode()
				opts.Filter.TGIDs = []uint32{uint32(os.Getpid())}
				p, err := Open(opts)
				if err != nil {
					skipOrFail(b, "attach mode %s not available: %v", opts.Mode, err)
				}
				// Read and drop events, as a reader that keeps up would.
				done := make(chan struct{})
				go func() {
					defer close(done)
					var ev Event
					for p.ReadEvent(&ev) == nil {
					}
				}()
				traced += loop()
				p.Stop()
				<-done
				p.Close()
			}
			b.StopTimer()
			calls := float64(rounds * b.N)
			b.ReportMetric(float64(untraced.Nanoseconds())/calls, "ns/untraced-call")
			b.ReportMetric(float64(traced.Nanoseconds())/calls, "ns/traced-call")
			b.ReportMetric(float64(traced)/float64(untraced), "x-untraced")
		})
	}
}
