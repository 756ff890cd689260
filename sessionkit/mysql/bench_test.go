package mysql

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkCommitParallel commits from 16 goroutines for each
// CommitConcurrency (0: no batching).
func BenchmarkCommitParallel(b *testing.B) {
	for _, cc := range []int{0, 1, 2, 4, 8} {
		b.Run(fmt.Sprintf("CommitConcurrency=%d", cc), func(b *testing.B) {
			db := newDB(b, []string{recommendedTable})
			db.SetMaxOpenConns(32)
			db.SetMaxIdleConns(32)
			s, err := NewWithConfig(db, Config{DisableCleanup: true, CommitConcurrency: cc})
			if err != nil {
				b.Fatal(err)
			}
			benchCommit(b, s, 16)
		})
	}
}

var benchData = make([]byte, 300)

func benchCommit(b *testing.B, s *Store, goroutines int) {
	b.SetParallelism((goroutines + 1) / 2) // GOMAXPROCS is 2 here; -cpu changes it
	expiry := time.Now().Add(time.Hour)
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
