package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	sessionkit "sessionkit.dev/sessionkit/mysql"

	"sessionkit.dev/internal/mysqltest"
)

// encryptionRounds is how often BenchmarkEncryption runs every case:
// SESSIONKIT_BENCH_ENCRYPTION_ROUNDS, 3 by default.
func encryptionRounds(b *testing.B) int {
	v := os.Getenv("SESSIONKIT_BENCH_ENCRYPTION_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("SESSIONKIT_BENCH_ENCRYPTION_ROUNDS=%q: want a positive number", v)
	}
	return n
}

// encryptionStore sets up sessionkit's store on its recommended table in a
// database of its own, encrypting with key (none: not encrypting), with
// the sessions committed and the connections warm.
func encryptionStore(b *testing.B, sessions Sessions, keys ...[]byte) *sessionkit.Store {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := OpenPool(mysqltest.Config(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	cfg := sessionkit.DefaultConfig()
	cfg.CleanupInterval = 0
	cfg.HashedTokens = true
	cfg.EncryptionKeys = keys
	s, err := sessionkit.NewWithConfig(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateTable(ctx); err != nil {
		b.Fatal(err)
	}
	if err := sessions.Seed(ctx, s, goroutinesToWarm); err != nil {
		b.Fatal(err)
	}
	if err := sessions.Warm(ctx, s, goroutinesToWarm); err != nil {
		b.Fatal(err)
	}
	return s
}

// changedCommit commits a random session with data that differs from what
// is stored in its last 8 bytes, as a request that changed the session does:
// the server then rewrites the data column whether or not it is encrypted.
// (Commit rewrites the data a session holds, which the server finds
// unchanged unless the store encrypts it with a fresh nonce.)
func changedCommit(s Sessions, store *sessionkit.Store) Op {
	var n atomic.Uint64
	return func() error {
		i := mathrand.IntN(len(s.Tokens))
		data := slices.Clone(s.Data[i])
		binary.LittleEndian.PutUint64(data[len(data)-8:], n.Add(1))
		return store.Commit(s.Tokens[i], data, time.Now().Add(SessionLifetime))
	}
}

// BenchmarkEncryption measures Find and Commit of sessionkit's store on its
// recommended table without and with encryption at rest (AES-256-GCM). The
// cases are interleaved: each round runs every case once, so that a change
// in the machine's load falls on both sides of a comparison. Compare the
// two sides within a round, as a ratio.
func BenchmarkEncryption(b *testing.B) {
	sessions := NewSessions(SessionCount, SessionSize)
	key := make([]byte, sessionkit.EncryptionKeyLen)
	rand.Read(key)
	stores := []struct {
		name  string
		store *sessionkit.Store
	}{
		{"plain", encryptionStore(b, sessions)},
		{"encrypted", encryptionStore(b, sessions, key)},
	}
	ops := []struct {
		name string
		op   func(Sessions, *sessionkit.Store) Op
	}{
		{"find", func(s Sessions, st *sessionkit.Store) Op { return s.Find(st) }},
		{"commit", func(s Sessions, st *sessionkit.Store) Op { return s.Commit(st) }},
		{"commit-changed", func(s Sessions, st *sessionkit.Store) Op { return changedCommit(s, st) }},
	}
	for round := range encryptionRounds(b) {
		for _, g := range []int{1, 16} {
			for _, o := range ops {
				for _, st := range stores {
					b.Run(fmt.Sprintf("round=%d/goroutines=%d/op=%s/store=%s", round+1, g, o.name, st.name), func(b *testing.B) {
						if err := Run(b, g, o.op(sessions, st.store)); err != nil {
							b.Fatal(err)
						}
					})
				}
			}
		}
	}
	if st := stores[1].store.Stats(); st.UnreadableSessions != 0 {
		b.Fatalf("%d sessions did not decrypt", st.UnreadableSessions)
	}
}
