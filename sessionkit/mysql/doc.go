// Package mysql is a MySQL and MariaDB session store for
// github.com/alexedwards/scs/v2.
//
// It is a drop-in successor to scs's mysqlstore: the same constructors work on
// the same table, so switching is a change of import line. On top of that it
// is context-aware, makes one round trip per operation, keeps expiry right in
// any time zone, refuses session data that the table cannot hold instead of
// letting the server truncate it, and cleans up expired sessions in small
// batches, one replica at a time.
//
// # Table
//
// CreateTable makes the recommended table:
//
//	CREATE TABLE sessions (
//	  token  CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
//	  data   MEDIUMBLOB  NOT NULL,
//	  expiry DATETIME(6) NOT NULL,
//	  INDEX sessions_expiry_idx (expiry)
//	);
//
// Tokens are case-sensitive base64url strings of 43 characters (also when scs
// stores their SHA-256), so an ascii_bin column compares them exactly. A BLOB
// holds 64 KiB, a MEDIUMBLOB 16 MiB. DATETIME stores the UTC wall-clock time
// the store writes with no time-zone conversion and no 2038 limit.
//
// The table from scs's README (token CHAR(43) PRIMARY KEY, data BLOB NOT
// NULL, expiry TIMESTAMP(6) NOT NULL) keeps working unchanged.
//
// # Time zones
//
// The store writes expiry as a UTC wall-clock literal and compares it with
// UTC_TIMESTAMP(6), never passing a time.Time to the driver, so neither the
// driver's loc parameter nor the server's time zone moves it. For a DATETIME
// column this is exact to the microsecond under any server, session or client
// time zone.
//
// A TIMESTAMP column converts between the session time zone and UTC on every
// write and read. Under a UTC session time zone (time_zone='+00:00', as
// sessionkit sets on its own pool) it is exact too. Under any other session
// time zone the literal is read as local time on write and converted back on
// read, so expiry still comes out right as long as every connection that
// writes and reads the table uses the same session time zone, with two
// exceptions: in a zone with daylight saving time, an expiry that falls in
// the hour skipped when clocks go forward is stored as the end of that hour,
// so that session lives up to an hour longer; and other tools that read the
// column see times shifted by the zone's offset. TIMESTAMP also ends in 2038. CheckSchema warns
// about a TIMESTAMP column under a non-UTC session time zone; DATETIME avoids
// all of this.
//
// # Tokens
//
// Find and Delete compare tokens byte for byte, also on a column with a
// case-insensitive collation such as the default one of the scs README table,
// where a token differing only in letter case or by trailing spaces would
// otherwise match. Commit on such a column still upserts by the column's
// collation; with random 43-character tokens two live sessions never differ
// by letter case alone, but CheckSchema warns so that the column can be moved
// to ascii_bin.
//
// # Session size
//
// Commit refuses data longer than the data column holds with an error that
// matches ErrTooLarge, before anything is written, whatever the sql_mode: the
// stored session stays as it was. The store reads the column's capacity from
// information_schema on first use and again, at most once a minute, when data
// would not fit, so that a column widened while the application runs is seen.
//
// # Round trips and batching
//
// Find, Commit and Delete each make one round trip: their statements are
// prepared once per connection and reused. On top of that, a store runs at
// most MaxInflight (4 unless configured) Find statements, and as many Commit
// statements, at once. Calls that arrive while they all run wait, and the
// next statement to finish takes every waiting call of its kind (up to 64)
// into one statement: Finds into one SELECT ... WHERE token IN (...), Commits
// into one multi-row INSERT ... ON DUPLICATE KEY UPDATE, one transaction for
// all of them. Under load the server runs far fewer statements and
// transactions; on an idle store a call runs at once and alone, under its
// own context, exactly as without batching. Of two Commits of one token in a
// batch the later wins, as it would one after the other. A call whose
// context ends while it waits is withdrawn; one whose batch is already
// running returns the context's error while the batch completes, as a
// cancelled statement that reached the server may. MaxInflight < 0 gives
// every call a statement of its own.
//
// # Cleanup
//
// A background goroutine deletes expired sessions every CleanupInterval
// (5 minutes unless configured), starting after a random delay within the
// interval so that replicas started together spread out. Each pass takes the
// server's named lock GET_LOCK('sessionkit:<db>.<table>', 0); when another
// replica holds it the pass is skipped, and where the server refuses named
// locks (some clusters and proxies do) the pass runs anyway. A pass deletes
// at most CleanupBatchSize rows per statement, oldest first, until none are
// left, so no statement holds locks for long. Errors are logged with log/slog
// and the loop goes on. StopCleanup stops it and waits for it.
package mysql
