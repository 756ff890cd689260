package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestReplicasKeepEveryVisitAndTakeTurnsCleaning runs three chi replicas on
// one database behind a round-robin client: each session sends its requests
// one after another, every request to the next replica, and the sessions run
// in parallel. Every visit counter must end exactly at its number of
// requests, each step showing the next value, so no commit is lost when
// requests move between replicas.
//
// Meanwhile expired sessions are seeded in waves and the replicas clean up
// every 200ms, 50 rows a statement, so that passes take a while and meet.
// Their debug logs (start and end of each pass) must show passes that never
// overlap, and /debug/vars passes skipped for another replica's lock, no
// errors, and as many rows deleted as were seeded.
func TestReplicasKeepEveryVisitAndTakeTurnsCleaning(t *testing.T) {
	t.Parallel()
	sc := scale(t)
	dsn := mysqltest.DSN(t)
	db := mysqltest.Open(t, dsn)
	env := []string{
		"SESSION_CLEANUP_INTERVAL=200ms", "SESSION_CLEANUP_BATCH=50",
		"SESSION_DB_MAX_OPEN_CONNS=16", "LOG_LEVEL=debug", "DEBUG_VARS=true",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// A backlog of expired sessions before the replicas start, so that the
	// first passes take a while, then waves of them every 300ms while the
	// load runs, at least six waves.
	backlog := 5000
	if sc.sessions >= 1000 {
		backlog = 20000
	}
	if err := seedExpiredBulk(ctx, db, backlog); err != nil {
		t.Fatal(err)
	}
	seeded := backlog

	chi := exampleNamed("chi")
	var procs []*process
	for range 3 {
		procs = append(procs, startExample(t, chi, dsn, env...))
	}
	lb := newBalancer(procs...)

	const wave = 500
	loadDone := make(chan struct{})
	seedErr := make(chan error, 1)
	var waves int
	go func() {
		defer close(seedErr)
		for {
			time.Sleep(300 * time.Millisecond)
			select {
			case <-loadDone:
				if waves >= 6 {
					return
				}
			default:
			}
			if err := seedExpired(ctx, db, wave); err != nil {
				seedErr <- err
				return
			}
			waves++
		}
	}()

	// The load: sc.sessions sessions of sc.requests/sc.sessions requests,
	// 32 sessions at a time.
	tr := newLoadTransport(t)
	perSession := sc.requests / sc.sessions
	users := make([]*user, sc.sessions)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range min(32, sc.sessions) {
		wg.Go(func() {
			for s := range next {
				u := newUser(tr)
				users[s] = u
				for k := range perSession {
					// Round robin per session: every request goes to the
					// replica after the one that served the last.
					v := u.get(ctx, lb, lb.pickAt(uint64(s+k)))
					if v.err != nil || v.status != http.StatusOK {
						break
					}
				}
			}
		})
	}
	for s := range users {
		next <- s
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	close(loadDone)
	if err := <-seedErr; err != nil {
		t.Fatal(err)
	}
	seeded += waves * wave

	var tokens []string
	for s, u := range users {
		for _, v := range u.log {
			if v.err != nil || v.status != http.StatusOK {
				t.Fatalf("session %d: GET / on replica %d: status %d, err %v; body %q", s, v.replica, v.status, v.err, v.body)
			}
		}
		if _, err := u.checkCounters(func(visit) bool { return false }); err != nil {
			t.Fatalf("session %d: %v", s, err)
		}
		if u.last != perSession {
			t.Fatalf("session %d: counter ends at %d, want %d", s, u.last, perSession)
		}
		tokens = append(tokens, u.token(procs[0].URL))
	}
	if n, err := countStored(ctx, db, tokens); err != nil || n != sc.sessions {
		t.Fatalf("%d of the %d sessions in the table (%v)", n, sc.sessions, err)
	}
	t.Logf("%d requests over %d sessions on 3 replicas in %v (%.0f req/s)",
		sc.sessions*perSession, sc.sessions, elapsed.Round(time.Millisecond),
		float64(sc.sessions*perSession)/elapsed.Seconds())

	// Cleanup: the backlog goes, and each seeded row was deleted once.
	var stats []debugVars
	eventually(t, 60*time.Second, func() error {
		stats = stats[:0]
		var deleted int64
		for _, p := range procs {
			v, err := readVars(p.URL)
			if err != nil {
				return err
			}
			stats = append(stats, v)
			deleted += v.Sessionkit.RowsDeleted
		}
		if deleted < int64(seeded) {
			return fmt.Errorf("%d of %d expired sessions deleted", deleted, seeded)
		}
		return nil
	})
	var deleted, passes, skipped, errors int64
	replicasWithPasses := 0
	for i, v := range stats {
		s := v.Sessionkit
		t.Logf("replica %d: passes %d, skipped %d, errors %d, rows_deleted %d, statements %d, last pass %.3fs",
			i, s.Passes, s.Skipped, s.Errors, s.RowsDeleted, s.Statements, s.LastDurationSeconds)
		if s.Errors != 0 {
			t.Errorf("replica %d: %d failed cleanup passes, last error %q", i, s.Errors, s.LastError)
		}
		deleted += s.RowsDeleted
		passes += s.Passes
		skipped += s.Skipped
		errors += s.Errors
		if s.Passes > 0 {
			replicasWithPasses++
		}
	}
	if deleted != int64(seeded) {
		t.Errorf("the replicas deleted %d rows, want the %d seeded", deleted, seeded)
	}
	if skipped == 0 {
		t.Errorf("no pass was skipped for another replica's lock in %d passes", passes)
	}
	if replicasWithPasses < 2 {
		t.Errorf("only %d replica ran cleanup passes; the test needs two to see them take turns", replicasWithPasses)
	}

	// No two passes overlap: each starts after the one before it ended.
	var all []cleanupPass
	for i, p := range procs {
		all = append(all, cleanupPasses(i, p.stderr.String())...)
	}
	slices.SortFunc(all, func(a, b cleanupPass) int { return a.start.Compare(b.start) })
	var longest time.Duration
	withRows := 0
	for i, pass := range all {
		longest = max(longest, pass.end.Sub(pass.start))
		if pass.deleted > 0 {
			withRows++
		}
		if i > 0 && pass.start.Before(all[i-1].end) {
			t.Errorf("cleanup pass on replica %d from %s overlaps the pass on replica %d until %s",
				pass.replica, pass.start.Format(time.StampMicro), all[i-1].replica, all[i-1].end.Format(time.StampMicro))
		}
	}
	if int64(len(all)) < passes-errors {
		t.Errorf("%d cleanup passes logged, /debug/vars counted %d before", len(all), passes-errors)
	}
	t.Logf("%d expired sessions seeded (%d, then %d waves of %d); %d passes (%d deleting rows, longest %v), %d skipped, none overlapping",
		seeded, backlog, waves, wave, len(all), withRows, longest.Round(time.Millisecond), skipped)

	for _, p := range procs {
		checkNoPanic(t, p)
	}
}
