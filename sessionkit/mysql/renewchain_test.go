package mysql

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// renewChain renews user's session from token through s in a loop, each
// renewal a request of its own (Find, RenewToken's Delete, the Commit of
// the new token, FinishRequest), as a client does that follows each new
// cookie to a route that renews the token. It stops when a renewal finds
// its session ended, or when stop is closed, and returns the last token;
// current holds the token as it moves.
func renewChain(t *testing.T, s *Store, user, token string, stop <-chan struct{}, renewals *atomic.Int64, current *atomic.Value) string {
	t.Helper()
	expiry := time.Now().Add(time.Hour)
	for {
		select {
		case <-stop:
			return token
		default:
		}
		ctx := WithRequest(context.Background(), &Request{})
		_, found, err := s.FindCtx(ctx, token)
		if err != nil || !found {
			return token
		}
		if err := s.DeleteCtx(ctx, token); err != nil {
			return token
		}
		next := newToken(t)
		if err := s.CommitCtx(ctx, next, userData(t, user), expiry); err != nil {
			return token
		}
		s.FinishRequest(ctx)
		if SessionEnded(ctx) {
			return token
		}
		token = next
		current.Store(token)
		renewals.Add(1)
	}
}

// TestRevokeUserEndsASessionThatKeepsRenewing: a client renews its
// session's token again and again through one replica (a thief with a
// stolen cookie, on a route that renews the token), while the user's
// sessions are revoked through another. RevokeUser must end the session,
// however often it moves, or at least not answer as if it had ended
// every session.
func TestRevokeUserEndsASessionThatKeepsRenewing(t *testing.T) {
	t.Parallel()
	trials := 100
	if n, err := strconv.Atoi(os.Getenv("SESSIONKIT_TEST_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	thief, db := usersStore(t)
	cfg := noCleanup()
	cfg.MaxInflight = 1
	revoker, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revoker.Close() })
	expiry := time.Now().Add(time.Hour)
	// The revoking replica is busy: other clients' requests write their
	// sessions through it all along.
	busy := make(chan struct{})
	var traffic sync.WaitGroup
	for g := range 4 {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			for n := 0; ; n++ {
				select {
				case <-busy:
					return
				default:
				}
				revoker.Commit(tokenFor(fmt.Sprintf("busy%d-", g), n%50), userData(t, fmt.Sprintf("other%d", g)), expiry)
			}
		}()
	}
	defer func() { close(busy); traffic.Wait() }()
	survived := 0
	for i := range trials {
		user := fmt.Sprintf("chain-%d", i)
		first := newToken(t)
		if err := thief.Commit(first, userData(t, user), expiry); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var renewals atomic.Int64
		var current atomic.Value
		current.Store(first)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			renewChain(t, thief, user, first, stop, &renewals, &current)
		}()
		for renewals.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		n, err := revoker.RevokeUser(context.Background(), user, "")
		if err != nil {
			t.Fatal(err)
		}
		// The thief goes on for a while after the revoke answered.
		for at := renewals.Load(); renewals.Load() < at+5; {
			if _, found, _ := revoker.Find(current.Load().(string)); !found {
				list, _ := revoker.Sessions(context.Background(), user)
				if len(list) == 0 {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if list, err := revoker.Sessions(context.Background(), user); err != nil {
			t.Fatal(err)
		} else if len(list) > 0 {
			survived++
			t.Logf("trial %d: RevokeUser answered %d, and the session is still there after %d renewals", i, n, renewals.Load())
		}
	}
	if survived > 0 {
		t.Errorf("the renewing session survived RevokeUser in %d of %d trials", survived, trials)
	}
}
