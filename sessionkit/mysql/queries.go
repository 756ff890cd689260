package mysql

import (
	"strconv"
	"strings"
	"time"
)

// queries holds every statement the store runs on its table, in one place, so
// that a new column (such as a per-user index) touches one file.
type queries struct {
	table            string // quoted
	all              string
	createTable      string
	columns          string
	indexes          string
	leaseTableExists string
	ready            string

	// The sessions of a user (see users.go).
	usersAlter   string
	userSessions string
	lockData     string // a renewal's read of the session it renews
	rowExists    string // a row, expired or not
}

// dialect is the form in which the server takes the store's writes with a
// per-statement bound and strict mode. The store starts with the first and
// moves down the list when the server does not understand a form.
type dialect int32

const (
	// dialectMariaDB: SET STATEMENT max_statement_time=..., sql_mode=... FOR.
	dialectMariaDB dialect = iota
	// dialectMySQL: an optimizer hint /*+ SET_VAR(sql_mode=...) */ (MySQL
	// 8.0.3 and later); MySQL has no per-statement bound for writes.
	dialectMySQL
	// dialectPlain: neither, for servers and proxies that refuse both.
	dialectPlain
)

// writeLockBound is how long a write of one session may run on MariaDB
// (max_statement_time), lock waits included: a write whose row is locked
// by another transaction fails after it, and a write whose callers have
// all gone is ended by the server within this time, so that it cannot land
// long after it failed for them. A write of several sessions gets
// batchLockBound: when one of its rows is locked it fails sooner, and its
// sessions are written one by one, so that the others wait little.
const (
	writeLockBound = time.Second
	batchLockBound = 250 * time.Millisecond
)

// strictMode makes the server refuse data over the column's capacity
// (ER_DATA_TOO_LONG) instead of truncating it, whatever the connection's
// sql_mode, so that a column narrowed at run time cannot truncate a session.
const strictMode = "sql_mode='STRICT_ALL_TABLES'"

func newQueries(t tableName) queries {
	q := t.quoted
	return queries{
		table: q,
		// CAST(token AS BINARY) = CAST(? AS BINARY) keeps lookups exact on
		// a case-insensitive, space-padding collation, while token = ?
		// still lets the primary key find the row.
		all: "SELECT token, data FROM " + q + " WHERE expiry > UTC_TIMESTAMP(6)",
		// The primary key's first entry: no scan, whatever the table holds.
		ready: "SELECT 1 FROM " + q + " ORDER BY token LIMIT 1",
		// Oldest first along the expiry index, a bounded number of rows per
		// statement, so that no statement holds row locks for long.
		createTable: "CREATE TABLE IF NOT EXISTS " + q + " (\n" +
			"  token      CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,\n" +
			"  data       MEDIUMBLOB  NOT NULL,\n" +
			"  expiry     DATETIME(6) NOT NULL,\n" +
			"  user_id    " + userIDType + ",\n" +
			"  created    DATETIME(6) NULL,\n" +
			"  last_seen  DATETIME(6) NULL,\n" +
			"  ip         " + ipType + ",\n" +
			"  user_agent " + userAgentType + ",\n" +
			"  INDEX " + quoteIdent(t.indexName()) + " (expiry),\n" +
			"  INDEX " + quoteIdent(t.userIndexName()) + " (user_id)\n" +
			")",
		usersAlter: "ALTER TABLE " + q + "\n" +
			"  ADD COLUMN user_id    " + userIDType + ",\n" +
			"  ADD COLUMN created    DATETIME(6) NULL,\n" +
			"  ADD COLUMN last_seen  DATETIME(6) NULL,\n" +
			"  ADD COLUMN ip         " + ipType + ",\n" +
			"  ADD COLUMN user_agent " + userAgentType + ",\n" +
			"  ADD INDEX " + quoteIdent(t.userIndexName()) + " (user_id)",
		userSessions: "SELECT token, " + timeText("created") + ", " + timeText("last_seen") + ", ip, user_agent FROM " + q +
			" WHERE " + exactUser + " AND expiry > UTC_TIMESTAMP(6) ORDER BY last_seen DESC",
		lockData:  "SELECT data FROM " + q + " WHERE " + exactToken + " FOR UPDATE",
		rowExists: "SELECT 1 FROM " + q + " WHERE " + exactToken,
		columns: "SELECT LOWER(COLUMN_NAME), LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, COLLATION_NAME " +
			"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?",
		leaseTableExists: "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = '" + leaseTableName + "'",
		indexes: "SELECT COUNT(*) FROM information_schema.STATISTICS " +
			"WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ? AND LOWER(COLUMN_NAME) = 'expiry' AND SEQ_IN_INDEX = 1",
	}
}

