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
// CreateTable makes the recommended table, of eight columns (for the table
// "sessions"; CreateTableStatement gives it for the store's table):
//
//	CREATE TABLE IF NOT EXISTS `sessions` (
//	  token      CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
//	  data       MEDIUMBLOB  NOT NULL,
//	  expiry     DATETIME(6) NOT NULL,
//	  user_id    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
//	  created    DATETIME(6) NULL,
//	  last_seen  DATETIME(6) NULL,
//	  ip         VARCHAR(45) CHARACTER SET ascii NULL,
//	  user_agent VARCHAR(255) CHARACTER SET utf8mb4 NULL,
//	  INDEX `sessions_expiry_idx` (expiry),
//	  INDEX `sessions_user_idx` (user_id)
//	);
//
// Tokens are case-sensitive base64url strings of 43 characters (also when scs
// stores their SHA-256), so an ascii_bin column compares them exactly. A BLOB
// holds 64 KiB, a MEDIUMBLOB 16 MiB. DATETIME stores the UTC wall-clock time
// the store writes with no time-zone conversion and no 2038 limit. The five
// columns from user_id on record the sessions of a user (see Sessions):
// NULL for an anonymous session.
//
// Only token, data and expiry are needed: the table from scs's README (token
// CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL),
// and the three-column table of earlier versions, keep working unchanged,
// without the sessions of a user (CheckUsers gives the ALTER TABLE that adds
// their columns).
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
// information_schema on first use and again after a minute, and its writes
// run in strict mode (SET STATEMENT on MariaDB, a SET_VAR hint on MySQL 8),
// so that a column narrowed while the application runs makes the server
// refuse the row (also with an empty sql_mode), which the store answers with
// ErrTooLarge and a fresh read of the capacity.
//
// # Concurrency
//
// A store's Finds and its writes each have MaxInflight slots (4 in
// DefaultConfig) for their statements. A call that finds a slot free runs
// its statement at once; any other waits in a queue, and the next statement
// to start takes everything queued that one statement can take as one batch
// (up to 64 sessions and 1 MiB, calls of one kind; a Delete or an
// expiry-only touch alone), under a context that ends when the last of its
// callers has gone or the store is closed. A statement that runs past 50ms
// gives its slot up, so that a locked row or a stalled server does not take
// every slot (no statement starts while eight times MaxInflight run past
// theirs). Writes keep a per-token order: a write starts only when no
// earlier write of its session is running, queued ahead of it or in doubt; a
// write is in doubt when its callers have gone while the server may still
// apply it, until the server's bound on it has passed (the doubt window: a
// second and a margin on MariaDB; MySQL bounds no write statement, so there
// the store does not wait, and does not batch writes). A write batch that
// the server refuses is split in halves, down to single sessions, so that
// only the calls of the session it refuses fail.
//
// # Round trips and batching
//
// Find, Commit and Delete each make one round trip: their statements are
// prepared once per connection and reused. A batch of Finds is one SELECT
// ... WHERE token IN (...), a batch of Commits one multi-row INSERT ... ON
// DUPLICATE KEY UPDATE, one transaction for all of them. Under load the
// server runs far fewer statements and transactions; on an idle store a
// call runs at once. Of two Commits of one token in a batch the later wins,
// as it would one after the other. Statements come in sizes of powers of
// two, padded with the batch's smallest session, and one that padding
// would take over 1 MiB is sent as two. MaxInflight 0 gives every call a
// statement of its own. Writes are batched only on MariaDB, where a write
// statement carries a bound of its own (below); on MySQL a batch with a
// locked row would hold its other sessions up to innodb_lock_wait_timeout,
// so there every write has a statement of its own.
//
// One slow session never holds up the others:
//
//   - A statement that runs longer than 50ms (a row locked by another
//     transaction, a stalled server) gives its slot up, so that other
//     statements start.
//   - Writes are fenced by session: a Commit or Delete never starts while an
//     earlier write of the same token is running; it waits, without a slot,
//     and does not join a batch with other sessions.
//   - Every call waits at most until its own context ends, bounded by
//     QueryTimeout from the moment it was called, whether it is queued or
//     its statement is running; a queued call whose context ends is
//     withdrawn and never written.
//   - A statement of several sessions that the server refuses (one row over
//     a narrowed column, a lock wait, a cluster certification conflict) is
//     split in halves down to single sessions, so that only the calls of the
//     session it refuses fail.
//
// # Order of writes
//
// Writes of one session made through one Store are applied in the order in
// which they were called, whatever their callers' deadlines: a Delete (a
// logout) is never undone by an earlier Commit of the same session, even one
// that had already failed for its caller. A write whose callers have all
// gone is cancelled, but the server may still apply it: the driver closes
// the connection, and a statement waiting for a row lock goes on waiting.
// On MariaDB every write therefore carries a server-side bound
// (max_statement_time, one second) that ends a lock wait, and the store
// holds the session's later writes back until that bound has passed. So a
// Commit that returned a context error may still have been applied, at
// most about a second after it was sent, but never after a later write of
// the same session.
//
// Across stores (replicas of a service), the server orders writes of one
// row by its row lock; what holds there is the same bound: on MariaDB a
// write is applied within a second of its last caller giving up, or not at
// all. MySQL has no per-statement bound for writes (its max_execution_time
// covers SELECT only), so there the statement is cancelled as soon as its
// callers have gone, and a write waiting for a row lock may still be applied
// until innodb_lock_wait_timeout (50 seconds by default; sessionkit sets it
// to SESSION_DB_QUERY_TIMEOUT on its own pool); set it low on a pool you
// bring. Servers or proxies that refuse both SET STATEMENT and optimizer
// hints get plain statements, with the same caveat. The store moves to the
// next form only when the server refuses the form itself: when a statement
// is refused as a syntax error, it prepares SELECT 1 in the same form, and
// keeps the form if the server takes that (the statement was wrong, not
// the form; the caller gets its error). Its tests run the MySQL form on
// MariaDB through a connection that answers as MySQL 8.4 would
// (internal/mysqltest.AsMySQL84).
//
// # Sessions that ended stay ended
//
// In a context of WithRequest (sessionkit's middleware makes one for every
// request), the store knows which sessions the request found. A Commit of
// such a session is an UPDATE of the row that is still there, never an
// insert: when the session was deleted meanwhile (revoked, logged out in
// another tab, removed by cleanup) or has expired, nothing is written, the
// Commit returns nil and SessionEnded reports it, so that the middleware
// sends no session cookie. This holds across replicas and on a cluster, because
// it is the row itself that decides. Only a session the request did not
// find (a new one, a token just renewed) is inserted. Updates are batched
// like upserts (one UPDATE of up to 64 sessions, each column chosen by
// token); the server counts only rows it changed, so only when fewer rows
// changed than were sent does a read ask which ones are gone. The
// expiry-only touch is an UPDATE of an unexpired row too, and reports an
// ended session the same way. A session that ended in a request is not
// written again in it (scs commits again after a handler's own
// Manager.Commit), and once a session the request found has ended, no new
// session is inserted in it, so that scs's RenewToken cannot carry the
// ended session's values, its user included, to a new token; Kit.Login
// (MarkLogin) is the exception, since its user has just proved who they
// are. A Delete of a session the request found (scs's RenewToken and
// Destroy) expires its row now and leaves it, still bound to its user; the
// renewed token is inserted in one transaction with that row's deletion,
// and only while the row is there, and RevokeUser and Revoke delete a
// user's expired rows too, so that a revocation between RenewToken and the
// request's save ends the renewed session as well. FinishRequest deletes a
// row that was not renewed (a logout). A touch that coalescing skips writes
// nothing and reads nothing, and sessionkit's response sends no cookie (see
// Request.Skipped); if the session ended meanwhile, the next request finds
// none.
//
// Concurrent saves of one session are merged, not overwritten, when the
// middleware gives a Save with Merge (sessionkit's does): the UPDATE of a
// session the request found holds only while MD5(data) is still what the
// request read, so detecting a conflict costs nothing when there is none.
// When fewer rows changed than were sent, the read that follows tells an
// ended session from one another request saved; for the latter the store
// opens the stored data, Merge applies the request's changes (the keys it
// put or removed) to it, and the store seals and writes the result under
// the same condition, up to 64 times, each lost round being a round another
// save won. Saves of one session in one batch are written one after the
// other. A renewal reads the session it renews (SELECT ... FOR UPDATE, in its
// transaction) and starts from the merge.
//
// The store used alone, without that context, cannot tell a session it
// found from a new one: it writes every Commit as scs's stores do (insert
// or replace), and a request that saves after a Delete writes the session
// back.
//
// # A request's record without sessionkit
//
// sessionkit's middleware does all of this; a middleware of your own that
// wants the same guarantees must do each step, in a fresh Request for every
// request:
//   - before scs's LoadAndSave: ctx = WithRequest(ctx, req), with req's IP,
//     UserAgent and (with UpgradePlainTokens) PlainToken filled in. Without
//     it the store is scs's drop-in: every save an upsert, the last one
//     whole.
//   - inside LoadAndSave, just before scs commits (the handler's first
//     header write, or its return): req.Saving with the bound user, whether
//     the values or deadline changed since the handler started, and a Merge.
//     Without it the store decodes each save's data to learn the user and
//     whether it changed, and concurrent saves are not merged (the last one
//     wins whole).
//   - in a login, before scs's RenewToken: MarkLogin(ctx). Without it a
//     login whose old session was revoked meanwhile writes nothing.
//   - just before the response's header is sent: drop the session's
//     Set-Cookie when SessionEnded(ctx) or req.Skipped() (a client could
//     otherwise be handed an ended session's cookie, or lose a newer one
//     set by another of its requests), then call Store.FinishRequest(ctx).
//     Without FinishRequest a logged-out session's expired row waits for
//     cleanup.
//
// # Zero values
//
// DefaultConfig holds New's settings. In Config, zero means "off" wherever a
// setting can be off: CleanupInterval (no background cleanup), QueryTimeout
// (no bound beyond the caller's context) and MaxInflight (no batching);
// CleanupBatchSize must be at least 1; negative values are errors.
// NewWithCleanupInterval, like scs's mysqlstore, disables cleanup for zero
// and also for a negative interval.
//
// # Closing
//
// Close stops the cleanup, fails calls still queued with ErrClosed, cancels
// the batched statements still running and waits for the store's
// goroutines, and closes the prepared statements; the *sql.DB stays open. StopCleanup stops only the cleanup, as
// scs's mysqlstore does.
//
// # Fewer writes
//
// With an idle timeout scs commits every session on every request, so that
// its expiry moves, even when nothing in it changed. With
// Config.TouchInterval set (sessionkit always sets it: a tenth of the idle
// timeout, at
// most a minute), a Commit whose session holds the same deadline and values
// as what was last read or written for its token is not written while its
// expiry moves by less than TouchInterval, and is written as an expiry-only
// UPDATE once it has moved further (only forward, and only while the row has
// not expired). The expiry in the table is then early by at most
// TouchInterval, never late. A skipped or expiry-only write can neither undo
// another replica's write nor bring back a deleted session.
//
// In a context made with WithRequest (sessionkit's middleware makes one per
// request), whether a Commit changed the session is what the middleware
// read from scs just before scs committed (Request.Saving): the handler's
// values and deadline compared with those the request loaded. So the store
// decodes nothing, and a request that only read cannot overwrite a change a
// concurrent request of the same session saved. The same Save names the
// user the session is bound to, for the user columns.
//
// The store used alone (scs's drop-in, without that context) has no such
// record, and pays for it: it remembers the last read or write of up to
// 10,000 tokens, and compares a Commit's data with it, byte for byte and,
// when the bytes differ, by decoding both with scs's GobCodec (whose
// encoding of a map orders its keys at random), so that an unchanged session
// of several values costs two decodings per Commit; and on a table with the
// user columns it decodes the data of each Commit that holds UserKey once,
// to learn its user. A store with TouchInterval zero remembers nothing.
//
// # Cleanup
//
// A background goroutine deletes expired sessions every CleanupInterval
// (5 minutes in DefaultConfig). Its first pass runs one interval after the
// store is made, as scs's mysqlstore's does, plus a random delay of up to a
// tenth of the interval, so that replicas started together spread out; a
// session is then deleted at most a tenth of an interval later than scs's
// schedule would delete it. Each pass takes the
// server's named lock GET_LOCK('sessionkit:<db>.<table>', 0); when another
// replica holds it the pass is skipped, and where the server refuses named
// locks the pass runs anyway. On a node of a multi-primary cluster (Galera,
// Group Replication), where GET_LOCK is local to the node, a pass also takes
// a lease: a row in the table sessionkit_leases of the same database (made
// on the first pass if the user may create tables; CheckSchema shows its
// CREATE statement otherwise), which lasts 30 seconds and is renewed while
// the pass runs, so that one pass runs at a time across the cluster and a
// replica that dies holding it blocks the others for at most that long.
//
// A pass deletes at most CleanupBatchSize rows per statement, oldest first,
// until none are left, so no statement holds locks for long or makes a
// large write set. It paces itself by the time each statement takes: a
// batch slower than 60ms halves the next (down to a tenth of
// CleanupBatchSize) and is followed by a pause as long as it took; batches
// quicker than 20ms grow back. Errors are logged with log/slog and the loop
// goes on. StopCleanup and Close stop it and wait for it.
//
// # Encryption at rest
//
// With Config.EncryptionKeys, each session's data is sealed with AES-256-GCM
// before it is written. The stored form starts with a header: a zero byte
// (no gob encoding starts with one), "sk" and a flags byte; an encrypted row
// goes on with the key ID (the first 4 bytes of the key's SHA-256), a
// 12-byte random nonce and the ciphertext with its tag. The additional data
// is the header up to the nonce followed by the stored token, so a row
// copied under another token, or altered, does not open. Data that is not
// sealed is read as it is, as long as it decodes as a session of scs's
// GobCodec: rows written before encryption was turned on stay readable and
// are sealed on their next write. (With encryption on, the store thereby
// takes the session manager's codec to be scs's default one, as
// sessionkit's is.)
//
// A row that cannot be read is no session: Find reports found false with a
// nil error and All leaves it out, the log names it by SessionID, never by
// its token, and Stats.UnreadableSessions counts it. With encryption on
// that is every row that neither opens as a sealed row nor decodes as a
// session: a key no longer configured, a row altered, cut or copied under
// another token, a sealed row whose header was damaged. Without
// encryption the store can tell only a damaged header (flags it does not
// know, or a row that says it is sealed); other data goes to the session
// manager's codec as it is, since nothing tells damaged data from a
// session of another codec, and scs answers data its codec cannot decode
// with an error.
//
// Config.RequireEncryption refuses every row that is not sealed, in the
// same way. Without it, someone who can write to the table but holds no
// key can write a row that reads as any session they like; turn it on once
// every row is sealed: a session lifetime after every replica runs with
// the keys (a session that is only read, or only has its expiry moved, is
// not rewritten before then).
//
// The first key seals, every key opens: to rotate, configure the new key
// second, then first, and drop the old one once the sessions it sealed
// have expired. A key must seal no more than 2^32 rows (NIST SP 800-38D:
// random 96-bit nonces), so rotate well before that: each Commit that
// writes data and each upgraded token seals once, across every replica
// that uses the key. A sealed session takes EncryptionOverhead bytes more,
// which the size check counts. Touch coalescing compares what sessions
// hold, not their stored bytes.
//
// # Upgrading plain tokens
//
// With Config.UpgradePlainTokens (and HashedTokens), a Find that misses a
// hashed token, in a context that carries the cookie's plain token
// (Request.PlainToken), reads the plain and the hashed token in one statement
// and moves a session stored under the plain token to its hash with one
// conditional UPDATE of the primary key; concurrent Finds with the same
// cookie all get the one session. UpgradeTokens moves the remaining rows
// in batches.
//
// A stored token looks the same whether it is plain or a hash, and anyone
// with a copy of the table (a dump, a backup) sees the stored ones. Were
// a row stored under a hash taken for a plain row, its stored token sent
// as a cookie would have the row moved and its session handed over. So:
//
//   - With HashedTokens, every row the store writes carries the header
//     with a flag saying its token is a hash (HeaderOverhead bytes, within
//     the encryption's header when encrypted), whether the switch is on or
//     not, and a flagged row is never moved. Without HashedTokens and
//     encryption, rows are what scs's mysqlstore writes, and it reads them.
//   - Rows without the flag may still be stored under hashes by other
//     software (scs's HashTokenInStore over scs's mysqlstore, or an
//     earlier version of this store), and nothing in a row tells. So the
//     switch moves rows only on a table whose comment holds
//     PlainTokensComment, which the operator sets once they know every
//     unflagged row is stored under a plain token; CheckSchema and
//     UpgradeTokens fail on any other table, with the ALTER TABLE that
//     sets it, and Find moves nothing there (and logs why).
package mysql
