package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestEndedSessionsStayEndedInABatch: requests that found their sessions
// commit them at once, so that the store writes them in batches, while half
// of the sessions were deleted after they were read. On every table
// definition, the deleted ones stay deleted and their requests are told
// (SessionEnded), and the others hold what their requests wrote.
func TestEndedSessionsStayEndedInABatch(t *testing.T) {
	t.Parallel()
	for _, def := range tableDefinitions {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			s, _ := batchingStore(t, def.ddl)
			const sessions = 60
			expiry := time.Now().Add(time.Hour)
			ctxs := foundInRequests(t, s, "s", sessions, []byte("before"), expiry)
			for i := 0; i < sessions; i += 2 {
				if err := s.Delete(tokenFor("s", i)); err != nil { // revoked by another request
					t.Fatal(err)
				}
			}
			_, statementsBefore := s.writes.counts()
			var wg sync.WaitGroup
			errs := make([]error, sessions)
			for i := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.CommitCtx(ctxs[i], tokenFor("s", i), []byte(fmt.Sprint("after ", i)), expiry.Add(time.Minute))
				}()
			}
			wg.Wait()
			_, statementsAfter := s.writes.counts()
			for i := range sessions {
				token := tokenFor("s", i)
				if errs[i] != nil {
					t.Fatalf("Commit %d: %v", i, errs[i])
				}
				b, found, err := s.Find(token)
				if err != nil {
					t.Fatal(err)
				}
				ended := SessionEnded(ctxs[i])
				if i%2 == 0 {
					if found || !ended {
						t.Errorf("deleted session %d: found %v (data %q), ended %v; want gone and ended", i, found, b, ended)
					}
				} else if !found || string(b) != fmt.Sprint("after ", i) || ended {
					t.Errorf("session %d: found %v, data %q, ended %v; want what its request wrote", i, found, b, ended)
				}
			}
			if n := statementsAfter - statementsBefore; n >= sessions {
				t.Logf("%d statements for %d commits: nothing was batched this time", n, sessions)
			}
		})
	}
}

// TestUpdateOfUnchangedSessionIsNotEnded: a Commit that writes exactly what
// is stored changes no row, which the server counts as none; the session
// is still there, so it is not ended.
func TestUpdateOfUnchangedSessionIsNotEnded(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, tableDefinitions[0].ddl)
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	ctx := foundInRequests(t, s, "a", 1, []byte("same"), expiry)[0]
	tokenA := tokenFor("a", 0)
	if err := s.CommitCtx(ctx, tokenA, []byte("same"), expiry); err != nil {
		t.Fatal(err)
	}
	if SessionEnded(ctx) {
		t.Fatal("an unchanged session was reported ended")
	}
}

// TestStoreAloneUpsertsAsScs: without a request's context, a Commit of a
// deleted session writes it again, as scs's stores do (the store cannot
// tell a new session from one deleted meanwhile).
func TestStoreAloneUpsertsAsScs(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, tableDefinitions[0].ddl)
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("one"), expiry); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tokenA); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("two"), expiry); err != nil {
		t.Fatal(err)
	}
	if b, found, err := s.Find(tokenA); err != nil || !found || string(b) != "two" {
		t.Fatalf("Find = %q, %v, %v; want the upserted session", b, found, err)
	}
}

// TestCommitAfterDeleteInOneRequestWritesNothing: a request that deletes
// its own session (a revoke of the current session without scs's Destroy)
// and then commits it does not bring it back.
func TestCommitAfterDeleteInOneRequestWritesNothing(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, tableDefinitions[0].ddl)
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	ctx := foundInRequests(t, s, "a", 1, []byte("one"), expiry)[0]
	tokenA := tokenFor("a", 0)
	if err := s.DeleteCtx(ctx, tokenA); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitCtx(ctx, tokenA, []byte("two"), expiry); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find(tokenA); err != nil || found || !SessionEnded(ctx) {
		t.Fatalf("after Delete and Commit in one request: found %v, err %v, ended %v; want gone and ended", found, err, SessionEnded(ctx))
	}
}

// batchingStore returns a store on a fresh database made with ddl, with one
// write statement in flight at a time, so that Commits made at once are
// batched.
func batchingStore(t *testing.T, ddl []string) (*Store, *sql.DB) {
	t.Helper()
	db := newDB(t, ddl)
	cfg := noCleanup()
	cfg.MaxInflight = 1
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// foundInRequests commits n sessions named by prefix with data, then finds
// each in a request context of its own, which it returns.
func foundInRequests(t *testing.T, s *Store, prefix string, n int, data []byte, expiry time.Time) []context.Context {
	t.Helper()
	ctxs := make([]context.Context, n)
	for i := range n {
		token := tokenFor(prefix, i)
		if err := s.Commit(token, data, expiry); err != nil {
			t.Fatal(err)
		}
		ctxs[i] = WithRequest(context.Background(), &Request{})
		if _, found, err := s.FindCtx(ctxs[i], token); err != nil || !found {
			t.Fatalf("Find %s: %v %v", token, found, err)
		}
	}
	return ctxs
}
