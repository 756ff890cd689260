package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Defaults of New and DefaultConfig.
const (
	DefaultTable            = "sessions"
	DefaultCleanupInterval  = 5 * time.Minute
	DefaultCleanupBatchSize = 1000
	DefaultMaxInflight      = 4
)

// Config configures a Store made with NewWithConfig. Start from
// DefaultConfig, which holds New's settings. Zero means "off" wherever a
// setting can be off (CleanupInterval, QueryTimeout, MaxInflight); sizes
// must be positive; a negative value is an error.
type Config struct {
	// Table is the session table, "name" or "db.name", of letters, digits,
	// '_' and '$'. It is always quoted with backticks.
	Table string

	// CleanupInterval is how often expired sessions are deleted in the
	// background; zero turns the background cleanup off, for example where
	// a scheduled job calls DeleteExpired instead.
	CleanupInterval time.Duration

	// CleanupBatchSize is how many rows one cleanup statement deletes at
	// most.
	CleanupBatchSize int

	// QueryTimeout, when positive, bounds every operation from the moment
	// it is called, queued or running, on top of the deadline of the
	// context passed in, so that a stuck database cannot hold a request
	// forever. Zero leaves the bound to the caller's context.
	QueryTimeout time.Duration

	// MaxInflight is how many Find statements, and separately how many
	// Commit statements, hold a slot at once; calls that arrive while every
	// slot is taken are batched: the next statement to start takes up to 64
	// of them into one statement (see Concurrency in the package docs). A
	// statement that runs longer than 50ms gives its slot up. Zero turns
	// batching off, so that every call has a statement of its own.
	MaxInflight int

	// TouchInterval, when positive, coalesces the writes that only move a
	// session's expiry (scs makes one per request under an idle timeout): a
	// Commit whose session holds what was last read or written for its
	// token is not written while its expiry moves by less than
	// TouchInterval, and is written as an expiry-only UPDATE after that.
	// The stored expiry is then early by at most TouchInterval, never late.
	// Zero writes every Commit. See the package docs.
	TouchInterval time.Duration

	// PoolSetsSyncWait leaves the consistency of session reads on a Galera
	// node to the pool's own wsrep_sync_wait. Without it the store makes
	// each session read causal itself (see the package docs); sessionkit
	// sets it when the DSN sets wsrep_sync_wait.
	PoolSetsSyncWait bool

	// EncryptionKeys, when not empty, encrypts session data at rest with
	// AES-256-GCM: the first key encrypts every write, and every key
	// decrypts, so that a key is rotated by putting a new one first and
	// dropping the old one once the sessions it encrypted have expired. Each
	// key is EncryptionKeyLen random bytes (see CheckEncryptionKeys). A
	// sealed row is bound to its stored token. Rows stored without
	// encryption stay readable while they decode as sessions of scs's
	// GobCodec (see RequireEncryption), and are encrypted on their next
	// write; a row that does not decrypt (its key was dropped, or it was
	// altered or copied under another token), or is neither sealed nor a
	// session, is logged, counted in Stats and treated as no session.
	// Encryption adds EncryptionOverhead bytes to every session, which the
	// size check counts. A key must seal at most 2^32 rows: see the package
	// docs.
	EncryptionKeys [][]byte

	// RequireEncryption, with EncryptionKeys, refuses every row that is not
	// encrypted: Find and All treat it as no session, logged and counted as
	// unreadable, as they do a row that does not decrypt. Without it a row
	// written without encryption is read (from before encryption was turned
	// on), so that someone who can write to the table but holds no key can
	// make a session of their own choosing. Turn it on once every row is
	// encrypted: a lifetime after every replica encrypts. See the package
	// docs.
	RequireEncryption bool

	// HashedTokens says that the tokens the store is given are hashes of
	// the session tokens (scs's HashTokenInStore; sessionkit sets it from
	// SESSION_HASH_TOKEN). Every row the store writes is then marked as
	// stored under a hash, with a header of HeaderOverhead bytes (within
	// the encryption's header when encrypted), which scs's mysqlstore
	// cannot read: see UpgradePlainTokens for why.
	HashedTokens bool

	// UpgradePlainTokens, with HashedTokens, keeps the sessions of a table
	// whose rows were stored under plain tokens (by scs's mysqlstore, or
	// with hashing off): a Find that misses a hashed token, in a context
	// that carries the session's plain token (Request.PlainToken, which
	// sessionkit's middleware adds), moves the row from the plain token to
	// its hash and returns it. A row marked as stored under a hash is never
	// moved. Since a row without the mark may have been stored under a hash
	// by other software, the store moves rows only on a table the operator
	// has marked as one of plain tokens (PlainTokensComment), and
	// CheckSchema fails on any other. While it is on, a Find of an unknown
	// token costs two lookups instead of one. See the package docs.
	UpgradePlainTokens bool

	// Logger receives cleanup errors and schema warnings (slog.Default() if
	// nil).
	Logger *slog.Logger
}

