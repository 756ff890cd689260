package bench

import (
	"fmt"
	"testing"

	"github.com/alexedwards/scs/v2"
)

// BenchmarkFind finds random existing sessions, store by store, at each
// concurrency; run it with -benchmem. Within one concurrency the stores run
// back to back.
func BenchmarkFind(b *testing.B) { benchmarkStores(b, Sessions.Find) }

// BenchmarkCommit rewrites random existing sessions, store by store, at each
// concurrency.
func BenchmarkCommit(b *testing.B) { benchmarkStores(b, Sessions.Commit) }

func benchmarkStores(b *testing.B, op func(Sessions, scs.Store) Op) {
	sessions := NewSessions(SessionCount, SessionSize)
	targets := newTargets(b, sessions)
	for _, g := range Concurrency {
		for _, t := range targets {
			b.Run(fmt.Sprintf("goroutines=%d/store=%s", g, t.Name), func(b *testing.B) {
				if err := Run(b, g, op(sessions, t.Store)); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
