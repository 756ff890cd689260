package mysql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestBatchedCommitsAllLand commits from many goroutines at once, several of
// them rewriting the same tokens, through a store that lets one statement
// write at a time, so that commits are batched.
func TestBatchedCommitsAllLand(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, err := NewWithConfig(db, Config{DisableCleanup: true, CommitConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 40, 25
	expiry := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				// Each writer rewrites its own token; each write must be
				// visible once Commit returns.
				token := tokenFor("w", w)
				want := fmt.Sprintf("writer %d round %d", w, r)
				if err := s.Commit(token, []byte(want), expiry); err != nil {
					errs <- err
					return
				}
				b, found, err := s.Find(token)
				if err != nil || !found || string(b) != want {
					errs <- fmt.Errorf("after Commit(%q) Find = %q, %v, %v", want, b, found, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countRows(t, db, "1=1"); n != writers {
		t.Fatalf("%d rows; want %d", n, writers)
	}
}

func TestTakeBatchBounds(t *testing.T) {
	t.Parallel()
	var q []*pendingCommit
	for i := 0; i < 100; i++ {
		q = append(q, &pendingCommit{token: tokenFor("t", i), data: make([]byte, 10)})
	}
	if b := takeBatch(&q); len(b) != batchMaxRows || len(q) != 100-batchMaxRows {
		t.Fatalf("took %d, left %d; want %d and %d", len(b), len(q), batchMaxRows, 100-batchMaxRows)
	}
	q = []*pendingCommit{{data: make([]byte, batchMaxBytes+1)}, {data: make([]byte, 1)}}
	if b := takeBatch(&q); len(b) != 1 {
		t.Fatalf("an oversized commit was batched with %d others", len(b)-1)
	}
	q = []*pendingCommit{{data: make([]byte, batchMaxBytes/2)}, {data: make([]byte, batchMaxBytes/2)}, {data: make([]byte, 1)}}
	if b := takeBatch(&q); len(b) != 2 {
		t.Fatalf("took %d commits; want 2 within %d bytes", len(b), batchMaxBytes)
	}
}

// TestBatchLastWriteWins puts two commits for one token in one batch.
func TestBatchLastWriteWins(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, err := NewWithConfig(db, Config{DisableCleanup: true, CommitConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	expiry := formatExpiry(time.Now().Add(time.Hour))
	batch := []*pendingCommit{
		{token: tokenA, data: []byte("first"), expiry: expiry},
		{token: tokenB, data: []byte("other"), expiry: expiry},
		{token: tokenA, data: []byte("last"), expiry: expiry},
	}
	if err := s.writeBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "last")
	mustFind(t, s, tokenB, "other")
}

// TestBatchedCommitWithdrawnOnCancel queues a commit behind a blocked one and
// cancels it: it must never be written.
func TestBatchedCommitWithdrawnOnCancel(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, err := NewWithConfig(db, Config{DisableCleanup: true, CommitConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenB, []byte("warm up"), expiry); err != nil {
		t.Fatal(err)
	}
	unlock := lockTable(t, db)
	blocked := make(chan error, 1)
	go func() { blocked <- s.Commit(tokenA, []byte("blocked"), expiry) }()
	eventually(t, 5*time.Second, "the first commit in flight", func() bool {
		s.batcher.mu.Lock()
		defer s.batcher.mu.Unlock()
		return s.batcher.inflight == 1 && len(s.batcher.queue) == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.CommitCtx(ctx, tokenB, []byte("withdrawn"), expiry); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued CommitCtx = %v; want DeadlineExceeded", err)
	}
	unlock()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "blocked")
	mustFind(t, s, tokenB, "warm up")
}