// DefaultConfig returns the configuration of New: the table "sessions",
// cleanup every 5 minutes in batches of 1000 rows, batching with 4
// statements of each kind in flight, and no QueryTimeout.
func DefaultConfig() Config {
	return Config{
		Table:            DefaultTable,
		CleanupInterval:  DefaultCleanupInterval,
		CleanupBatchSize: DefaultCleanupBatchSize,
		MaxInflight:      DefaultMaxInflight,
	}
}

// Store is a session store backed by a MySQL or MariaDB table. It implements
// scs.Store, scs.CtxStore, scs.IterableStore and scs.IterableCtxStore, and is
// safe for concurrent use.
type Store struct {
	db     *sql.DB
	table  tableName
	cfg    Config
	logger *slog.Logger

	q             queries // every statement on the table
	lq            leaseQueries
	dialect       atomic.Int32
	formTaken     atomic.Int32 // dialect+1 whose form the server was seen to take (see takesForm)
	cluster       atomic.Int32 // clusterUnknown until the server was asked
	find, all     lazyStmt
	del           lazyStmt
	touchStmt     lazyStmt
	retireStmt    lazyStmt
	findMany      []lazyStmt // for a batch of Finds, one per batchSizes entry
	upserts       []lazyStmt // for a batch of Commits
	updates       []lazyStmt // for a batch of Commits of found sessions
	seenStmt      lazyStmt
	users         usersState
	touches       touches // the last reads and writes, without a Request
	reads, writes *batcher
	splits        atomic.Int64 // write batches split to isolate a failing row

	touchesSkipped, touchesWritten atomic.Int64
	findErrors, commitErrors       atomic.Int64 // calls that returned an error (Stats)
	deleteErrors                   atomic.Int64

	keys                           *keyring // nil without encryption
	unreadableRows, tokensUpgraded atomic.Int64
	plainFind, moveToken           lazyStmt // for UpgradePlainTokens
	plainTable                     plainTable

	capacity capacity // of the data column

	closing   context.Context // ends when Close is called
	close     context.CancelFunc
	closeOnce sync.Once

	cleanup cleanup
}

