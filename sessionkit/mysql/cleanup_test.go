package mysql

import (
	"context"
	"database/sql"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newCleanupStore returns a store whose cleanup is not started, so that a
// test can set hooks first and then call startCleanup.
func newCleanupStore(t *testing.T, db *sql.DB, set func(*Config)) *Store {
	t.Helper()
	cfg := noCleanup()
	if set != nil {
		set(&cfg)
	}
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.cleanup.firstDelay = func(time.Duration) time.Duration { return 0 }
	t.Cleanup(s.StopCleanup)
	return s
}

func TestDeleteExpiredRemovesInBatches(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 2500, -time.Minute)
	insertRows(t, db, "live", 10, time.Hour)
	s := newCleanupStore(t, db, nil)

	var batches, progress []int64
	s.cleanup.onBatch = func(n int64) { batches = append(batches, n) }
	n, err := s.DeleteExpired(context.Background(), func(deleted int64) { progress = append(progress, deleted) })
	if err != nil || n != 2500 {
		t.Fatalf("DeleteExpired = %d, %v; want 2500, nil", n, err)
	}
	var sum int64
	for i, b := range batches {
		sum += b
		if i >= len(progress) || progress[i] != sum {
			t.Fatalf("progress %v for batches %v; want the running total after each", progress, batches)
		}
	}
	if n, err := s.DeleteExpired(context.Background(), nil); n != 0 || err != nil {
		t.Fatalf("DeleteExpired with a nil progress = %d, %v; want 0, nil", n, err)
	}
	// At most CleanupBatchSize (1000 by default) rows a statement; fewer
	// when the server was slow to delete the last batch (see pacing).
	if batches[0] != 1000 {
		t.Fatalf("rows per statement = %v; want the first of 1000", batches)
	}
	for _, b := range batches {
		if b > 1000 {
			t.Fatalf("rows per statement = %v; want at most 1000", batches)
		}
	}
	if left := countRows(t, db, "expiry <= UTC_TIMESTAMP(6)"); left != 0 {
		t.Fatalf("%d expired rows left", left)
	}
	if st := s.Stats(); st.CleanupRowsDeleted != 2500 || st.CleanupStatements != int64(len(batches)) {
		t.Fatalf("Stats = %+v; want 2500 rows in %d statements", st, len(batches))
	}
	if live := countRows(t, db, "token LIKE 'live%'"); live != 10 {
		t.Fatalf("%d live rows left; want all 10", live)
	}
}

func TestCleanupLoopUsesBatchSize(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 230, -time.Minute)
	insertRows(t, db, "live", 5, time.Hour)
	s := newCleanupStore(t, db, func(c *Config) { c.CleanupBatchSize = 100 })
	var mu sync.Mutex
	var batches []int64
	s.cleanup.onBatch = func(n int64) { mu.Lock(); batches = append(batches, n); mu.Unlock() }
	s.startCleanup(50 * time.Millisecond)

	eventually(t, 10*time.Second, "expired rows removed", func() bool { return s.Stats().CleanupRowsDeleted == 230 })
	mu.Lock()
	for _, n := range batches {
		if n > 100 {
			t.Errorf("a statement deleted %d rows; CleanupBatchSize is 100", n)
		}
	}
	mu.Unlock()
	if live := countRows(t, db, "token LIKE 'live%'"); live != 5 {
		t.Fatalf("%d live rows left; want all 5", live)
	}
	if st := s.Stats(); st.CleanupPasses < 1 || st.CleanupLastError != nil {
		t.Fatalf("Stats = %+v; want passes and no error", st)
	}
}

// TestCleanupOneReplicaAtATime runs two stores on one table, as two replicas
// would, with passes long enough to collide, and checks that they never
// overlap.
func TestCleanupOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 3000, -time.Minute)

	var active, maxActive atomic.Int32
	onPass := func(start bool) {
		if !start {
			active.Add(-1)
			return
		}
		n := active.Add(1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // widen the window for a collision
	}
	replicas := make([]*Store, 2)
	for i := range replicas {
		replicas[i] = newCleanupStore(t, db, func(c *Config) { c.CleanupBatchSize = 10 })
		replicas[i].cleanup.onPass = onPass
	}
	for _, s := range replicas {
		s.startCleanup(5 * time.Millisecond)
	}
	eventually(t, 30*time.Second, "the backlog removed", func() bool {
		return countRows(t, db, "1=1") == 0
	})
	eventually(t, 5*time.Second, "a pass skipped because the other replica held the lock", func() bool {
		return replicas[0].Stats().CleanupSkipped+replicas[1].Stats().CleanupSkipped > 0
	})
	for _, s := range replicas {
		s.StopCleanup()
	}
	if m := maxActive.Load(); m != 1 {
		t.Fatalf("%d cleanup passes ran at once; want 1", m)
	}
	if got := replicas[0].Stats().CleanupRowsDeleted + replicas[1].Stats().CleanupRowsDeleted; got != 3000 {
		t.Fatalf("replicas deleted %d rows in all; want 3000", got)
	}
}