const exactToken = "token = ? AND CAST(token AS BINARY) = CAST(? AS BINARY)"

// exactUser finds a user's rows by the index and keeps only an exact match:
// a _bin collation still ignores trailing spaces.
const exactUser = "user_id = ? AND CAST(user_id AS BINARY) = CAST(? AS BINARY)"

// expiryText reads expiry back as the UTC wall-clock literal the store wrote
// (see formatExpiry), whatever the driver's parseTime and loc.
var expiryText = timeText("expiry")

func timeText(column string) string {
	return "DATE_FORMAT(" + column + ", '%Y-%m-%d %H:%i:%s.%f')"
}

// The user columns' types: user IDs compare exactly.
const (
	userIDType    = "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL"
	ipType        = "VARCHAR(45) CHARACTER SET ascii NULL"
	userAgentType = "VARCHAR(255) CHARACTER SET utf8mb4 NULL"
)

// seenStale, on a table with the user columns, tells a read whether the
// session is bound to a user and was last seen over a minute ago.
const seenStale = "user_id IS NOT NULL AND (last_seen IS NULL OR last_seen < UTC_TIMESTAMP(6) - INTERVAL 60 SECOND)"

// seenRecently, in a commit's upsert, holds for a row whose last_seen is at
// most a minute older than the commit's (seenStale's minute).
const seenRecently = "last_seen >= VALUES(last_seen) - INTERVAL 60 SECOND"

// bounded prefixes a write with its per-statement settings in dialect d:
// on MariaDB, a bound on its time, lock waits included.
func bounded(d dialect, bound time.Duration, verb, rest string) string {
	switch d {
	case dialectMariaDB:
		return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(bound.Seconds(), 'f', -1, 64) + ", " + strictMode + " FOR " + verb + rest
	case dialectMySQL:
		return verb + " /*+ SET_VAR(" + strictMode + ") */" + rest
	}
	return verb + rest
}

// upsert writes rows sessions in one statement.
func (q queries) upsert(rows int, d dialect, users bool) string {
	bound := writeLockBound
	if rows > 1 {
		bound = batchLockBound
	}
	if !users {
		return bounded(d, bound, "INSERT", " INTO "+q.table+" (token, data, expiry) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", rows), ",")+
			" ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)")
	}
	// created is written once; ip and user_agent are kept where a request
	// gave none, and cleared with the user. last_seen is written only for a
	// session bound to a user, and then only as the read path does (see
	// seenStale): when it is over a minute old, or when the user, the
	// address or the user agent changes with this write. So a commit that
	// changes nothing else leaves the row as it is (the server then writes
	// nothing, as for an anonymous session), instead of rewriting it for a
	// new last_seen. It is assigned before user_id, ip and user_agent, so
	// that it compares with their stored values.
	return bounded(d, bound, "INSERT", " INTO "+q.table+" (token, data, expiry, user_id, created, last_seen, ip, user_agent) VALUES "+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), ?, ?),", rows), ",")+
		" ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry), "+
		"last_seen = IF(VALUES(user_id) IS NULL OR ("+seenRecently+" AND "+
		"CAST(user_id AS BINARY) <=> CAST(VALUES(user_id) AS BINARY) AND "+
		"CAST(ip AS BINARY) <=> CAST(COALESCE(VALUES(ip), ip) AS BINARY) AND "+
		"CAST(user_agent AS BINARY) <=> CAST(COALESCE(VALUES(user_agent), user_agent) AS BINARY)), last_seen, VALUES(last_seen)), "+
		"user_id = VALUES(user_id), created = COALESCE(created, VALUES(created)), "+
		"ip = IF(VALUES(user_id) IS NULL, NULL, COALESCE(VALUES(ip), ip)), "+
		"user_agent = IF(VALUES(user_id) IS NULL, NULL, COALESCE(VALUES(user_agent), user_agent))")
}

