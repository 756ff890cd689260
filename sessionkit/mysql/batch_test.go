package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBatchedCallsAllLand commits and finds from many goroutines at once
// through a store that runs one statement of each kind at a time, so that
// calls are batched; every Commit must be visible to the Find after it.
func TestBatchedCallsAllLand(t *testing.T) {
	t.Parallel()
	for _, def := range tableDefinitions {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, def.ddl)
			s, err := NewWithConfig(db, Config{DisableCleanup: true, MaxInflight: 1})
			if err != nil {
				t.Fatal(err)
			}
			const writers, rounds = 40, 25
			expiry := time.Now().Add(time.Hour)
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					token := tokenFor("w", w)
					for r := 0; r < rounds; r++ {
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
						// A token that differs by letter case is never found,
						// also in a batch.
						if _, found, err := s.Find(strings.ToUpper(token)); err != nil || found {
							errs <- fmt.Errorf("Find of the upper-case token: found %v, err %v", found, err)
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
		})
	}
}

func TestTakeBatchBounds(t *testing.T) {
	t.Parallel()
	var q []*op
	for i := 0; i < 100; i++ {
		q = append(q, &op{token: tokenFor("t", i), data: make([]byte, 10)})
	}
	if b := takeBatch(&q); len(b) != batchMaxRows || len(q) != 100-batchMaxRows {
		t.Fatalf("took %d, left %d; want %d and %d", len(b), len(q), batchMaxRows, 100-batchMaxRows)
	}
	q = []*op{{data: make([]byte, batchMaxBytes+1)}, {data: make([]byte, 1)}}
	if b := takeBatch(&q); len(b) != 1 {
		t.Fatalf("an oversized commit was batched with %d others", len(b)-1)
	}
	q = []*op{{data: make([]byte, batchMaxBytes/2)}, {data: make([]byte, batchMaxBytes/2)}, {data: make([]byte, 1)}}
	if b := takeBatch(&q); len(b) != 2 {
		t.Fatalf("took %d commits; want 2 within %d bytes", len(b), batchMaxBytes)
	}
}

// TestBatchesOfEverySize writes and reads batches of every size up to the
// largest, with repeated tokens, through the statements directly.
func TestBatchesOfEverySize(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, []string{scsREADMETable})
	ctx := context.Background()
	expiry := formatExpiry(time.Now().Add(time.Hour))
	for n := 1; n <= batchMaxRows; n++ {
		var writes []*op
		for i := 0; i < n; i++ {
			writes = append(writes, &op{token: tokenFor(fmt.Sprintf("n%d-", n), i%max(n-1, 1)), data: []byte(fmt.Sprintf("%d/%d", n, i)), expiry: expiry})
		}
		if err := s.writeBatch(ctx, writes); err != nil {
			t.Fatalf("batch of %d: %v", n, err)
		}
		reads := []*op{{token: "missing"}, {token: strings.ToLower(writes[0].token) + " "}}
		for _, w := range writes {
			reads = append(reads, &op{token: w.token})
		}
		reads = reads[:min(len(reads), batchMaxRows)]
		if err := s.readBatch(ctx, reads); err != nil {
			t.Fatalf("read batch of %d: %v", len(reads), err)
		}
		if reads[0].found || reads[1].found {
			t.Fatalf("batch of %d found a missing or inexact token", n)
		}
		for _, r := range reads[2:] {
			// The last write for a token wins.
			var want string
			for _, w := range writes {
				if w.token == r.token {
					want = string(w.data)
				}
			}
			if !r.found || string(r.data) != want {
				t.Fatalf("batch of %d: %s = %q, %v; want %q", n, r.token, r.data, r.found, want)
			}
		}
	}
}

// TestBatchedCallWithdrawnOnCancel queues a commit behind a blocked one and
// cancels it: it must never be written.
func TestBatchedCallWithdrawnOnCancel(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, err := NewWithConfig(db, Config{DisableCleanup: true, MaxInflight: 1})
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
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return s.writes.inflight == 1 && len(s.writes.queue) == 0
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

// TestBatchingOffRunsEveryCallAlone checks MaxInflight < 0.
func TestBatchingOffRunsEveryCallAlone(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, []string{recommendedTable})
	off, err := NewWithConfig(s.db, Config{DisableCleanup: true, MaxInflight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if off.reads != nil || off.writes != nil {
		t.Fatal("MaxInflight -1 still batches")
	}
	if err := off.Commit(tokenA, []byte("alone"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, off, tokenA, "alone")
	if s.reads == nil || s.reads.maxInflight != DefaultMaxInflight {
		t.Fatal("the default store does not batch")
	}
}
