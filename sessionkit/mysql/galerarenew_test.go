package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// galeraUserStores is galeraStores on the table CreateTable makes, with
// the user columns.
func galeraUserStores(t *testing.T) []*Store {
	stores, _ := galeraUserStoresAndDBs(t)
	return stores
}

func galeraUserStoresAndDBs(t *testing.T) ([]*Store, []*sql.DB) {
	t.Helper()
	return galeraStoresOn(t, usersTable, nil)
}

// TestGaleraRenewalEndsWithARevoke: a request renews its session's token
// through one node (scs's RenewToken: a Delete in the request, then the
// Commit of the new token), while the user's sessions are revoked through
// another node (RevokeUser, as "log out everywhere" and sessionkit
// revoke-user do), before the new token is saved or at the same moment.
// No node may hold a session of the user afterwards.
func TestGaleraRenewalEndsWithARevoke(t *testing.T) {
	stores := galeraUserStores(t)
	expiry := time.Now().Add(time.Hour)
	const sessions = 24
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("galera-renew-%d", i)
			old, renewed := tokenFor("galera-old", i), tokenFor("galera-new", i)
			node, revoker := stores[i%3], stores[(i+1)%3]
			if err := node.Commit(old, userData(t, user), expiry); err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1"})
			if _, found, err := node.FindCtx(ctx, old); err != nil || !found {
				t.Errorf("session %d: found %v, %v", i, found, err)
				return
			}
			if err := node.DeleteCtx(ctx, old); err != nil { // RenewToken
				t.Errorf("session %d: renew: %v", i, err)
				return
			}
			racing := i%2 == 1
			revoked := make(chan error, 1)
			go func() {
				_, err := revoker.RevokeUser(context.Background(), user, "")
				revoked <- err
			}()
			if !racing {
				if err := <-revoked; err != nil {
					t.Errorf("session %d: revoke: %v", i, err)
					return
				}
			}
			if err := node.CommitCtx(ctx, renewed, userData(t, user), expiry); err != nil {
				t.Logf("session %d: commit: %v", i, err)
			}
			if racing {
				if err := <-revoked; err != nil {
					t.Errorf("session %d: revoke: %v", i, err)
					return
				}
			}
			for n, s := range stores {
				// Find reads causally: it sees every write the cluster
				// committed before it.
				for _, token := range []string{old, renewed} {
					if _, found, err := s.Find(token); err != nil || found {
						t.Errorf("session %d (racing %v): node %d: found %v, %v after the revoke", i, racing, n+1, found, err)
					}
				}
				// Sessions does not: a node may list what another just
				// deleted, for a moment.
				deadline := time.Now().Add(5 * time.Second)
				for {
					list, err := s.Sessions(context.Background(), user)
					if err != nil {
						t.Errorf("session %d: node %d: %v", i, n+1, err)
						break
					}
					if len(list) == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("session %d (racing %v): node %d lists %d sessions of the revoked user", i, racing, n+1, len(list))
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

// TestGaleraLogoutAndChangeOnTwoNodes: one tab logs out through one node
// (Destroy: the request's Delete retires the row) while another tab's
// request, which read the session through another node, saves a change.
// Neither order may leave the session on any node once the logout's
// request has finished.
func TestGaleraLogoutAndChangeOnTwoNodes(t *testing.T) {
	stores := galeraUserStores(t)
	expiry := time.Now().Add(time.Hour)
	const sessions = 24
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("galera-logout-%d", i)
			token := tokenFor("galera-logout", i)
			logoutNode, tabNode := stores[i%3], stores[(i+1)%3]
			if err := logoutNode.Commit(token, userData(t, user), expiry); err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			logout := WithRequest(context.Background(), &Request{})
			tab := WithRequest(context.Background(), &Request{})
			for _, c := range []struct {
				s   *Store
				ctx context.Context
			}{{logoutNode, logout}, {tabNode, tab}} {
				if _, found, err := c.s.FindCtx(c.ctx, token); err != nil || !found {
					t.Errorf("session %d: found %v, %v", i, found, err)
					return
				}
			}
			done := make(chan error, 1)
			go func() {
				if err := logoutNode.DeleteCtx(logout, token); err != nil {
					done <- err
					return
				}
				done <- logoutNode.FinishRequest(logout)
			}()
			if err := tabNode.CommitCtx(tab, token, userData(t, user+"-changed"), expiry); err != nil {
				t.Logf("session %d: commit: %v", i, err)
			}
			if err := <-done; err != nil {
				t.Errorf("session %d: logout: %v", i, err)
				return
			}
			for n, s := range stores {
				if _, found, err := s.Find(token); err != nil || found {
					t.Errorf("session %d: node %d: found %v, %v after the logout", i, n+1, found, err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestGaleraSessionsSeesARevokeThroughAnotherNode: a user ends a session
// through one node ("log out everywhere", which has returned) and their
// next page, served through another node, lists their sessions: the list
// must not show the ended ones, as a Find through that node would not.
// (Every store has read a session first, so it knows it is on a cluster.)
func TestGaleraSessionsSeesARevokeThroughAnotherNode(t *testing.T) {
	stores := galeraUserStores(t)
	for _, s := range stores {
		if _, _, err := s.Find(tokenFor("warm", 0)); err != nil {
			t.Fatal(err)
		}
	}
	expiry := time.Now().Add(time.Hour)
	const sessions = 24
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("galera-list-%d", i)
			writer, revoker, lister := stores[i%3], stores[(i+1)%3], stores[(i+2)%3]
			if err := writer.Commit(tokenFor("galera-list", i), userData(t, user), expiry); err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			if n, err := revoker.RevokeUser(context.Background(), user, ""); err != nil || n != 1 {
				t.Errorf("session %d: RevokeUser: %d, %v", i, n, err)
				return
			}
			list, err := lister.Sessions(context.Background(), user)
			if err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			if len(list) != 0 {
				t.Errorf("session %d: the next node lists %d sessions of the user just revoked", i, len(list))
			}
		}()
	}
	wg.Wait()
}

// TestGaleraRevokeUserOnAFreshStore: sessionkit revoke-user opens a store
// and calls RevokeUser, with no session read before, through one node,
// just after a session of the user was saved through another (a login a
// moment before). It must end that session.
func TestGaleraRevokeUserOnAFreshStore(t *testing.T) {
	writers, dbs := galeraUserStoresAndDBs(t)
	expiry := time.Now().Add(time.Hour)
	// Other clients write through the other nodes all along, so that a
	// node applies the cluster's writes a moment late, as under load.
	busy := make(chan struct{})
	var traffic sync.WaitGroup
	big := make([]byte, 32<<10)
	for g := range 6 {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			for n := 0; ; n++ {
				select {
				case <-busy:
					return
				default:
				}
				writers[g%3].Commit(tokenFor(fmt.Sprintf("busy%d-", g), n%20), big, expiry)
			}
		}()
	}
	defer func() { close(busy); traffic.Wait() }()
	var missed atomic.Int64
	const trials = 96
	var wg sync.WaitGroup
	for i := range trials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("galera-fresh-%d", i)
			token := tokenFor("galera-fresh", i)
			writer := writers[i%3]
			if err := writer.Commit(token, userData(t, user), expiry); err != nil {
				t.Error(err)
				return
			}
			cmd, err := NewWithConfig(dbs[(i+1)%3], noCleanup()) // as the command opens it
			if err != nil {
				t.Error(err)
				return
			}
			n, err := cmd.RevokeUser(context.Background(), user, "")
			cmd.Close()
			if err != nil {
				t.Error(err)
				return
			}
			if _, found, err := writer.Find(token); err != nil || found || n != 1 {
				missed.Add(1)
				t.Logf("trial %d: RevokeUser answered %d; the session is found %v (%v)", i, n, found, err)
			}
		}()
	}
	wg.Wait()
	if missed.Load() > 0 {
		t.Errorf("RevokeUser on a fresh store missed the session just saved through another node in %d of %d trials", missed.Load(), trials)
	}
}
