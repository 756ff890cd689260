package mysql

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestExpiredRowsAreNotRevivedAtSave: sessions that requests found expire
// while the requests run, and no cleanup has removed their rows yet. Their
// Commits, batched with those of sessions still alive, must neither move
// their expiry forward nor change their data; their requests are told
// (SessionEnded), and the live sessions hold what their requests wrote.
func TestExpiredRowsAreNotRevivedAtSave(t *testing.T) {
	t.Parallel()
	s, db := batchingStore(t, []string{usersTable})
	const sessions = 40
	expiry := time.Now().Add(time.Hour)
	ctxs := foundInRequests(t, s, "x", sessions, []byte("before"), expiry)
	for i := 0; i < sessions; i += 2 {
		// Expired a second ago, still in the table.
		if _, err := db.Exec("UPDATE sessions SET expiry = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE token = ?", tokenFor("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CommitCtx(ctxs[i], tokenFor("x", i), []byte(fmt.Sprint("after ", i)), expiry.Add(time.Hour))
		}()
	}
	wg.Wait()
	for i := range sessions {
		if errs[i] != nil {
			t.Fatalf("Commit %d: %v", i, errs[i])
		}
		var data string
		var expired bool
		if err := db.QueryRow("SELECT data, expiry <= UTC_TIMESTAMP(6) FROM sessions WHERE token = ?", tokenFor("x", i)).Scan(&data, &expired); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		ended := SessionEnded(ctxs[i])
		if i%2 == 0 {
			if !expired || data != "before" || !ended {
				t.Errorf("expired session %d: data %q, expired %v, ended %v; want untouched and ended", i, data, expired, ended)
			}
		} else if expired || data != fmt.Sprint("after ", i) || ended {
			t.Errorf("session %d: data %q, expired %v, ended %v; want what its request wrote", i, data, expired, ended)
		}
	}
}
