package mysql

import (
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

// Default settings, used where Config leaves a field at its zero value.
const (
	DefaultTable            = "sessions"
	DefaultCleanupInterval  = 5 * time.Minute
	DefaultCleanupBatchSize = 1000
	DefaultMaxInflight      = 4
)

// ErrTooLarge is returned by Commit when the session data is longer than the
// table's data column can hold. Nothing is written: the session keeps the
// data it had.
var ErrTooLarge = errors.New("sessionkit/mysql: session data too large for the data column")

// ErrTableMissing is returned by CheckSchema, and wrapped by the other methods
// where the server says so, when the session table does not exist.
var ErrTableMissing = errors.New("sessionkit/mysql: session table does not exist")

// Config configures a Store made with NewWithConfig. The zero value is valid
// and means the defaults of New.
type Config struct {
	// Table is the session table, "name" or "db.name", of letters, digits,
	// '_' and '$' (DefaultTable if empty). It is always quoted with backticks.
	Table string

	// CleanupInterval is how often expired sessions are deleted
	// (DefaultCleanupInterval if zero). It must not be negative.
	CleanupInterval time.Duration

	// DisableCleanup turns the background cleanup off, for example where a
	// scheduled job calls DeleteExpired instead.
	DisableCleanup bool

	// CleanupBatchSize is how many rows one cleanup statement deletes at most
	// (DefaultCleanupBatchSize if zero). It must not be negative.
	CleanupBatchSize int

	// QueryTimeout, when positive, bounds every query the store makes, on top
	// of the deadline of the context passed in, so that a stuck database
	// cannot hold a request forever.
	QueryTimeout time.Duration

	// MaxInflight is how many Find statements, and separately how many
	// Commit statements, the store runs at once; calls that arrive while
	// that many are running are batched: the next statement to finish takes
	// all of them (up to 64) into one SELECT ... IN or one multi-row upsert.
	// A call on an idle store runs at once, alone. Zero means
	// DefaultMaxInflight; a negative value turns batching off, so that every
	// call has a statement of its own.
	MaxInflight int

	// Logger receives cleanup errors and schema warnings (slog.Default() if
	// nil).
	Logger *slog.Logger
}

// Store is a session store backed by a MySQL or MariaDB table. It implements
// scs.Store, scs.CtxStore, scs.IterableStore and scs.IterableCtxStore, and is
// safe for concurrent use.
type Store struct {
	db     *sql.DB
	table  tableName
	cfg    Config
	logger *slog.Logger

	q                      queries // every statement on the table
	find, commit, del, all lazyStmt
	reads, writes          *batcher // nil when batching is off

	capacity   atomic.Int64 // bytes the data column holds; 0 until read
	capMu      sync.Mutex   // guards capChecked; never held during a query
	capChecked time.Time    // when the capacity was last read

	cleanup cleanup
}

var (
	_ scs.Store            = (*Store)(nil)
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableStore    = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// New returns a Store on the table "sessions" that deletes expired sessions
// every 5 minutes. It does not touch the database: a server that is down
// when New runs is only noticed by the first operation.
func New(db *sql.DB) *Store {
	return NewWithCleanupInterval(db, DefaultCleanupInterval)
}

// NewWithCleanupInterval returns a Store on the table "sessions" that deletes
// expired sessions every cleanupInterval; zero (or a negative interval)
// disables the background cleanup.
func NewWithCleanupInterval(db *sql.DB, cleanupInterval time.Duration) *Store {
	cfg := Config{CleanupInterval: cleanupInterval}
	if cleanupInterval <= 0 {
		cfg = Config{DisableCleanup: true}
	}
	s, _ := NewWithConfig(db, cfg) // cannot fail: the table name is the default
	return s
}

// NewWithConfig returns a Store configured by cfg, or an error naming the
// field that is invalid. Like New, it does not touch the database.
func NewWithConfig(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sessionkit/mysql: NewWithConfig: db is nil")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	table, err := parseTableName(cfg.Table)
	if err != nil {
		return nil, err
	}
	if cfg.CleanupInterval < 0 {
		return nil, fmt.Errorf("sessionkit/mysql: CleanupInterval %v: must not be negative (set DisableCleanup to turn cleanup off)", cfg.CleanupInterval)
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = DefaultCleanupInterval
	}
	if cfg.CleanupBatchSize < 0 {
		return nil, fmt.Errorf("sessionkit/mysql: CleanupBatchSize %d: must not be negative", cfg.CleanupBatchSize)
	}
	if cfg.CleanupBatchSize == 0 {
		cfg.CleanupBatchSize = DefaultCleanupBatchSize
	}
	if cfg.QueryTimeout < 0 {
		return nil, fmt.Errorf("sessionkit/mysql: QueryTimeout %v: must not be negative", cfg.QueryTimeout)
	}
	s := &Store{db: db, table: table, cfg: cfg, logger: cfg.Logger}
	s.q = newQueries(table, cfg.CleanupBatchSize)
	s.find.query, s.commit.query, s.del.query, s.all.query = s.q.find, s.q.commit, s.q.delete, s.q.all
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.MaxInflight > 0 {
		s.reads = newBatcher(cfg.MaxInflight, s.q.findMany, s.readBatch,
			func(err error) error { return s.wrap("find", err) })
		s.writes = newBatcher(cfg.MaxInflight, s.q.upsert, s.writeBatch,
			func(err error) error { return s.wrap("commit", err) })
	}
	s.cfg = cfg
	if !cfg.DisableCleanup {
		s.startCleanup(cfg.CleanupInterval)
	}
	return s, nil
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

// queryContext bounds ctx by the configured QueryTimeout.
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
// false, with a nil error, when there is no such session or it has expired;
// err is for system errors only.
func (s *Store) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	if s.reads != nil {
		o := &op{token: token}
		if err := s.reads.do(ctx, o); err != nil {
			return nil, false, err
		}
		return o.data, o.found, nil
	}
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	return s.findOne(ctx, token)
}

// findOne runs the single-token Find statement.
func (s *Store) findOne(ctx context.Context, token string) (b []byte, found bool, err error) {
	stmt, err := s.find.get(ctx, s.db)
	if err != nil {
		return nil, false, s.wrap("find", err)
	}
	err = stmt.QueryRowContext(ctx, token, token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap("find", err)
	}
	return b, true, nil
}

// Commit stores the session; see CommitCtx.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx stores the data and expiry of the session, replacing what was
// there. Data longer than the data column holds is refused with an error
// matching ErrTooLarge before anything is written.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	if err := s.checkSize(ctx, len(b)); err != nil {
		return err
	}
	if b == nil {
		b = []byte{} // the column is NOT NULL
	}
	if s.writes != nil {
		return s.writes.do(ctx, &op{token: token, data: b, expiry: formatExpiry(expiry)})
	}
	return s.write(ctx, &s.commit, token, b, formatExpiry(expiry))
}