var (
	_ scs.Store            = (*Store)(nil)
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableStore    = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// New returns a Store on the table "sessions" that deletes expired sessions
// every 5 minutes: NewWithConfig with DefaultConfig. It does not touch the
// database: a server that is down when New runs is only noticed by the
// first operation.
func New(db *sql.DB) *Store {
	s, _ := NewWithConfig(db, DefaultConfig()) // cannot fail: the defaults are valid
	return s
}

// NewWithCleanupInterval returns a Store with New's settings that deletes
// expired sessions every cleanupInterval; zero disables the background
// cleanup (and so does a negative interval, as in scs's mysqlstore).
func NewWithCleanupInterval(db *sql.DB, cleanupInterval time.Duration) *Store {
	cfg := DefaultConfig()
	cfg.CleanupInterval = max(cleanupInterval, 0)
	s, _ := NewWithConfig(db, cfg)
	return s
}

// NewWithConfig returns a Store configured by cfg, or an error naming the
// field that is invalid. Like New, it does not touch the database.
func NewWithConfig(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sessionkit/mysql: NewWithConfig: db is nil")
	}
	table, err := parseTableName(cfg.Table)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"CleanupInterval", cfg.CleanupInterval < 0},
		{"QueryTimeout", cfg.QueryTimeout < 0},
		{"TouchInterval", cfg.TouchInterval < 0},
		{"MaxInflight", cfg.MaxInflight < 0},
	} {
		if f.negative {
			problems = append(problems, fmt.Errorf("%s must not be negative (zero turns it off)", f.name))
		}
	}
	if cfg.CleanupBatchSize < 1 {
		problems = append(problems, fmt.Errorf("CleanupBatchSize %d: must be at least 1 (DefaultConfig has %d)", cfg.CleanupBatchSize, DefaultCleanupBatchSize))
	}
	if err := CheckEncryptionKeys(cfg.EncryptionKeys); err != nil {
		problems = append(problems, fmt.Errorf("EncryptionKeys: %w", err))
	}
	if cfg.RequireEncryption && len(cfg.EncryptionKeys) == 0 {
		problems = append(problems, errors.New("RequireEncryption needs EncryptionKeys: it refuses every row that is not encrypted"))
	}
	if cfg.UpgradePlainTokens && !cfg.HashedTokens {
		problems = append(problems, errors.New("UpgradePlainTokens needs HashedTokens: plain tokens are upgraded to their hashes"))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sessionkit/mysql: NewWithConfig: %w", errors.Join(problems...))
	}
	// The store keeps copies of the keys, not the caller's slices.
	keys := make([][]byte, len(cfg.EncryptionKeys))
	for i, k := range cfg.EncryptionKeys {
		keys[i] = bytes.Clone(k)
	}
	cfg.EncryptionKeys = keys
	ring, err := newKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("sessionkit/mysql: NewWithConfig: EncryptionKeys: %w", err)
	}
	s := &Store{db: db, table: table, cfg: cfg, logger: cfg.Logger, keys: ring}
	s.closing, s.close = context.WithCancel(context.Background())
	s.q = newQueries(table)
	s.lq = newLeaseQueries(table)
	s.cleanup.holder = newHolder()
	s.find.build = func(d dialect) string {
		return s.q.findOne(d, s.causalReads(), s.users.has.Load(), cfg.TouchInterval > 0)
	}
	s.seenStmt.build = s.q.seen
	s.all = fixedStmt(s.q.all)
	s.del.build = s.q.delete
	s.retireStmt.build = s.q.retire
	s.touchStmt.build = func(d dialect) string { return s.q.touch(d, s.users.has.Load()) }
	s.findMany = sizedStmts(func(n int, d dialect) string {
		return s.q.findMany(n, d, s.causalReads(), s.users.has.Load(), cfg.TouchInterval > 0)
	})
	s.upserts = sizedStmts(func(n int, d dialect) string { return s.q.upsert(n, d, s.users.has.Load()) })
	s.updates = sizedStmts(func(n int, d dialect) string { return s.q.update(n, d, s.users.has.Load()) })
	s.plainFind.build = func(d dialect) string { return s.q.plainFind(d, s.causalReads()) }
	s.moveToken.build = s.q.moveToken
	s.reads = newBatcher(s, lane{what: "find", slots: cfg.MaxInflight, run: s.runReads})
	s.writes = newBatcher(s, lane{what: "commit", slots: cfg.MaxInflight, ordered: true, run: s.runWrites})
	if cfg.CleanupInterval > 0 {
		s.startCleanup(cfg.CleanupInterval)
	}
	return s, nil
}