// TestCleanupSkipsWhileLockHeld holds the cleanup lock as another replica
// would, then releases it.
func TestCleanupSkipsWhileLockHeld(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 20, -time.Minute)
	var dbName string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 0)", "sessionkit:"+dbName+".sessions").Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}

	s := newCleanupStore(t, db, nil)
	s.startCleanup(20 * time.Millisecond)
	eventually(t, 5*time.Second, "passes skipped", func() bool { return s.Stats().CleanupSkipped >= 3 })
	if n := countRows(t, db, "1=1"); n != 20 {
		t.Fatalf("%d rows left while another replica held the lock; want all 20", n)
	}
	if _, err := conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", "sessionkit:"+dbName+".sessions"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "rows deleted once the lock is free", func() bool { return countRows(t, db, "1=1") == 0 })
}

// TestCleanupRunsWhereLocksAreRefused makes GET_LOCK return NULL, as servers
// that refuse named locks do, and expects the pass to run anyway.
func TestCleanupRunsWhereLocksAreRefused(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 20, -time.Minute)
	s := newCleanupStore(t, db, nil)
	s.cleanup.lockName = func(context.Context, *sql.Conn) (string, error) { return "", nil } // GET_LOCK('') is NULL
	s.startCleanup(20 * time.Millisecond)
	eventually(t, 5*time.Second, "rows deleted without a lock", func() bool { return countRows(t, db, "1=1") == 0 })
	if st := s.Stats(); st.CleanupSkipped != 0 {
		t.Fatalf("Stats.CleanupSkipped = %d; a refused lock must not skip the pass", st.CleanupSkipped)
	}
}

// TestFirstCleanupPassKeepsScsSchedule checks, without waiting, when the
// passes run: the first after the interval and at most a tenth of it more,
// then one every interval. So a session is deleted at most a tenth of the
// interval after scs's mysqlstore would delete it (or before), and scs's
// own TestCleanup (expiry at 100ms, interval 200ms, checked at 300ms) holds
// whatever the draw. With the first pass anywhere in the first interval, it
// failed about one run in a hundred.
func TestFirstCleanupPassKeepsScsSchedule(t *testing.T) {
	t.Parallel()
	const interval = 200 * time.Millisecond
	lowest := func(time.Duration) time.Duration { return 0 }
	highest := func(n time.Duration) time.Duration { return n - 1 }
	var asked time.Duration
	if d := firstPassDelay(interval, func(n time.Duration) time.Duration { asked = n; return 0 }); d != interval || asked != interval/10 {
		t.Fatalf("firstPassDelay drew within %v and waits %v; want a draw within %v added to %v", asked, d, interval/10, interval)
	}
	for range 1000 {
		if d := firstPassDelay(interval, rand.N[time.Duration]); d < interval || d >= interval+interval/10 {
			t.Fatalf("firstPassDelay(%v) = %v; want within [%v, %v)", interval, d, interval, interval+interval/10)
		}
	}
	if d := firstPassDelay(5, highest); d != 5 {
		t.Errorf("firstPassDelay(5ns) = %v; want the interval, with nothing to spread", d)
	}

	// deletedAt is when the pass that deletes a session expiring at
	// expiry runs: the first at or after it.
	deletedAt := func(first, expiry time.Duration) time.Duration {
		at := first
		for at < expiry {
			at += interval
		}
		return at
	}
	draws := []func(time.Duration) time.Duration{lowest, highest}
	for k := range 10 {
		draws = append(draws, func(n time.Duration) time.Duration { return n * time.Duration(k) / 10 })
	}
	for _, draw := range draws {
		first := firstPassDelay(interval, draw)
		if at := deletedAt(first, 100*time.Millisecond); at >= 300*time.Millisecond-interval/10 {
			t.Errorf("first pass at %v: scs's TestCleanup's session (expiry 100ms) is deleted at %v, too close to its check at 300ms", first, at)
		}
		for expiry := time.Duration(0); expiry < 5*interval; expiry += interval / 50 {
			scs := deletedAt(interval, expiry) // scs's ticker: every interval from the start
			if at := deletedAt(first, expiry); at >= scs+interval/10 {
				t.Errorf("first pass at %v: a session expiring at %v is deleted at %v; scs deletes it at %v, and we at most %v later",
					first, expiry, at, scs, interval/10)
			}
		}
	}
}

