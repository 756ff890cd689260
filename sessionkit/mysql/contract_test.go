package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// Tables the store must work on: the recommended one and the one from scs's
// README, unchanged.
const (
	recommendedTable = `CREATE TABLE sessions (
  token  CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  data   MEDIUMBLOB  NOT NULL,
  expiry DATETIME(6) NOT NULL,
  INDEX sessions_expiry_idx (expiry)
)`
	scsREADMETable = `CREATE TABLE sessions (
  token CHAR(43) PRIMARY KEY,
  data BLOB NOT NULL,
  expiry TIMESTAMP(6) NOT NULL
)`
	scsREADMEIndex = `CREATE INDEX sessions_expiry_idx ON sessions (expiry)`
)

var tableDefinitions = []struct {
	name string
	ddl  []string
}{
	{"recommended", []string{usersTable}},
	{"previous version", []string{recommendedTable}},
	{"scs README", []string{scsREADMETable, scsREADMEIndex}},
}

// usersTable is what CreateTable makes: the previous version's table with
// the user columns.
var usersTable = newQueries(tableName{name: "sessions", quoted: "`sessions`"}).createTable

// newDB returns a pool on a fresh database with the given statements run.
func newDB(t testing.TB, ddl []string, opts ...mysqltest.Option) *sql.DB {
	t.Helper()
	db := mysqltest.DB(t, opts...)
	for _, q := range ddl {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// newStore returns a store without background cleanup on a fresh database.
func newStore(t testing.TB, ddl []string, opts ...mysqltest.Option) (*Store, *sql.DB) {
	t.Helper()
	db := newDB(t, ddl, opts...)
	s := NewWithCleanupInterval(db, 0)
	return s, db
}

const tokenA = "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTu"
const tokenB = "bAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTu"

// servers are the two a test runs on when it loops over them: the test
// server as it is (MariaDB, as a rule), and the same answering as MySQL 8.4
// (mysqltest.AsMySQL84), so that the store's MySQL forms run too.
var servers = []struct {
	name string
	opts []mysqltest.Option
}{
	{"server", nil},
	{"as MySQL 8.4", []mysqltest.Option{mysqltest.MySQL84()}},
}

func TestStoreContract(t *testing.T) {
	for _, server := range servers {
		for _, def := range tableDefinitions {
			t.Run(server.name+"/"+def.name, func(t *testing.T) {
				t.Parallel()
				s, _ := newStore(t, def.ddl, server.opts...)
				checkContract(t, s)
			})
		}
	}
}

// checkContract runs s through scs's Store and CtxStore contract.
func checkContract(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()

	if b, found, err := s.Find(tokenA); err != nil || found || b != nil {
		t.Fatalf("Find of a missing token = %q, %v, %v; want nil, false, nil", b, found, err)
	}
	if err := s.Delete(tokenA); err != nil {
		t.Fatalf("Delete of a missing token: %v", err)
	}
	all, err := s.All()
	if err != nil || all == nil || len(all) != 0 {
		t.Fatalf("All on an empty table = %v (nil: %v), %v; want an empty non-nil map", all, all == nil, err)
	}

	if err := s.Commit(tokenA, []byte("one"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "one")

	if err := s.CommitCtx(ctx, tokenA, []byte("two"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "two")

	if err := s.Commit(tokenB, []byte("expired"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenB)

	all, err = s.AllCtx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || string(all[tokenA]) != "two" {
		t.Fatalf("All = %q; want only %s with \"two\" (never the expired one)", all, tokenA)
	}

	if err := s.DeleteCtx(ctx, tokenA); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenA)

	// Empty data round-trips as found, empty.
	if err := s.Commit(tokenA, nil, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "")
}

func mustFind(t *testing.T, s *Store, token, want string) {
	t.Helper()
	b, found, err := s.Find(token)
	if err != nil || !found || !bytes.Equal(b, []byte(want)) {
		t.Fatalf("Find(%s) = %q, %v, %v; want %q, true, nil", token, b, found, err, want)
	}
}

func mustNotFind(t *testing.T, s *Store, token string) {
	t.Helper()
	b, found, err := s.Find(token)
	if err != nil || found || b != nil {
		t.Fatalf("Find(%s) = %q, %v, %v; want nil, false, nil", token, b, found, err)
	}
}

var _ = errors.Is
