package mysql

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A request that renews its token (scs's RenewToken: Delete of the old
// token, Commit of the new one at the end of the request) carries its
// session over to the new token. Whatever ends the old session between the
// two calls (a revocation of the user, a revocation by ID, a logout in
// another tab) must end the new one too: the new token is written only
// while the old session is still there, in one transaction with the old
// row's deletion.
func TestRenewalAfterTheOldSessionEndedWritesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		between func(t *testing.T, s *Store, old string)
		login   bool // the request logs the user in: the new session holds
	}{
		{name: "nothing ends it"},
		{name: "RevokeUser", between: func(t *testing.T, s *Store, _ string) {
			if _, err := s.RevokeUser(context.Background(), "ada", ""); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "RevokeUser keeping another session", between: func(t *testing.T, s *Store, _ string) {
			if _, err := s.RevokeUser(context.Background(), "ada", "some-other-token"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Revoke by ID", between: func(t *testing.T, s *Store, old string) {
			// The row under way to its new token has expired: no
			// session, but deleting it ends the renewal.
			if err := s.Revoke(context.Background(), "ada", SessionID(old)); err != nil && !errors.Is(err, ErrNoSession) {
				t.Fatal(err)
			}
		}},
		{name: "logout in another request", between: func(t *testing.T, s *Store, old string) {
			other := WithRequest(context.Background(), &Request{})
			if _, found, err := s.FindCtx(other, old); err != nil {
				t.Fatal(err)
			} else if found {
				t.Fatal("the other request found the session its owner's request retired")
			}
			// The other tab read the session before the renewal began;
			// its Destroy deletes what the renewal left.
			markFound(other, old, nil)
			if err := s.DeleteCtx(other, old); err != nil {
				t.Fatal(err)
			}
			// Its response: the logged-out row is deleted.
			if err := s.FinishRequest(other); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "RevokeUser during a login", login: true, between: func(t *testing.T, s *Store, _ string) {
			if _, err := s.RevokeUser(context.Background(), "ada", ""); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, _ := usersStore(t)
			expiry := time.Now().Add(time.Hour)
			old, renewed := tokenFor("old", 0), tokenFor("new", 0)
			if err := s.Commit(old, userData(t, "ada"), expiry); err != nil {
				t.Fatal(err)
			}
			ctx := WithRequest(context.Background(), &Request{})
			if _, found, err := s.FindCtx(ctx, old); err != nil || !found {
				t.Fatalf("Find: %v %v", found, err)
			}
			if c.login {
				MarkLogin(ctx)
			}
			if err := s.DeleteCtx(ctx, old); err != nil { // RenewToken
				t.Fatal(err)
			}
			if _, found, err := s.Find(old); err != nil || found {
				t.Fatalf("old token after RenewToken's Delete: found %v, err %v; want no session", found, err)
			}
			if c.between != nil {
				c.between(t, s, old)
			}
			if err := s.CommitCtx(ctx, renewed, userData(t, "ada"), expiry); err != nil {
				t.Fatal(err)
			}
			_, found, err := s.Find(renewed)
			if err != nil {
				t.Fatal(err)
			}
			want := c.between == nil || c.login
			if found != want || SessionEnded(ctx) == want {
				t.Fatalf("renewed token: found %v, ended %v; want found %v", found, SessionEnded(ctx), want)
			}
			if _, found, _ := s.Find(old); found {
				t.Fatal("the old token is a session again")
			}
			list, err := s.Sessions(context.Background(), "ada")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[want]; len(list) != want {
				t.Fatalf("Sessions lists %d sessions of ada; want %d", len(list), want)
			}
		})
	}
}

// TestLogoutOfARetiredSessionCounts: a request that logs out (Destroy)
// leaves nothing that counts as a session once its response is sent
// (FinishRequest): Sessions does not list it, RevokeUser does not count
// it, and no row is left.
func TestLogoutOfARetiredSessionCounts(t *testing.T) {
	t.Parallel()
	s, db := usersStore(t)
	expiry := time.Now().Add(time.Hour)
	for i := range 3 {
		if err := s.Commit(tokenFor("a", i), userData(t, "ada"), expiry); err != nil {
			t.Fatal(err)
		}
	}
	ctx := WithRequest(context.Background(), &Request{})
	if _, found, err := s.FindCtx(ctx, tokenFor("a", 0)); err != nil || !found {
		t.Fatal(found, err)
	}
	if err := s.DeleteCtx(ctx, tokenFor("a", 0)); err != nil { // Destroy
		t.Fatal(err)
	}
	if err := s.FinishRequest(ctx); err != nil { // its response
		t.Fatal(err)
	}
	if list, err := s.Sessions(context.Background(), "ada"); err != nil || len(list) != 2 {
		t.Fatalf("Sessions after a logout: %d, %v; want 2", len(list), err)
	}
	n, err := s.RevokeUser(context.Background(), "ada", "")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser = %d, %v; want the 2 sessions still there", n, err)
	}
	if rows := countRows(t, db, "TRUE"); rows != 0 {
		t.Fatalf("%d rows left after RevokeUser; want none", rows)
	}
}
