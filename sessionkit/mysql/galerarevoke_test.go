package mysql

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestGaleraEndedSessionStaysEnded: a request reads its session through
// one node and saves a change through it, while the session is deleted
// (revoked, logged out) through another node, before the save or at the
// same moment. Whichever comes first, no node may hold the session
// afterwards, and a save that came after the delete must say the session
// ended.
func TestGaleraEndedSessionStaysEnded(t *testing.T) {
	stores, dbs := galeraStores(t, nil)
	expiry := time.Now().Add(time.Hour)
	const sessions = 24
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := tokenFor("galera-ended", i)
			writer, revoker := stores[i%3], stores[(i+1)%3]
			if err := writer.Commit(token, []byte("logged in"), expiry); err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1"})
			if _, found, err := writer.FindCtx(ctx, token); err != nil || !found {
				t.Errorf("session %d: found %v, %v", i, found, err)
				return
			}
			racing := i%2 == 1
			deleted := make(chan error, 1)
			go func() { deleted <- revoker.Delete(token) }()
			if !racing {
				if err := <-deleted; err != nil {
					t.Errorf("session %d: delete: %v", i, err)
					return
				}
			}
			err := writer.CommitCtx(ctx, token, []byte("changed by the thief"), expiry)
			if err != nil {
				// A certification conflict the store gave up on: the
				// session is not saved, which is what must hold.
				t.Logf("session %d: commit: %v", i, err)
			}
			if racing {
				if err := <-deleted; err != nil {
					t.Errorf("session %d: delete: %v", i, err)
					return
				}
			} else if err == nil && !SessionEnded(ctx) {
				t.Errorf("session %d: a commit after the delete does not report the session ended", i)
			}
		}()
	}
	wg.Wait()
	for n, db := range dbs {
		// A node applies the others' writes a moment later: a session
		// that came back stays, one that did not is soon gone everywhere.
		eventually(t, 10*time.Second, fmt.Sprintf("node %d holds none of the deleted sessions", n+1), func() bool {
			return countRows(t, db, "token LIKE 'galera-ended%'") == 0
		})
	}
}
