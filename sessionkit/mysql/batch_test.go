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
			cfg := noCleanup()
			cfg.MaxInflight = 1
			s, err := NewWithConfig(db, cfg)
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

func TestTakeBounds(t *testing.T) {
	t.Parallel()
	b := newBatcher(&Store{}, lane{slots: 1, ordered: true})
	commit := func(token string, size int) *op { return &op{kind: opCommit, token: token, data: make([]byte, size)} }

	for i := 0; i < 100; i++ {
		b.queue = append(b.queue, commit(tokenFor("t", i), 10))
	}
	if batch := b.takeLocked(); len(batch) != batchMaxRows || len(b.queue) != 100-batchMaxRows {
		t.Fatalf("took %d, left %d; want %d and %d", len(batch), len(b.queue), batchMaxRows, 100-batchMaxRows)
	}
	clear(b.order.held)

	b.queue = []*op{commit("a", batchMaxBytes+1), commit("b", 1)}
	if batch := b.takeLocked(); len(batch) != 1 {
		t.Fatalf("an oversized commit was batched with %d others", len(batch)-1)
	}
	clear(b.order.held)

	b.queue = []*op{commit("a", batchMaxBytes/2), commit("b", batchMaxBytes/2), commit("c", 1)}
	if batch := b.takeLocked(); len(batch) != 2 {
		t.Fatalf("took %d commits; want 2 within %d bytes", len(batch), batchMaxBytes)
	}
	clear(b.order.held)

	// A token with a running write waits, and so do its later writes, but
	// other tokens go ahead; a Delete runs alone.
	b.order.held["busy"] = 1
	b.queue = []*op{commit("busy", 1), commit("x", 1), {kind: opDelete, token: "y"}, commit("busy", 1), commit("z", 1), commit("y", 1)}
	batch := b.takeLocked()
	if got := tokensOf(batch); got != "x z" {
		t.Fatalf("took %q; want the commits of x and z", got)
	}
	if got := tokensOf(b.queue); got != "busy y busy y" {
		t.Fatalf("left %q in the queue", got)
	}
	clear(b.order.held)
	if batch := b.takeLocked(); tokensOf(batch) != "busy busy" {
		t.Fatalf("took %q; want both commits of busy", tokensOf(batch))
	}
	if batch := b.takeLocked(); len(batch) != 1 || batch[0].kind != opDelete {
		t.Fatalf("took %q; want the Delete of y alone", tokensOf(batch))
	}
	if batch := b.takeLocked(); len(batch) != 0 {
		t.Fatalf("took %q while the Delete of y runs; want nothing", tokensOf(batch))
	}

	// Finds batch with each other, a token asked twice included.
	reads := newBatcher(&Store{}, lane{slots: 1})
	reads.queue = []*op{{kind: opFind, token: "a"}, {kind: opFind, token: "b"}, {kind: opFind, token: "a"}}
	if batch := reads.takeLocked(); len(batch) != 3 {
		t.Fatalf("took %q of three Finds; want all", tokensOf(batch))
	}
}

func tokensOf(ops []*op) string {
	var s []string
	for _, o := range ops {
		s = append(s, o.token)
	}
	return strings.Join(s, " ")
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
			writes = append(writes, &op{kind: opCommit, ctx: ctx, token: tokenFor(fmt.Sprintf("n%d-", n), i%max(n-1, 1)), data: []byte(fmt.Sprintf("%d/%d", n, i)), expiry: expiry})
		}
		s.runWrites(writes)
		for _, w := range writes {
			if w.err != nil {
				t.Fatalf("batch of %d: %v", n, w.err)
			}
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

// TestBatchedCallWithdrawnOnCancel queues a commit behind a blocked one of
// the same session and cancels it: it must never be written.
func TestBatchedCallWithdrawnOnCancel(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{recommendedTable})
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("before"), expiry); err != nil {
		t.Fatal(err)
	}
	unlock := lockRow(t, db, tokenA)
	blocked := make(chan error, 1)
	go func() { blocked <- s.Commit(tokenA, []byte("blocked"), expiry) }()
	eventually(t, 5*time.Second, "the first commit running", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return s.writes.order.held[tokenA] == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.CommitCtx(ctx, tokenA, []byte("withdrawn"), expiry); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued CommitCtx = %v; want DeadlineExceeded", err)
	}
	unlock()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "blocked")
}

// TestBatchingOffRunsEveryCallAlone checks MaxInflight 0.
func TestBatchingOffRunsEveryCallAlone(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{recommendedTable})
	cfg := noCleanup()
	cfg.MaxInflight = 0
	off, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := off.Commit(tokenFor("off", i), []byte("alone"), time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			}
			mustFind(t, off, tokenFor("off", i), "alone")
		}()
	}
	wg.Wait()
	st := off.Stats()
	if st.CommitStatements != st.CommitCalls || st.FindStatements != st.FindCalls {
		t.Fatalf("MaxInflight 0 still batches: %+v", st)
	}
	if s.reads.slots != DefaultMaxInflight {
		t.Fatal("the default store does not batch")
	}
}