// update writes rows sessions that requests found, in one statement, only
// those that still exist and have not expired, so that it never brings back
// a deleted session, and only where the data is still what the request read
// (MD5(data), when the request gave a sum: see Save.Merge). Each column
// takes its row's value by token; with the user columns it sets them as
// upsert does. See Store.update for the arguments.
func (q queries) update(rows int, d dialect, users bool) string {
	bound := writeLockBound
	if rows > 1 {
		bound = batchLockBound
	}
	byToken := func(then string) string {
		return "CASE token" + strings.Repeat(" WHEN ? THEN "+then, rows) + " END"
	}
	if rows == 1 {
		// One session: its values as they are, no CASE to evaluate.
		byToken = func(then string) string { return then }
	}
	set := "data = " + byToken("?") + ", expiry = " + byToken("?")
	if users {
		// As in upsert: last_seen first, so that it compares with the
		// stored user, address and user agent.
		set += ", last_seen = " + byToken("IF(? IS NULL OR (last_seen >= UTC_TIMESTAMP(6) - INTERVAL 60 SECOND AND "+
			"CAST(user_id AS BINARY) <=> CAST(? AS BINARY) AND "+
			"CAST(ip AS BINARY) <=> CAST(COALESCE(?, ip) AS BINARY) AND "+
			"CAST(user_agent AS BINARY) <=> CAST(COALESCE(?, user_agent) AS BINARY)), last_seen, UTC_TIMESTAMP(6))") +
			", user_id = " + byToken("?") +
			", created = COALESCE(created, UTC_TIMESTAMP(6))" +
			", ip = " + byToken("IF(? IS NULL, NULL, COALESCE(?, ip))") +
			", user_agent = " + byToken("IF(? IS NULL, NULL, COALESCE(?, user_agent))")
	}
	// The data as read: a NULL sum asks nothing. The condition is checked
	// before the row is written, on the row as stored.
	unchanged := " AND IFNULL(" + byToken("?") + " = MD5(data), TRUE)"
	if rows == 1 {
		return bounded(d, bound, "UPDATE", " "+q.table+" SET "+set+" WHERE "+exactToken+" AND expiry > UTC_TIMESTAMP(6)"+unchanged)
	}
	list := strings.TrimSuffix(strings.Repeat("?,", rows), ",")
	exact := strings.TrimSuffix(strings.Repeat("CAST(? AS BINARY),", rows), ",")
	return bounded(d, bound, "UPDATE", " "+q.table+" SET "+set+
		" WHERE token IN ("+list+") AND CAST(token AS BINARY) IN ("+exact+") AND expiry > UTC_TIMESTAMP(6)"+unchanged)
}

// retire expires one session now, unless it has expired already, and
// leaves its row, bound to its user, for a renewal to replace or for
// cleanup to delete (see request.go).
//
// The new expiry is marked: it is the last microsecond of the second before
// now (see retired), so that cleanup leaves the row for a minute, which a
// renewal under way needs, and a revocation counts it as a session ended.
func (q queries) retire(d dialect) string {
	return bounded(d, writeLockBound, "UPDATE", " "+q.table+" SET expiry = "+
		"TIMESTAMP(DATE_FORMAT(UTC_TIMESTAMP(6) - INTERVAL 1 SECOND, '%Y-%m-%d %H:%i:%s.999999')) WHERE "+exactToken+" AND expiry > UTC_TIMESTAMP(6)")
}

// retired holds for a row a request retired less than a minute ago (a
// natural expiry on the marked microsecond only waits for the next pass).
const retired = "(MICROSECOND(expiry) = 999999 AND expiry > UTC_TIMESTAMP(6) - INTERVAL 60 SECOND)"

// userRows lists the rows of a user, expired ones too (a retired session
// whose renewal may be under way), and says which are sessions: not
// expired, or retired a moment ago (under way to a new token, or a logout
// about to be deleted).
// With lock, the read locks the rows and the gaps of the user_id index
// between them, so that no row of the user is inserted until the
// transaction ends.
func (q queries) userRows(d dialect, causal, lock bool) string {
	query := "SELECT token, expiry > UTC_TIMESTAMP(6) OR " + retired + " FROM " + q.table + " WHERE " + exactUser
	if lock {
		query += " FOR UPDATE"
	}
	return causalRead(d, causal, query)
}

// deleteTokens deletes the rows of n tokens, exactly.
func (q queries) deleteTokens(n int) string {
	list := strings.TrimSuffix(strings.Repeat("?,", n), ",")
	exact := strings.TrimSuffix(strings.Repeat("CAST(? AS BINARY),", n), ",")
	return "DELETE FROM " + q.table + " WHERE token IN (" + list + ") AND CAST(token AS BINARY) IN (" + exact + ")"
}

// delete removes the session with exactly one token.
func (q queries) delete(d dialect) string {
	return bounded(d, writeLockBound, "DELETE", " FROM "+q.table+" WHERE "+exactToken)
}

