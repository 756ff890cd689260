package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	sessionkit "sessionkit.dev/sessionkit/mysql"
)

// BenchmarkRequestCommit measures a request's store work as the kit's
// middleware does it: Find a random session, then Commit it with changed
// data, in a request's context (mysql.WithRequest). "update" is how a
// session the request found is written since revocation holds: an UPDATE
// that never re-inserts a deleted session. "upsert" is how it was written
// before, and how a new session still is: the same calls, with the Commit
// in a request context that did not find the session. Rounds interleave,
// as in BenchmarkEncryption (SESSIONKIT_BENCH_ENCRYPTION_ROUNDS rounds).
func BenchmarkRequestCommit(b *testing.B) {
	sessions := NewSessions(SessionCount, SessionSize)
	store := encryptionStore(b, sessions)
	for round := range encryptionRounds(b) {
		for _, g := range Concurrency {
			for _, mode := range []string{"upsert", "update", "merging"} {
				b.Run(fmt.Sprintf("round=%d/goroutines=%d/write=%s", round, g, mode), func(b *testing.B) {
					if err := Run(b, g, requestCommit(sessions, store, mode)); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

// requestCommit returns an Op that finds a random session and commits it
// with data changed in its last 8 bytes: in one request's context for
// "update", and also with the Save a kit gives (a Merge, so that the UPDATE
// holds only over the data read) for "merging"; with the Commit in a
// context of its own for "upsert".
func requestCommit(s Sessions, store *sessionkit.Store, mode string) Op {
	update := mode != "upsert"
	var n atomic.Uint64
	return func() error {
		i := mathrand.IntN(len(s.Tokens))
		req := &sessionkit.Request{}
		ctx := sessionkit.WithRequest(context.Background(), req)
		if _, found, err := store.FindCtx(ctx, s.Tokens[i]); err != nil || !found {
			return fmt.Errorf("find %s: found %v, %v", s.Tokens[i], found, err)
		}
		if !update {
			ctx = sessionkit.WithRequest(context.Background(), &sessionkit.Request{})
		}
		if mode == "merging" {
			req.Saving(sessionkit.Save{Changed: true, Merge: func(b []byte) ([]byte, string, error) { return b, "", nil }})
		}
		data := slices.Clone(s.Data[i])
		binary.LittleEndian.PutUint64(data[len(data)-8:], n.Add(1))
		if err := store.CommitCtx(ctx, s.Tokens[i], data, time.Now().Add(SessionLifetime)); err != nil {
			return err
		}
		if update && sessionkit.SessionEnded(ctx) {
			return fmt.Errorf("commit %s: session ended", s.Tokens[i])
		}
		return nil
	}
}