// Close stops the background cleanup, fails calls still queued with
// ErrClosed, waits for the store's goroutines to end (a statement still
// running is cancelled), and closes the store's prepared statements. It
// leaves the *sql.DB open. Every later operation returns an error matching
// ErrClosed. Close is idempotent and safe from any goroutine.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.StopCleanup()
		s.close()
		s.reads.close()
		s.writes.close()
		for _, l := range []*lazyStmt{&s.find, &s.all, &s.del, &s.retireStmt, &s.touchStmt, &s.seenStmt, &s.plainFind, &s.moveToken} {
			l.close()
		}
		for _, stmts := range [][]lazyStmt{s.findMany, s.upserts, s.updates} {
			for i := range stmts {
				stmts[i].close()
			}
		}
	})
	return nil
}

// Table returns the quoted name of the session table, as the store uses it
// in SQL.
func (s *Store) Table() string { return s.table.quoted }

func (s *Store) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

// queryContext bounds ctx by the configured QueryTimeout, from now.
// A context whose deadline comes sooner is used as it is: a timer costs
// allocations on every query.
func (s *Store) queryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cfg.QueryTimeout > 0 {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.cfg.QueryTimeout {
			return context.WithTimeout(ctx, s.cfg.QueryTimeout)
		}
	}
	return ctx, func() {}
}

// Find returns the data of an unexpired session; see FindCtx.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx returns the data of the session with exactly this token. found is
// false, with a nil error, when there is no such session or it has expired,
// and when its stored data cannot be read (see Config.EncryptionKeys); err
// is for system errors only.
func (s *Store) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	defer countError(&s.findErrors, &err)
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	o := &op{kind: opFind, ctx: ctx, token: token}
	if err := s.reads.do(o); err != nil {
		return nil, false, err
	}
	if !o.found {
		if plain, ok := s.plainTokenFor(ctx, token); ok {
			b, found, err := s.upgradeOnFind(ctx, plain, token)
			if found {
				markFound(ctx, token, nil) // moved: nothing to merge with
			}
			return b, found, err
		}
		return nil, false, nil
	}
	data, err := s.open(token, o.data)
	if err != nil {
		s.unreadable(token, err)
		return nil, false, nil
	}
	markFound(ctx, token, o.data)
	if s.cfg.TouchInterval > 0 {
		if expiry, err := time.Parse(expiryLayout, o.expiry); err == nil {
			s.remember(ctx, token, data, expiry)
		}
	}
	if o.stale {
		s.seenStale(ctx, token)
	}
	return data, true, nil
}

// Commit stores the session; see CommitCtx.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx stores the data and expiry of the session, replacing what was
// there. In a context of WithRequest (sessionkit's middleware makes one per
// request), a session that the request found, or wrote before, is only
// updated: when it was deleted meanwhile (revoked, logged out in another
// tab, cleaned up) or has expired, nothing is written, CommitCtx returns
// nil and SessionEnded reports it, so that no request brings an ended
// session back. Any other session (a new one, a token just renewed, every
// session of a store used without that context, as with scs's stores) is
// inserted or replaced. Data longer than the data column holds is refused with an error
// matching ErrTooLarge before anything is written (checked once the write
// holds its place among the session's writes, so that a Delete called after
// it cannot run first).
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) (err error) {
	defer countError(&s.commitErrors, &err)
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	if b == nil {
		b = []byte{} // the column is NOT NULL
	}
	token = storedToken(ctx, token)
	save, described := takeSave(ctx)
	mode, from, login := commitMode(ctx, token, save)
	markSkipped(ctx, false)
	if mode == opDelete {
		// The session ended in this request, or this one would carry on
		// one that did: nothing is written (see request.go).
		markEnded(ctx, token)
		return nil
	}
	switch s.touchKind(ctx, token, b, expiry, save, described) {
	case skipTouch:
		// Nothing is written, and what is remembered stays what is stored.
		s.touchesSkipped.Add(1)
		markSkipped(ctx, true)
		return nil
	case writeExpiry:
		o := &op{kind: opTouch, ctx: ctx, token: token, expiry: formatExpiry(expiry)}
		if err := s.writes.do(o); err != nil {
			return err
		}
		s.touchesWritten.Add(1)
		if o.ended {
			s.forget(ctx, token)
			markEnded(ctx, token)
			return nil
		}
		markWritten(ctx, token)
	default:
		stored, err := s.seal(token, b)
		if err != nil {
			return s.wrap("commit", err)
		}
		o := &op{kind: mode, ctx: ctx, token: token, from: from, login: login, data: stored, expiry: formatExpiry(expiry)}
		switch mode {
		case opUpdate:
			o.readSum, o.merge = readSum(ctx, token, save), save.Merge
		case opRenew:
			o.readSum, o.merge = readSum(ctx, from, save), save.Merge
		}
		if has, err := s.hasUsers(ctx); err != nil {
			return err
		} else if has {
			o.user, o.ip, o.agent = userArgs(ctx, b, save, described)
		}
		if err := s.writes.do(o); err != nil {
			s.forget(ctx, token) // what is stored is not known now
			return err
		}
		if o.ended {
			s.forget(ctx, token)
			markEnded(ctx, token)
			return nil
		}
		if mode == opRenew {
			markRenewed(ctx)
		}
		markWritten(ctx, token)
		markSum(ctx, token, o.data)
		if o.merged {
			// What is stored is the merge, not b.
			s.forget(ctx, token)
			return nil
		}
	}
	s.remember(ctx, token, b, expiry.UTC().Truncate(time.Microsecond))
	return nil
}

