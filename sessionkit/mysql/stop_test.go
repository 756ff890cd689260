package mysql

import (
	"strings"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

func TestStopCleanupIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s := New(db)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.StopCleanup() }()
	}
	wg.Wait()
	select {
	case <-s.cleanup.done:
	default:
		t.Fatal("StopCleanup returned before the cleanup goroutine exited")
	}
	s.StopCleanup()
}

func TestStopCleanupWhenDisabledOrNeverStarted(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	NewWithCleanupInterval(db, 0).StopCleanup()
	s, err := NewWithConfig(db, noCleanup())
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	s.StopCleanup()
	(&Store{}).StopCleanup()
}

// TestStopCleanupDuringLongPass blocks a pass on a table lock that would
// hold it for the server's lock wait timeout, and expects StopCleanup to
// return at once anyway.
func TestStopCleanupDuringLongPass(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "expired", 10, -time.Minute)
	s := newCleanupStore(t, db, nil)
	started := make(chan struct{})
	var once sync.Once
	s.cleanup.onPass = func(start bool) {
		if start {
			once.Do(func() { close(started) })
		}
	}
	// The table lock makes the pass's first DELETE wait for the lock wait
	// timeout (a year for table locks by default; the store's own bound on
	// MariaDB, eight seconds).
	unlock := lockTable(t, db)
	s.startCleanup(time.Hour)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the cleanup pass did not start")
	}
	mysqltest.WaitForProcess(t, db, 10*time.Second, func(p mysqltest.Process) bool {
		return strings.Contains(p.Info, "DELETE") && strings.Contains(p.State, "metadata lock")
	})
	begin := time.Now()
	s.StopCleanup()
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("StopCleanup took %v during a blocked pass", d)
	}
	unlock()
}
