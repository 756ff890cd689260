package mysql

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// Cleanup leases. GET_LOCK is local to one server: on a multi-primary
// cluster (Galera, Group Replication) replicas connected to different nodes
// would all take it at once. There the cleanup also takes a lease: a row in
// the table sessionkit_leases, in the session table's database, written
// through the cluster like any other row, so that one pass runs at a time
// across the whole cluster. A lease lasts leaseTerm and is renewed while the
// pass runs, so a replica that dies holding one blocks the others for at
// most leaseTerm. Replicas of the previous version, which take only
// GET_LOCK, still exclude new ones on the same node, since new ones take
// GET_LOCK too.

// leaseTerm is how long a cleanup lease lasts unless renewed.
const leaseTerm = 30 * time.Second

// leaseTableName is the table of leases, one per database.
const leaseTableName = "sessionkit_leases"

func (t tableName) leaseTable() string {
	if t.schema == "" {
		return quoteIdent(leaseTableName)
	}
	return quoteIdent(t.schema) + "." + quoteIdent(leaseTableName)
}

// leaseQueries are the statements on the lease table.
type leaseQueries struct {
	create, acquire, holder, release string
}

func newLeaseQueries(t tableName) leaseQueries {
	l := t.leaseTable()
	return leaseQueries{
		create: "CREATE TABLE IF NOT EXISTS " + l + " (\n" +
			"  name    VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,\n" +
			"  holder  VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n" +
			"  expires DATETIME(6) NOT NULL\n" +
			")",
		// Take the lease if it is free or expired, or renew it if it is
		// ours. Assignments run left to right: expires sees the new holder.
		acquire: "INSERT INTO " + l + " (name, holder, expires) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND) " +
			"ON DUPLICATE KEY UPDATE " +
			"holder = IF(expires <= UTC_TIMESTAMP(6) OR holder = VALUES(holder), VALUES(holder), holder), " +
			// The same condition as holder's, so that it holds whether
			// the server assigns left to right or all at once (MariaDB's
			// SIMULTANEOUS_ASSIGNMENT): after holder, it is ours.
			"expires = IF(expires <= UTC_TIMESTAMP(6) OR holder = VALUES(holder), VALUES(expires), expires)",
		holder:  "SELECT holder FROM " + l + " WHERE name = ?",
		release: "UPDATE " + l + " SET expires = UTC_TIMESTAMP(6) WHERE name = ? AND holder = ?",
	}
}

// lease is one replica's claim on the cleanup of one table.
type lease struct {
	s       *Store
	conn    *sql.Conn
	name    string // the lease row: "cleanup:" and the table
	holder  string // this store, unique
	renewed time.Time
}

// leaseName is the lease row of a table's cleanup: "cleanup:" and the
// quoted table name, or, past the column's 100 characters, its start and a
// hash of the whole.
func leaseName(quoted string) string {
	name := "cleanup:" + quoted
	if len(name) <= 100 {
		return name
	}
	h := sha256.Sum256([]byte(quoted))
	return name[:100-17] + ":" + hex.EncodeToString(h[:8])
}

func newHolder() string {
	host, _ := os.Hostname()
	var b [8]byte
	rand.Read(b[:])
	h := fmt.Sprintf("%.60s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	return h
}

// acquireLease takes the cleanup lease on conn. It returns nil, nil when
// another replica holds it, and nil with an error when leases cannot be used
// (the table is missing and cannot be created): the pass then relies on
// GET_LOCK alone.
func (s *Store) acquireLease(ctx context.Context, conn *sql.Conn) (*lease, error) {
	l := &lease{s: s, conn: conn, name: leaseName(s.table.quoted), holder: s.cleanup.holder}
	ok, err := l.take(ctx)
	if serverError(err) == erNoSuchTable {
		qctx, cancel := s.queryContext(ctx)
		_, cerr := conn.ExecContext(qctx, s.lq.create)
		cancel()
		if cerr != nil {
			return nil, fmt.Errorf("creating %s for cluster-wide cleanup: %w", s.table.leaseTable(), cerr)
		}
		ok, err = l.take(ctx)
	}
	switch {
	case serverError(err) == erLockDeadlock:
		return nil, nil // another node took it at the same moment
	case err != nil:
		return nil, err
	case !ok:
		return nil, nil
	}
	return l, nil
}

// take writes the lease row and reads back who holds it.
func (l *lease) take(ctx context.Context) (bool, error) {
	ctx, cancel := l.s.queryContext(ctx)
	defer cancel()
	if _, err := l.conn.ExecContext(ctx, l.s.lq.acquire, l.name, l.holder, leaseTerm.Microseconds()); err != nil {
		return false, err
	}
	var holder string
	if err := l.conn.QueryRowContext(ctx, causalRead(dialect(l.s.dialect.Load()), l.s.causalReads(), l.s.lq.holder), l.name).Scan(&holder); err != nil {
		return false, err
	}
	l.renewed = time.Now()
	return holder == l.holder, nil
}

// renew extends the lease when a third of its term has passed; it reports
// false when the lease was lost (it expired and another replica took it).
func (l *lease) renew(ctx context.Context) (bool, error) {
	if l == nil || time.Since(l.renewed) < leaseTerm/3 {
		return true, nil
	}
	return l.take(ctx)
}

// release frees the lease at once, so that the next replica need not wait
// for it to expire.
func (l *lease) release() {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.conn.ExecContext(ctx, l.s.lq.release, l.name, l.holder)
}
