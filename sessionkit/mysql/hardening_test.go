package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestLockedRowHoldsUpNoOtherSession holds a row lock on one session while
// 12 commits of it wait, with the drop-in defaults: commits and finds of
// other sessions must each finish in well under 250ms.
func TestLockedRowHoldsUpNoOtherSession(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{recommendedTable})
	expiry := time.Now().Add(time.Hour)
	for _, tok := range []string{tokenA, tokenB} {
		if err := s.Commit(tok, []byte("before"), expiry); err != nil {
			t.Fatal(err)
		}
	}
	unlock := lockRow(t, db, tokenA)
	const waiting = 12
	results := make(chan error, waiting)
	for i := 0; i < waiting; i++ {
		go func() { results <- s.Commit(tokenA, []byte(fmt.Sprint("locked ", i)), expiry) }()
	}
	eventually(t, 5*time.Second, "12 commits waiting on the locked row", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return s.writes.order.held[tokenA] > 0 && s.writes.order.held[tokenA]+len(s.writes.queue) == waiting
	})
	time.Sleep(2 * slowStatement) // the running one is now slow: the worst case for the others

	var slowest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := tokenFor("other", i)
			for r := 0; r < 5; r++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				begin := time.Now()
				err := s.CommitCtx(ctx, token, []byte("free"), expiry)
				if err == nil {
					_, _, err = s.FindCtx(ctx, token)
				}
				d := time.Since(begin)
				cancel()
				if err != nil {
					t.Errorf("session %d: %v after %v", i, err, d)
					return
				}
				mu.Lock()
				slowest = max(slowest, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("slowest commit+find of another session: %v", slowest)
	if slowest > 250*time.Millisecond {
		t.Errorf("a commit and find of another session took %v while a row was locked", slowest)
	}
	mustFind(t, s, tokenB, "before")

	// Each commit of the locked session waits for the lock one at a time,
	// at most a second each (the server's bound on a write): those whose
	// turn came while the lock was held fail with a lock error, the others
	// succeed once it is released.
	unlock()
	succeeded := 0
	for i := 0; i < waiting; i++ {
		err := <-results
		switch {
		case err == nil:
			succeeded++
		case !isLockError(err):
			t.Errorf("commit of the locked session: %v; want success or a lock wait error", err)
		}
	}
	if succeeded == 0 {
		t.Error("no commit of the locked session succeeded after the lock was released")
	}
}

