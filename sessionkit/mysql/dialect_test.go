package mysql

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// The store's statement forms: SET STATEMENT on MariaDB, an optimizer hint
// on MySQL, neither elsewhere (see dialect in queries.go). No MySQL server
// runs where the tests run; mysqltest.MySQL84 makes the test server answer
// as MySQL 8.4 would, so that the MySQL forms run here too.
// SESSIONKIT_TEST_AS_MYSQL=1 runs every test of the package so.

// TestMySQL84Forms runs a store against MySQL 8.4's answers: it moves to
// the optimizer hint, writes every session with a statement of its own,
// finds no cluster (the Galera and Group Replication variables are
// unknown, 1193), and its schema check passes.
func TestMySQL84Forms(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, []string{usersTable}, mysqltest.MySQL84())
	defer s.Close()
	ctx := context.Background()
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema: %v", err)
	}
	checkContract(t, s)
	if d := dialect(s.dialect.Load()); d != dialectMySQL {
		t.Errorf("dialect %d; want dialectMySQL (%d), the SET_VAR hint", d, dialectMySQL)
	}
	if s.writes.rowsLimit() != 1 {
		t.Error("writes are batched; on MySQL, where a write carries no bound of its own, each has its own statement")
	}
	if err := s.checkCluster(ctx); err != nil || s.cluster.Load() != clusterNone {
		t.Errorf("checkCluster = %v, cluster %d; want nil and clusterNone", err, s.cluster.Load())
	}
	if s.onCluster(ctx) {
		t.Error("onCluster on a single MySQL server")
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want the expired session the contract left", n, err)
	}
}

// TestMySQL84WritesOneByOne runs concurrent commits, then finds, on one
// slot: finds share statements as on MariaDB, commits do not, so that a
// locked row can hold up no other session's write.
func TestMySQL84WritesOneByOne(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable}, mysqltest.MySQL84())
	cfg := noCleanup()
	cfg.MaxInflight = 1
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	const writers, rounds = 16, 10
	for _, phase := range []func(token string) error{
		func(token string) error { return s.Commit(token, []byte("x"), expiry) },
		func(token string) error { _, _, err := s.Find(token); return err },
	} {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					if err := phase(tokenFor(fmt.Sprintf("w%d-", w), r)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	st := s.Stats()
	t.Logf("%d commits in %d statements, %d finds in %d statements", st.CommitCalls, st.CommitStatements, st.FindCalls, st.FindStatements)
	if st.CommitStatements != st.CommitCalls || st.CommitCalls != writers*rounds {
		t.Errorf("%d commits in %d statements; want %d, each in a statement of its own", st.CommitCalls, st.CommitStatements, writers*rounds)
	}
	// How many finds share a statement depends on the machine's load;
	// that some do shows reads are still batched where writes are not.
	if st.FindStatements >= st.FindCalls {
		t.Errorf("%d finds in %d statements; want some of them batched", st.FindCalls, st.FindStatements)
	}
}

// TestStatementErrorKeepsTheForm prepares a statement with a syntax error
// of its own, in the store's form: the server refuses it (1064, as it
// refuses a form it does not know), the caller gets the error, and the
// store keeps its form instead of moving to plain statements for good.
// Both on a fresh store, where the error comes first, and after the form
// has been in use.
func TestStatementErrorKeepsTheForm(t *testing.T) {
	for _, server := range servers {
		t.Run(server.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t, []string{recommendedTable}, server.opts...)
			defer s.Close()
			ctx := context.Background()
			broken := lazyStmt{build: func(d dialect) string {
				return bounded(d, writeLockBound, "INSERT", " INTO "+s.q.table+" (token, data, expiry) VALUES (?, ?")
			}}
			if _, err := s.prepare(ctx, &broken); serverError(err) != erParse {
				t.Fatalf("a statement with a syntax error: %v; want the server's 1064", err)
			}
			first := dialect(s.dialect.Load())
			if first == dialectPlain {
				t.Fatalf("one statement's syntax error moved the store to plain statements")
			}
			checkContract(t, s)
			if d := dialect(s.dialect.Load()); d != first {
				t.Fatalf("dialect %d after the contract; the broken statement left %d", d, first)
			}
			if _, err := s.prepare(ctx, &broken); serverError(err) != erParse {
				t.Fatalf("the statement again: %v; want the server's 1064", err)
			}
			if d := dialect(s.dialect.Load()); d != first {
				t.Errorf("dialect %d after the error; want it kept at %d", d, first)
			}
			if err := s.Commit(tokenA, []byte("after"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			mustFind(t, s, tokenA, "after")
		})
	}
}

// skipAsMySQL skips a test of what only MariaDB does when the package's
// tests run as against MySQL 8.4 (SESSIONKIT_TEST_AS_MYSQL=1), naming the
// test that covers MySQL's way.
func skipAsMySQL(t *testing.T, why string) {
	t.Helper()
	if mysqltest.AsMySQL() {
		t.Skip("as MySQL 8.4: " + why)
	}
}