// TestCleanupWaitsItsFirstDelay starts the cleanup with a first delay of
// 700ms: no pass runs before it.
func TestCleanupWaitsItsFirstDelay(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s := newCleanupStore(t, db, nil)
	var asked time.Duration
	s.cleanup.firstDelay = func(d time.Duration) time.Duration { asked = d; return 700 * time.Millisecond }
	start := time.Now()
	s.startCleanup(10 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if p := s.Stats().CleanupPasses; p != 0 {
		t.Fatalf("%d passes before the first delay elapsed", p)
	}
	eventually(t, 5*time.Second, "the first pass after the delay", func() bool { return s.Stats().CleanupPasses == 1 })
	if asked != 10*time.Second {
		t.Fatalf("first delay asked for the interval %v; want 10s", asked)
	}
	if first := s.Stats().CleanupLastStart.Sub(start); first < 700*time.Millisecond {
		t.Fatalf("first pass %v after start; want no sooner than the 700ms delay", first)
	}
}

// TestCleanupLogsErrorsAndGoesOn starts cleanup on a missing table, then
// creates it: errors are logged, and the loop recovers.
func TestCleanupLogsErrorsAndGoesOn(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	logger, logs := newLogger()
	s := newCleanupStore(t, db, func(c *Config) { c.Logger = logger })
	s.startCleanup(20 * time.Millisecond)
	eventually(t, 5*time.Second, "two failed passes", func() bool { return s.Stats().CleanupErrors >= 2 })
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "cleanup") || !strings.Contains(l, "doesn't exist") {
		t.Fatalf("log does not report the cleanup error:\n%s", l)
	}
	if _, err := db.Exec(recommendedTable); err != nil {
		t.Fatal(err)
	}
	insertRows(t, db, "expired", 5, -time.Minute)
	eventually(t, 5*time.Second, "rows deleted after the table appeared", func() bool { return s.Stats().CleanupRowsDeleted == 5 })
}

// TestCleanupLogsToDefaultLogger is not parallel: it replaces slog's default.
func TestCleanupLogsToDefaultLogger(t *testing.T) {
	logger, logs := newLogger()
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)
	db := newDB(t, nil)
	s := newCleanupStore(t, db, nil)
	s.startCleanup(20 * time.Millisecond)
	eventually(t, 5*time.Second, "an error in slog.Default()", func() bool { return strings.Contains(logs.String(), "doesn't exist") })
	s.StopCleanup()
}

// TestPacingFollowsTheServer checks how batch sizes follow the time each
// batch takes.
func TestPacingFollowsTheServer(t *testing.T) {
	t.Parallel()
	p := newPacing(1000)
	if p.size != 1000 {
		t.Fatalf("first batch of %d; want 1000", p.size)
	}
	if pause := p.next(200 * time.Millisecond); pause != 200*time.Millisecond || p.size != 500 {
		t.Fatalf("after a slow batch: pause %v, size %d; want 200ms and 500", pause, p.size)
	}
	for i := 0; i < 10; i++ {
		p.next(time.Second)
	}
	if p.size != 100 {
		t.Fatalf("under load the size fell to %d; want the floor of 100", p.size)
	}
	if pause := p.next(30 * time.Millisecond); pause != 0 || p.size != 100 {
		t.Fatalf("after a middling batch: pause %v, size %d; want none and 100", pause, p.size)
	}
	for i := 0; i < 10; i++ {
		p.next(time.Millisecond)
	}
	if p.size != 1000 {
		t.Fatalf("on an idle server the size grew to %d; want the ceiling of 1000", p.size)
	}
}