// TestStatementsStayWithinByteCap commits batches whose padding would
// multiply the bytes sent, and measures what the server received.
func TestStatementsStayWithinByteCap(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{recommendedTable})
	db.SetMaxOpenConns(1) // every statement on one connection, whose counter we read
	ctx := context.Background()
	received := func() int {
		var name string
		var n int
		if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Bytes_received'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	expiry := formatExpiry(time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		// 33 sessions, the last large: padding to 64 with it would send 28 MB.
		{"large last row", append(repeat(32, 1<<10), 900<<10)},
		// 33 equal rows that fit the cap, but not padded to 64.
		{"padding over the cap", repeat(33, 31<<10)},
	} {
		var ops []*op
		total, largest := 0, 0
		for i, size := range tc.sizes {
			ops = append(ops, &op{kind: opCommit, ctx: ctx, token: tokenFor(tc.name[:5], i), data: bytes.Repeat([]byte{'x'}, size), expiry: expiry})
			total += size
			largest = max(largest, size)
		}
		if total > batchMaxBytes {
			t.Fatalf("%s: the test's batch is over the cap", tc.name)
		}
		s.runWrites(ops) // prepares on first use
		before := received()
		s.runWrites(ops)
		got := received() - before
		for _, o := range ops {
			if o.err != nil {
				t.Fatalf("%s: %v", tc.name, o.err)
			}
		}
		const overhead = 64 << 10 // the statement's other arguments and framing
		t.Logf("%s: %d bytes of data, the server received %d", tc.name, total, got)
		if got > batchMaxBytes+largest+overhead {
			t.Errorf("%s: the server received %d bytes for %d bytes of data; want at most the cap plus one row", tc.name, got, total)
		}
	}
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// TestBatchEndsWhenItsCallersHaveGone runs a batch of commits that waits on a
// locked row, with the drop-in defaults (no QueryTimeout) and one slot: once
// every caller has gone, its slot is free at once, and its goroutine and
// statement end within the server's bound on writes, with the lock still
// held.
func TestBatchEndsWhenItsCallersHaveGone(t *testing.T) {
	t.Parallel()
	skipAsMySQL(t, "writes are not batched on MySQL (TestMySQL84WritesOneByOne)")
	db := newDB(t, []string{recommendedTable})
	cfg := noCleanup()
	cfg.MaxInflight = 1
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("before"), expiry); err != nil {
		t.Fatal(err)
	}
	unlock := lockRow(t, db, tokenA)
	defer unlock()

	// Take the only slot, so that the three commits queue and then run as
	// one batch when it is given back.
	s.writes.mu.Lock()
	s.writes.inflight++
	s.writes.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := tokenA
			if i > 0 {
				token = tokenFor("with-a", i)
			}
			if err := s.CommitCtx(ctx, token, []byte("x"), expiry); err == nil {
				t.Errorf("commit %d succeeded in a batch with a locked row", i)
			}
		}()
	}
	eventually(t, 5*time.Second, "three commits queued", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return len(s.writes.queue) == 3
	})
	s.writes.mu.Lock()
	s.writes.releaseLocked()
	s.writes.mu.Unlock()
	eventually(t, 5*time.Second, "one batch of three running", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return len(s.writes.order.held) == 3
	})
	wg.Wait()
	gone := time.Now()
	if err := s.Commit(tokenB, []byte("free"), expiry); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(gone); d > 250*time.Millisecond {
		t.Errorf("a commit of another session took %v after the locked batch's callers had gone", d)
	}
	eventually(t, writeLockBound+2*time.Second, "the locked statement ended", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return len(s.writes.order.held) == 0
	})
	t.Logf("the locked statement ended %v after its callers had gone", time.Since(gone))
	mustFind(t, s, tokenA, "before")
}

