package mysql

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkCommitParallel commits from 1 and 16 goroutines for each
// MaxInflight (0: no batching).
func BenchmarkCommitParallel(b *testing.B) {
	for _, g := range []int{1, 16} {
		for _, cc := range []int{0, 1, 2, 4, 8} {
			b.Run(fmt.Sprintf("goroutines=%d/MaxInflight=%d", g, cc), func(b *testing.B) {
				db := newDB(b, []string{recommendedTable})
				db.SetMaxOpenConns(32)
				db.SetMaxIdleConns(32)
				cfg := noCleanup()
				cfg.MaxInflight = cc
				s, err := NewWithConfig(db, cfg)
				if err != nil {
					b.Fatal(err)
				}
				benchCommit(b, s, g)
			})
		}
	}
}

var benchData = make([]byte, 300)

func benchCommit(b *testing.B, s *Store, goroutines int) {
	expiry := time.Now().Add(time.Hour)
	if goroutines == 1 {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.Commit(tokenFor("b", rand.IntN(1000)), benchData, expiry); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		return
	}
	b.SetParallelism((goroutines + 1) / 2) // GOMAXPROCS is 2 here; -cpu changes it
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Commit(tokenFor("b", rand.IntN(1000)), benchData, expiry); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