// Delete removes the session; see DeleteCtx.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx removes the session with exactly this token. Deleting a token
// that does not exist is not an error. It runs after every earlier Commit
// of the token made through this store has ended, so that none of them can
// bring the session back. In a context of WithRequest, a session that the
// request found is expired at once rather than deleted, and its row is
// left to cleanup (or to the renewal that follows scs's RenewToken): see
// the package docs.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	_, err := s.remove(ctx, storedToken(ctx, token), true)
	return err
}

// remove deletes token's session and reports whether it deleted (or
// retired) a row. With retire, a session the request in ctx found is
// retired instead of deleted (see request.go).
func (s *Store) remove(ctx context.Context, token string, retire bool) (removed bool, err error) {
	defer countError(&s.deleteErrors, &err)
	s.forget(ctx, token)
	found := beforeDelete(ctx, token)
	kind := opDelete
	if found && retire {
		kind = opRetire
	}
	o := &op{kind: kind, ctx: ctx, token: token}
	if err := s.writes.do(o); err != nil {
		return false, err
	}
	switch {
	case found && o.ended:
		markLost(ctx, token)
	case kind == opRetire:
		markRetired(ctx, token)
	}
	return !o.ended, nil
}

// countError counts a call that returned an error; deferred with the
// call's named result, it sees every return.
func countError(n *atomic.Int64, err *error) {
	if *err != nil {
		n.Add(1)
	}
}

// All returns every unexpired session; see AllCtx.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx returns the data of every unexpired session by token. With no
// sessions the map is empty, not nil. In a context of WithRequest, each is
// recorded as found, so that scs's Iterate, which commits them in ctx,
// writes them as updates and a session deleted meanwhile stays deleted. A session whose stored data cannot be
// read (see Config.EncryptionKeys) is left out, logged and counted.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	stmt, err := s.prepare(ctx, &s.all)
	if err != nil {
		return nil, s.wrap("all", err)
	}
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, s.wrap("all", err)
	}
	defer rows.Close()
	sessions := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, s.wrap("all", err)
		}
		stored := data
		if data, err = s.open(token, data); err != nil {
			s.unreadable(token, err)
			continue
		}
		// scs's Iterate commits what All returned: in a request's
		// context, as updates of sessions found (see request.go).
		markFound(ctx, token, stored)
		if s.cfg.HashedTokens {
			markIterated(ctx, token)
		}
		sessions[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("all", err)
	}
	return sessions, nil
}

// expiryLayout is how the store writes and reads expiry: a UTC wall-clock
// literal with microseconds. The store passes expiry as text, never as
// time.Time, so that the driver's loc setting cannot shift it.
const expiryLayout = "2006-01-02 15:04:05.000000"

func formatExpiry(t time.Time) string {
	return t.UTC().Format(expiryLayout)
}