// TestBatchingHappens checks that concurrent calls share statements: by the
// store's counters, and by the server's, on a pool of one connection whose
// session counters see every statement (a regression to a statement per
// call fails it).
func TestBatchingHappens(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	db.SetMaxOpenConns(1)
	cfg := noCleanup()
	cfg.MaxInflight = 1
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	status := func() (executed, written int) {
		rows, err := db.Query("SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_execute', 'Handler_write')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			if name == "Com_stmt_execute" {
				executed = n
			} else {
				written = n
			}
		}
		return executed, written
	}
	execBefore, writeBefore := status()
	expiry := time.Now().Add(time.Hour)
	const writers, rounds = 32, 20
	// All commits at once, then all finds at once: calls of one kind that
	// arrive while the one slot is taken must share statements.
	for _, phase := range []func(token string) error{
		func(token string) error { return s.Commit(token, []byte("x"), expiry) },
		func(token string) error { _, _, err := s.Find(token); return err },
	} {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					if err := phase(tokenFor(fmt.Sprintf("b%d-", w), r)); err != nil { // a new row each time
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	execAfter, writeAfter := status()
	st := s.Stats()
	calls := writers * rounds
	t.Logf("%d commits in %d statements, %d finds in %d statements; the server executed %d statements and wrote %d rows",
		st.CommitCalls, st.CommitStatements, st.FindCalls, st.FindStatements, execAfter-execBefore, writeAfter-writeBefore)
	if st.CommitCalls != int64(calls) || st.FindCalls != int64(calls) {
		t.Fatalf("counted %d commits and %d finds; want %d each", st.CommitCalls, st.FindCalls, calls)
	}
	// Each kind at most half as many statements as calls; on MySQL, where
	// writes are not batched, the finds only.
	batchedCommits, maxExecuted := true, calls
	if mysqltest.AsMySQL() {
		batchedCommits, maxExecuted = false, calls+calls/2
	}
	if (batchedCommits && st.CommitStatements*2 > st.CommitCalls) || st.FindStatements*2 > st.FindCalls {
		t.Errorf("calls were not batched: %+v", st)
	}
	if writeAfter-writeBefore < calls {
		t.Errorf("the server wrote %d rows; want %d", writeAfter-writeBefore, calls)
	}
	if executed := execAfter - execBefore; executed > maxExecuted {
		t.Errorf("the server executed %d statements for %d calls: no multi-row statements", executed, 2*calls)
	}
}

// TestCallerLeavesWhileItsBatchRuns runs one statement for three sessions,
// one of them locked elsewhere and one whose caller leaves while it runs:
// the free session is written, the one that left is not, and the locked one
// fails alone.
func TestCallerLeavesWhileItsBatchRuns(t *testing.T) {
	t.Parallel()
	skipAsMySQL(t, "writes are not batched on MySQL (TestMySQL84WritesOneByOne)")
	s, db := newStore(t, []string{recommendedTable})
	expiry := formatExpiry(time.Now().Add(time.Hour))
	if err := s.Commit(tokenA, []byte("before"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	unlock := lockRow(t, db, tokenA)
	defer unlock()
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	long, cancelLong := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLong()
	locked, cancelLocked := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancelLocked()
	ops := []*op{
		{kind: opCommit, ctx: locked, token: tokenA, data: []byte("locked"), expiry: expiry},
		{kind: opCommit, ctx: short, token: tokenFor("leaves", 0), data: []byte("left"), expiry: expiry},
		{kind: opCommit, ctx: long, token: tokenFor("stays", 0), data: []byte("stayed"), expiry: expiry},
	}
	s.runWrites(ops)
	if !errors.Is(ops[1].err, context.DeadlineExceeded) {
		t.Errorf("the caller that left got %v; want DeadlineExceeded", ops[1].err)
	}
	if ops[2].err != nil {
		t.Errorf("the session in the batch with a locked one: %v", ops[2].err)
	}
	if ops[0].err == nil {
		t.Error("the locked session was written")
	}
	mustFind(t, s, tokenFor("stays", 0), "stayed")
	mustNotFind(t, s, tokenFor("leaves", 0))
	if st := s.Stats(); st.SplitBatches == 0 {
		t.Error("the batch was not split")
	}
}

// TestOneRefusedRowFailsOnlyItsCall narrows the data column so that one
// session of a batch is refused: only that call fails, with ErrTooLarge, in
// strict mode and under sql_mode=” (where only the store's strict mode
// per statement, SET STATEMENT or MySQL's SET_VAR hint, keeps the server
// from truncating the row).
func TestOneRefusedRowFailsOnlyItsCall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ server, mode string }{
		{servers[0].name, "strict"}, {servers[0].name, "sql_mode=''"}, {servers[1].name, "sql_mode=''"},
	} {
		t.Run(tc.server+"/"+tc.mode, func(t *testing.T) {
			t.Parallel()
			var opts []mysqltest.Option
			if tc.mode != "strict" {
				opts = append(opts, mysqltest.Param("sql_mode", "''"))
			}
			if tc.server == servers[1].name {
				opts = append(opts, servers[1].opts...)
			}
			s, db := newStore(t, []string{recommendedTable}, opts...)
			ctx := context.Background()
			big := bytes.Repeat([]byte{0xA5}, 100<<10)
			if err := s.Commit(tokenA, big, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err) // the MEDIUMBLOB holds it; the store now trusts that capacity
			}
			if _, err := db.Exec("ALTER TABLE sessions MODIFY data BLOB NOT NULL"); err == nil {
				// A 100 KiB row no longer fits: the ALTER worked only in
				// the non-strict mode, truncating it; start from a fresh row.
				db.Exec("DELETE FROM sessions")
			} else if _, err := db.Exec("DELETE FROM sessions"); err != nil {
				t.Fatal(err)
			} else if _, err := db.Exec("ALTER TABLE sessions MODIFY data BLOB NOT NULL"); err != nil {
				t.Fatal(err)
			}
			expiry := formatExpiry(time.Now().Add(time.Hour))
			ops := []*op{
				{kind: opCommit, ctx: ctx, token: tokenA, data: []byte("small a"), expiry: expiry},
				{kind: opCommit, ctx: ctx, token: tokenB, data: big, expiry: expiry},
				{kind: opCommit, ctx: ctx, token: tokenFor("c", 0), data: []byte("small c"), expiry: expiry},
			}
			s.runWrites(ops)
			if !errors.Is(ops[1].err, ErrTooLarge) {
				t.Fatalf("the oversized row: %v; want ErrTooLarge", ops[1].err)
			}
			if ops[0].err != nil || ops[2].err != nil {
				t.Fatalf("the rows that fit: %v, %v", ops[0].err, ops[2].err)
			}
			mustFind(t, s, tokenA, "small a")
			mustFind(t, s, tokenFor("c", 0), "small c")
			mustNotFind(t, s, tokenB)

			// Through Commit: refused before anything is written, naming the
			// new capacity, and the stored session is left as it was.
			err := s.Commit(tokenA, big, time.Now().Add(time.Hour))
			if !errors.Is(err, ErrTooLarge) || !bytes.Contains([]byte(err.Error()), []byte("65535")) {
				t.Fatalf("Commit of 100 KiB into a BLOB: %v; want ErrTooLarge naming 65535", err)
			}
			mustFind(t, s, tokenA, "small a")
		})
	}
}

