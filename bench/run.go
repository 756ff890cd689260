package bench

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Concurrency is the number of goroutines each operation runs with.
var Concurrency = []int{1, 16}

// Run calls op b.N times in all, from the given number of goroutines, and
// reports throughput as the "ops/s" metric and allocations per operation. It
// returns the first error an operation returned; the run stops there.
//
// With one goroutine it is a plain loop on the benchmark's goroutine, so
// "1 goroutine" means exactly one request in flight. With more, each
// goroutine takes the next operation from a shared counter until b.N are
// done, whatever GOMAXPROCS is (b.RunParallel would start a multiple of it).
func Run(b *testing.B, goroutines int, op Op) error {
	b.ReportAllocs()
	var err error
	b.ResetTimer()
	if goroutines <= 1 {
		err = runSerial(b.N, op)
	} else {
		err = runConcurrent(b.N, goroutines, op)
	}
	b.StopTimer()
	if err == nil && b.Elapsed() > 0 {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	return err
}

func runSerial(n int, op Op) error {
	for range n {
		if err := op(); err != nil {
			return err
		}
	}
	return nil
}

func runConcurrent(n, goroutines int, op Op) error {
	var (
		next     atomic.Int64
		failed   atomic.Bool
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && !failed.Load() {
				if err := op(); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
