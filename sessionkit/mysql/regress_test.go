package mysql

// Regression tests for faults found in a review of the store: each failed
// before its fix.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestUserIDComparesExactly: user_id is utf8mb4_bin, a PAD SPACE
// collation on MariaDB (and utf8mb4_bin on MySQL 8), so "ada " is the same
// user as "ada": another account whose ID only adds trailing spaces lists
// ada's sessions (with IP and user agent) and revokes them. Such an ID is
// now refused outright (CheckUserID).
func TestUserIDComparesExactly(t *testing.T) {
	t.Parallel()
	s, _ := usersStore(t)
	ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1", UserAgent: "Ada's Browser"})
	if err := s.CommitCtx(ctx, tokenA, userData(t, "ada"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, err := s.Sessions(context.Background(), "ada ")
	if !errors.Is(err, ErrUserID) || len(list) != 0 {
		t.Errorf(`Sessions("ada ") = %+v, %v; want none and ErrUserID: that is not ada`, list, err)
	}
	if n, err := s.RevokeUser(context.Background(), "ada ", ""); !errors.Is(err, ErrUserID) || n != 0 {
		t.Errorf(`RevokeUser("ada ") = %d, %v; want 0 and ErrUserID`, n, err)
	}
	if list, err := s.Sessions(context.Background(), "ada"); err != nil || len(list) != 1 {
		t.Errorf("Sessions(ada) = %+v, %v; want ada's session, still there", list, err)
	}
}

// TestUserAgentNotUTF8IsRepaired: the user agent is an HTTP header, which
// may hold bytes that are not UTF-8 (net/http passes obs-text through). The
// store writes it in strict mode into a utf8mb4 column, so the server
// refuses the whole row: every Commit of a logged-in session of that client
// fails.
func TestUserAgentNotUTF8IsRepaired(t *testing.T) {
	t.Parallel()
	s, _ := usersStore(t)
	ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (caf\xe9)"})
	if err := s.CommitCtx(ctx, tokenA, userData(t, "ada"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit of a logged-in session whose User-Agent is not UTF-8: %v", err)
	}
	// An anonymous session is not affected (no user columns written).
	if err := s.CommitCtx(ctx, tokenB, userData(t, ""), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("anonymous Commit: %v", err)
	}
}

// TestLastSeenKeepsAnAutoUpdatedExpiry: scs's README table created on
// MariaDB before 10.10 (explicit_defaults_for_timestamp=OFF) or MySQL 5.x
// gets "expiry TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE
// CURRENT_TIMESTAMP(6)". With the user columns added (CheckUsers's ALTER),
// the once-a-minute last_seen UPDATE (seenStale) does not set expiry, so
// the server sets it to now: the session of a logged-in user ends on its
// first read a minute after its last write.
func TestLastSeenKeepsAnAutoUpdatedExpiry(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{`CREATE TABLE sessions (
  token CHAR(43) PRIMARY KEY,
  data BLOB NOT NULL,
  expiry TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
)`, scsREADMEIndex}, mysqltest.Param("time_zone", "%27%2B00:00%27"))
	probe := NewWithCleanupInterval(db, 0)
	var missing *UsersMissingError
	if err := probe.CheckUsers(context.Background()); !errors.As(err, &missing) {
		t.Fatalf("CheckUsers on a table without the user columns = %v; want a *UsersMissingError", err)
	}
	if _, err := db.Exec(strings.TrimSuffix(missing.AlterStatement, ";")); err != nil {
		t.Fatal(err)
	}
	probe.Close()
	s := NewWithCleanupInterval(db, 0)
	defer s.Close()
	if err := s.CheckSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, userData(t, "ada"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A minute and more later (expiry = expiry keeps it as it is).
	if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE, expiry = expiry"); err != nil {
		t.Fatal(err)
	}
	ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1", UserAgent: "B"})
	if _, found, err := s.FindCtx(ctx, tokenA); err != nil || !found {
		t.Fatalf("first Find = %v, %v", found, err)
	}
	if _, found, err := s.Find(tokenA); err != nil || !found {
		t.Errorf("second Find = %v, %v: the last_seen update moved expiry to now and ended the session", found, err)
	}
}

// TestCommitCopiesTheCallersData: with TouchInterval the store keeps
// the caller's slice as "what was written"; a caller that reuses its buffer
// for the next Commit makes the store compare the new data with itself, and
// the change is never written.
func TestCommitCopiesTheCallersData(t *testing.T) {
	t.Parallel()
	s, _ := touchStore(t)
	deadline := time.Now().Add(24 * time.Hour)
	one := encode(t, deadline, map[string]any{"n": 1})
	two := encode(t, deadline, map[string]any{"n": 2})
	if len(one) != len(two) {
		t.Skip("encodings differ in length")
	}
	buf := append([]byte(nil), one...)
	if err := s.Commit(tokenA, buf, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	copy(buf, two) // the caller's buffer, reused after Commit returned
	if err := s.Commit(tokenA, buf, time.Now().Add(time.Hour+time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := s.Find(tokenA); string(b) != string(two) {
		t.Errorf("the second Commit's data was not written: the store compared it with the caller's reused buffer")
	}
}

// TestLeaseOfALongTableName: the lease row's name is "cleanup:" and the
// quoted table, up to 141 characters for db.name, but the column is
// VARCHAR(100): under a strict sql_mode (the default) the lease cannot be
// taken, and on a cluster every pass runs with GET_LOCK alone, which is
// local to one node.
func TestLeaseOfALongTableName(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	schema := "lease_" + strings.Repeat("d", 33)
	table := strings.Repeat("t", 50)
	if _, err := db.Exec("CREATE DATABASE " + schema); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP DATABASE " + schema)
	cfg := tableConfig(schema + "." + table)
	cfg.PoolSetsSyncWait = true
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.cluster.Store(clusterGalera)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l, err := s.acquireLease(context.Background(), conn)
	if err != nil || l == nil {
		t.Errorf("acquireLease on a free lease = %v, %v; want the lease", l, err)
	}
}