// Delete removes the session; see DeleteCtx.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx removes the session with exactly this token. Deleting a token
// that does not exist is not an error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	stmt, err := s.del.get(ctx, s.db)
	if err != nil {
		return s.wrap("delete", err)
	}
	if _, err := stmt.ExecContext(ctx, token, token); err != nil {
		return s.wrap("delete", err)
	}
	return nil
}

// All returns every unexpired session; see AllCtx.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx returns the data of every unexpired session by token. With no
// sessions the map is empty, not nil.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	stmt, err := s.all.get(ctx, s.db)
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
		sessions[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("all", err)
	}
	return sessions, nil
}

// formatExpiry renders t as a UTC wall-clock literal with microseconds. The
// store passes expiry as text, never as time.Time, so that the driver's loc
// setting cannot shift it.
func formatExpiry(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

// wrap adds the operation and table to err, keeping context errors and the
// driver's errors reachable with errors.Is and errors.As.
func (s *Store) wrap(op string, err error) error {
	if isNoSuchTable(err) {
		return fmt.Errorf("sessionkit/mysql: %s on %s: %w: %w", op, s.table.quoted, ErrTableMissing, err)
	}
	return fmt.Errorf("sessionkit/mysql: %s on %s: %w", op, s.table.quoted, err)
}

// lazyStmt is a statement prepared on first use and then reused, which makes
// each operation one round trip (database/sql prepares it once on each
// connection it runs on). A failed prepare, say while the server is down, is
// tried again on the next use. No lock is held while preparing, so a caller
// whose prepare hangs on a dead server holds up no other caller: callers
// that race on first use each prepare, and all but one close theirs.
type lazyStmt struct {
	query string
	stmt  atomic.Pointer[sql.Stmt]
}

func (l *lazyStmt) get(ctx context.Context, db *sql.DB) (*sql.Stmt, error) {
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, l.query)
	if err != nil {
		return nil, err
	}
	if !l.stmt.CompareAndSwap(nil, st) {
		st.Close()
		return l.stmt.Load(), nil
	}
	return st, nil
}
