package mysql

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
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

// BenchmarkCommitUser commits anonymous sessions and sessions bound to a
// user to one table with the user columns, from 1 and 16 goroutines, each
// call in a request's context (an address and a browser's user agent) as
// sessionkit's middleware makes it. The data are scs's encoding of the same
// number of values and bytes: a CSRF token, a flash message and, for the
// bound sessions, the user's ID (for the anonymous ones a value of the same
// length under another key of the same length). The sessions exist before
// the timer starts, so that every commit updates a row: with expiry=fixed
// each commit writes what is stored (the server changes nothing), with
// expiry=moving each moves the session's expiry, as scs's IdleTimeout does
// on every request.
func BenchmarkCommitUser(b *testing.B) {
	db := newDB(b, []string{usersTable})
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	s, err := NewWithConfig(db, noCleanup())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	info := &Request{IP: "203.0.113.7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"}
	fixed := time.Now().Add(time.Hour)
	for _, moving := range []bool{false, true} {
		for _, g := range []int{1, 16} {
			for _, kind := range []string{"anonymous", "bound"} {
				sessions := benchUserSessions(b, kind, 1000, fixed)
				for token, data := range sessions {
					if err := s.CommitCtx(WithRequest(context.Background(), info), token, data, fixed); err != nil {
						b.Fatal(err)
					}
				}
				tokens := slices.Sorted(maps.Keys(sessions))
				name := fmt.Sprintf("expiry=fixed/%s/goroutines=%d", kind, g)
				if moving {
					name = fmt.Sprintf("expiry=moving/%s/goroutines=%d", kind, g)
				}
				b.Run(name, func(b *testing.B) {
					commit := func() error {
						token := tokens[rand.IntN(len(tokens))]
						expiry := fixed
						if moving {
							expiry = time.Now().Add(time.Hour)
						}
						return s.CommitCtx(WithRequest(context.Background(), info), token, sessions[token], expiry)
					}
					b.ReportAllocs()
					if g == 1 {
						for i := 0; i < b.N; i++ {
							if err := commit(); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						b.SetParallelism((g + 1) / 2)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := commit(); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
				})
			}
		}
	}
}

// benchUserSessions returns n sessions of a kind ("anonymous" or "bound")
// by token, encoded as scs encodes them.
func benchUserSessions(b *testing.B, kind string, n int, deadline time.Time) map[string][]byte {
	b.Helper()
	key := strings.Repeat("x", len(UserKey))
	if kind == "bound" {
		key = UserKey
	}
	sessions := make(map[string][]byte, n)
	for i := range n {
		data, err := scs.GobCodec{}.Encode(deadline, map[string]any{
			"csrf_token": fmt.Sprintf("%043d", rand.Int64()),
			"flash":      "Your changes have been saved. " + strings.Repeat(".", 100),
			key:          fmt.Sprintf("user-%08d", i),
		})
		if err != nil {
			b.Fatal(err)
		}
		sessions[tokenFor(kind[:4], i)] = data
	}
	return sessions
}

// BenchmarkMergedSave measures a request's save of a session it found,
// with a Merge given (as sessionkit's middleware gives one): "none" when no
// other request saved the session since it was read (the common case: one
// UPDATE), "conflict" when another did, so that the store reads the row,
// merges and writes again. Each op is one Find and one save of the
// measured request; in "conflict" the other request's save is made, untimed,
// between the two.
func BenchmarkMergedSave(b *testing.B) {
	for _, conflict := range []bool{false, true} {
		b.Run(map[bool]string{false: "none", true: "conflict"}[conflict], func(b *testing.B) {
			s, _ := newStore(b, []string{recommendedTable})
			b.Cleanup(func() { s.Close() })
			expiry := time.Now().Add(time.Hour)
			token := tokenFor("merge-bench", 0)
			if err := s.Commit(token, benchData, expiry); err != nil {
				b.Fatal(err)
			}
			merge := func(stored []byte) ([]byte, string, error) {
				return append(stored[:len(stored):len(stored)], 'm'), "", nil
			}
			n := 0
			for b.Loop() {
				n++
				ctx := WithRequest(context.Background(), nil)
				read, _, err := s.FindCtx(ctx, token)
				if err != nil {
					b.Fatal(err)
				}
				if conflict {
					b.StopTimer()
					if err := s.Commit(token, append(read[:len(read):len(read)], 'o'), expiry); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				ctx.Value(requestKey{}).(*Request).Saving(Save{Changed: true, Merge: merge})
				if err := s.CommitCtx(ctx, token, append(read[:len(read):len(read)], 'r'), expiry); err != nil {
					b.Fatal(err)
				}
				if n%100 == 0 { // keep the session small
					b.StopTimer()
					if err := s.Commit(token, benchData, expiry); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}
