package mysql

import (
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// galeraStores returns a store on each node of the test binary's Galera
// cluster, on one fresh database, with the recommended table.
func galeraStores(t *testing.T, set func(*Config)) ([]*Store, []*sql.DB) {
	t.Helper()
	return galeraStoresOn(t, recommendedTable, set)
}

// galeraStoresOn is galeraStores on the table ddl makes.
func galeraStoresOn(t *testing.T, ddl string, set func(*Config)) ([]*Store, []*sql.DB) {
	t.Helper()
	mysqltest.Long(t)
	cfgs := mysqltest.Cluster(t).Database(t)
	var stores []*Store
	var dbs []*sql.DB
	for i, c := range cfgs {
		db := mysqltest.Open(t, c.FormatDSN())
		if i == 0 {
			if _, err := db.Exec(ddl); err != nil {
				t.Fatal(err)
			}
		}
		cfg := noCleanup()
		if set != nil {
			set(&cfg)
		}
		s, err := NewWithConfig(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores, dbs = append(stores, s), append(dbs, db)
	}
	for _, db := range dbs { // the table has reached every node
		eventually(t, 10*time.Second, "the table on every node", func() bool {
			var n int
			db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sessions'").Scan(&n)
			return n == 1
		})
	}
	return stores, dbs
}

// TestGaleraReadsSeeWritesThroughOtherNodes commits a counter through one
// node and reads it at once through the next, for 16 sessions at a time:
// every read must see the write before it, with no setting on the pools.
func TestGaleraReadsSeeWritesThroughOtherNodes(t *testing.T) {
	stores, _ := galeraStores(t, nil)
	expiry := time.Now().Add(time.Hour)
	var stale, errs atomic.Int64
	var wg sync.WaitGroup
	for u := 0; u < 16; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := tokenFor("galera", u)
			for r := 0; r < 60; r++ {
				want := strconv.Itoa(r)
				if err := stores[r%3].Commit(token, []byte(want), expiry); err != nil {
					errs.Add(1)
					t.Errorf("user %d commit %d: %v", u, r, err)
					return
				}
				b, found, err := stores[(r+1)%3].Find(token)
				if err != nil {
					errs.Add(1)
					t.Errorf("user %d find %d: %v", u, r, err)
					return
				}
				if !found || string(b) != want {
					stale.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("16 users x 60 writes rotating over 3 nodes: %d stale reads, %d errors", stale.Load(), errs.Load())
	if stale.Load() > 0 {
		t.Errorf("%d reads through another node missed the write before them", stale.Load())
	}
	for _, s := range stores {
		if s.cluster.Load() != clusterGalera {
			t.Errorf("the store did not notice it is on a Galera node")
		}
	}
}

// TestGaleraConflictsStayLocal writes one hot session through two nodes at
// once, which makes the cluster refuse some of its writes (certification
// conflicts), while other sessions are written in batches through the same
// nodes: only the hot session's calls may fail.
func TestGaleraConflictsStayLocal(t *testing.T) {
	stores, _ := galeraStores(t, func(c *Config) { c.MaxInflight = 1 })
	expiry := time.Now().Add(time.Hour)
	hot := tokenFor("hot", 0)
	stop := make(chan struct{})
	var hotErrors, hotWrites atomic.Int64
	var wg sync.WaitGroup
	for n := 0; n < 2; n++ {
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					hotWrites.Add(1)
					if err := stores[n].Commit(hot, []byte(fmt.Sprint(n, g, i)), expiry); err != nil {
						hotErrors.Add(1)
					}
				}
			}()
		}
	}
	var others sync.WaitGroup
	var otherErrors atomic.Int64
	for u := 0; u < 24; u++ {
		others.Add(1)
		go func() {
			defer others.Done()
			for r := 0; r < 40; r++ {
				if err := stores[u%2].Commit(tokenFor(fmt.Sprintf("cold%d-", u), r%4), []byte("x"), expiry); err != nil {
					otherErrors.Add(1)
					t.Errorf("a session written through one node only failed: %v", err)
					return
				}
			}
		}()
	}
	others.Wait()
	close(stop)
	wg.Wait()
	var splits int64
	for _, s := range stores {
		splits += s.Stats().SplitBatches
	}
	t.Logf("hot session: %d writes, %d failed; other sessions: %d failed; batches split: %d",
		hotWrites.Load(), hotErrors.Load(), otherErrors.Load(), splits)
	if hotErrors.Load() > 0 && hotErrors.Load() == hotWrites.Load() {
		t.Error("every write of the hot session failed")
	}
}

// TestGaleraCleanupOnePassAtATime runs the cleanup of a store on every node
// over a backlog of expired sessions: passes never overlap across nodes,
// the others' skips show in Stats, and every row is deleted once.
func TestGaleraCleanupOnePassAtATime(t *testing.T) {
	stores, dbs := galeraStores(t, func(c *Config) { c.CleanupBatchSize = 100 })
	insertRows(t, dbs[0], "expired", 3000, -time.Minute)
	var active, maxActive atomic.Int32
	for _, s := range stores {
		s.cleanup.firstDelay = func(time.Duration) time.Duration { return 0 }
		s.cleanup.onPass = func(start bool) {
			if !start {
				active.Add(-1)
				return
			}
			n := active.Add(1)
			for m := maxActive.Load(); n > m && !maxActive.CompareAndSwap(m, n); m = maxActive.Load() {
			}
			time.Sleep(20 * time.Millisecond) // widen the window for a collision
		}
	}
	for _, s := range stores {
		s.startCleanup(5 * time.Millisecond)
	}
	eventually(t, 60*time.Second, "the backlog removed", func() bool {
		return countRows(t, dbs[2], "1=1") == 0
	})
	eventually(t, 10*time.Second, "a pass skipped because a replica on another node held the lease", func() bool {
		var skipped int64
		for _, s := range stores {
			skipped += s.Stats().CleanupSkipped
		}
		return skipped > 0
	})
	var deleted, errs int64
	for _, s := range stores {
		s.StopCleanup()
		st := s.Stats()
		deleted += st.CleanupRowsDeleted
		errs += st.CleanupErrors
	}
	if m := maxActive.Load(); m != 1 {
		t.Errorf("%d cleanup passes ran at once across the nodes; want 1", m)
	}
	if deleted != 3000 || errs != 0 {
		t.Errorf("the replicas deleted %d rows with %d failed passes; want 3000 and none", deleted, errs)
	}
	var lease int
	if err := dbs[1].QueryRow("SELECT COUNT(*) FROM " + leaseTableName).Scan(&lease); err != nil || lease != 1 {
		t.Errorf("lease rows: %d, %v; want the one of the sessions table", lease, err)
	}
}