// cleanupBound is how long one cleanup statement may run on MariaDB, lock
// waits included: well within a third of the lease's term, so that the
// lease, renewed between statements, cannot expire while one runs.
const cleanupBound = 8 * time.Second

// deleteExpired deletes at most ? expired sessions, oldest first along the
// expiry index, so that no statement holds row locks for long.
func (q queries) deleteExpired(d dialect) string {
	return bounded(d, cleanupBound, "DELETE", " FROM "+q.table+" WHERE expiry <= UTC_TIMESTAMP(6) AND NOT "+retired+" ORDER BY expiry LIMIT ?")
}

// touch moves the expiry of one session, and nothing else (but last_seen),
// only forward and only while it has not expired: an expiry-only write can
// neither undo another replica's write nor bring back a deleted or expired
// session.
func (q queries) touch(d dialect, users bool) string {
	seen := ""
	if users {
		seen = ", last_seen = IF(user_id IS NULL, last_seen, UTC_TIMESTAMP(6))"
	}
	return bounded(d, writeLockBound, "UPDATE", " "+q.table+" SET expiry = GREATEST(expiry, ?)"+seen+" WHERE "+exactToken+" AND expiry > UTC_TIMESTAMP(6)")
}

// seen records that a session bound to a user was just used, and by what.
func (q queries) seen(d dialect) string {
	// expiry = expiry: an expiry column with ON UPDATE CURRENT_TIMESTAMP
	// (scs's TIMESTAMP one on older servers) would otherwise be set to now.
	return bounded(d, writeLockBound, "UPDATE", " "+q.table+" SET expiry = expiry, last_seen = UTC_TIMESTAMP(6), ip = COALESCE(?, ip), user_agent = COALESCE(?, user_agent) WHERE "+exactToken)
}

// plainFind reads the sessions under a plain token and under its hash,
// with their expiry, for UpgradePlainTokens. It does not compare tokens
// exactly: the caller keeps only byte-for-byte equal ones.
func (q queries) plainFind(d dialect, causal bool) string {
	return causalRead(d, causal, "SELECT token, data, "+expiryText+" FROM "+q.table+" WHERE token IN (?, ?) AND expiry > UTC_TIMESTAMP(6)")
}

// moveToken moves an unexpired session from one token to another, with
// new data, only if its data is still what was read: a session changed or
// moved meanwhile is left alone. (expiry = expiry: see seen.)
func (q queries) moveToken(d dialect) string {
	return bounded(d, writeLockBound, "UPDATE", " "+q.table+" SET token = ?, data = ?, expiry = expiry WHERE "+exactToken+" AND data = ? AND expiry > UTC_TIMESTAMP(6)")
}

// plainPage lists unexpired sessions after a token, in primary-key order,
// for UpgradeTokens.
func (q queries) plainPage() string {
	return "SELECT token, data FROM " + q.table + " WHERE token > ? AND expiry > UTC_TIMESTAMP(6) ORDER BY token LIMIT ?"
}

// findMany reads rows sessions in one statement. It does not compare tokens
// exactly: the caller keeps only byte-for-byte equal ones.
func (q queries) findMany(rows int, d dialect, causal, users, expiry bool) string {
	return causalRead(d, causal, "SELECT token, data, "+expiryColumn(expiry)+", "+staleColumn(users)+" FROM "+q.table+" WHERE token IN ("+
		strings.TrimSuffix(strings.Repeat("?,", rows), ",")+") AND expiry > UTC_TIMESTAMP(6)")
}

// findOne reads one session.
func (q queries) findOne(d dialect, causal, users, expiry bool) string {
	return causalRead(d, causal, "SELECT data, "+expiryColumn(expiry)+", "+staleColumn(users)+" FROM "+q.table+" WHERE "+exactToken+" AND expiry > UTC_TIMESTAMP(6)")
}

// expiryColumn reads expiry back only where touch coalescing needs it.
func expiryColumn(needed bool) string {
	if needed {
		return expiryText
	}
	return "''"
}

func staleColumn(users bool) string {
	if users {
		return seenStale
	}
	return "FALSE"
}

// causalRead makes a read on a Galera node wait until the node has applied
// every write the cluster committed before it (wsrep_sync_wait=1), so that a
// session written through one node is read as written through any other.
// Only MariaDB takes it per statement; elsewhere the pool must set it (see
// CheckSchema).
func causalRead(d dialect, causal bool, query string) string {
	if causal && d == dialectMariaDB {
		return "SET STATEMENT wsrep_sync_wait=1 FOR " + query
	}
	return query
}