// TestDeleteIsNotUndoneByAnEarlierCommit makes a commit fail for its caller
// while its statement waits on a locked row, then deletes the session: the
// delete must not run before that statement has ended, so that the
// session does not come back when the lock is released.
func TestDeleteIsNotUndoneByAnEarlierCommit(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{recommendedTable})
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("logged in"), expiry); err != nil {
		t.Fatal(err)
	}
	unlock := lockRow(t, db, tokenA)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.CommitCtx(ctx, tokenA, []byte("late write"), expiry); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CommitCtx on a locked row = %v; want DeadlineExceeded", err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- s.Delete(tokenA) }()
	time.AfterFunc(300*time.Millisecond, unlock)
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenA)
	eventually(t, 5*time.Second, "no statement running", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return len(s.writes.order.held) == 0
	})
	mustNotFind(t, s, tokenA)
}

// TestCloseStopsEverything closes a store from many goroutines at once, with
// a call queued: Close waits for the store's goroutines, later calls fail
// with ErrClosed, and goleak (in TestMain) finds nothing left.
func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s := New(db)
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("x"), expiry); err != nil {
		t.Fatal(err)
	}
	unlock := lockRow(t, db, tokenA)
	defer unlock()
	queued := make(chan error, 2)
	go func() { queued <- s.Commit(tokenA, []byte("running"), expiry) }()
	go func() {
		eventually(t, 5*time.Second, "a commit running", func() bool {
			s.writes.mu.Lock()
			defer s.writes.mu.Unlock()
			return s.writes.order.held[tokenA] == 1
		})
		queued <- s.Commit(tokenA, []byte("queued"), expiry)
	}()
	eventually(t, 5*time.Second, "a commit queued", func() bool {
		s.writes.mu.Lock()
		defer s.writes.mu.Unlock()
		return len(s.writes.queue) == 1
	})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.Close() }()
	}
	wg.Wait()
	for i := 0; i < 2; i++ {
		if err := <-queued; err == nil {
			t.Error("a commit running or queued at Close succeeded")
		}
	}
	if _, _, err := s.Find(tokenA); !errors.Is(err, ErrClosed) {
		t.Errorf("Find after Close = %v; want ErrClosed", err)
	}
	if err := s.Commit(tokenA, nil, expiry); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v; want ErrClosed", err)
	}
	if err := s.Delete(tokenA); !errors.Is(err, ErrClosed) {
		t.Errorf("Delete after Close = %v; want ErrClosed", err)
	}
	s.StopCleanup()
	s.Close()
}
