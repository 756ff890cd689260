package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what the store has done since it was made: its calls and
// statements, and its background cleanup.
type Stats struct {
	// FindCalls counts calls of Find, CommitCalls calls of Commit and
	// Delete (and their Ctx forms); FindStatements and CommitStatements
	// count the statements that served them (a Delete has one of its
	// own). Fewer statements than calls means calls were batched.
	FindCalls, FindStatements     int64
	CommitCalls, CommitStatements int64
	// SplitBatches counts write batches that the server refused and that
	// were split to find the session it refused.
	SplitBatches int64
	// TouchesSkipped counts Commits not written because only the expiry
	// moved, by less than TouchInterval; TouchesWritten those written as an
	// expiry-only UPDATE.
	TouchesSkipped, TouchesWritten int64
	// FindErrors, CommitErrors and DeleteErrors count the calls of Find,
	// Commit and Delete (and their Ctx forms) that returned an error,
	// whatever its cause: the server, the query timeout, the caller's
	// context, ErrTooLarge or ErrClosed.
	FindErrors, CommitErrors, DeleteErrors int64
	// UnreadableSessions counts stored sessions that Find and All could not
	// read, and treated as missing: encrypted with a key no longer
	// configured, altered, cut or copied under another token, or not
	// encrypted under Config.RequireEncryption (see Config.EncryptionKeys).
	// TokensUpgraded counts sessions moved from a
	// plain token to its hash on first use (Config.UpgradePlainTokens).
	UnreadableSessions, TokensUpgraded int64

	// Passes is the number of cleanup passes that ran to the end or to an
	// error.
	Passes int64
	// Skipped is the number of passes skipped because another replica held
	// the cleanup lock.
	Skipped int64
	// Errors is the number of passes that ended in an error.
	Errors int64
	// RowsDeleted is the number of expired sessions deleted by the background
	// cleanup and by DeleteExpired, in Statements DELETE statements of at most
	// CleanupBatchSize rows each.
	RowsDeleted int64
	Statements  int64
	// LastStart, LastDuration and LastError describe the most recent pass
	// that ran; LastError is nil when it succeeded.
	LastStart    time.Time
	LastDuration time.Duration
	LastError    error
}

// cleanup is the state of the background cleanup goroutine.
type cleanup struct {
	cancel context.CancelFunc // nil when cleanup was never started
	done   chan struct{}      // closed when the goroutine has returned

	// jitter picks the delay before the first pass; lockName overrides the
	// lock's name. Both exist for tests.
	jitter   func(interval time.Duration) time.Duration
	lockName func(ctx context.Context, conn *sql.Conn) (string, error)
	onPass   func(start bool) // called as a pass starts and ends, for tests
	onBatch  func(rows int64) // called after each DELETE, for tests

	holder      string // this store's name in the lease table
	leaseWarned atomic.Bool

	mu    sync.Mutex
	stats Stats
}

// warnOnce logs msg the first time only.
func (s *Store) warnOnce(done *atomic.Bool, msg string, args ...any) {
	if done.CompareAndSwap(false, true) {
		s.log().Warn(msg, append([]any{"table", s.table.quoted}, args...)...)
	}
}

func (s *Store) startCleanup(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cleanup.cancel = cancel
	s.cleanup.done = make(chan struct{})
	go s.cleanupLoop(ctx, interval)
}

func (s *Store) cleanupLoop(ctx context.Context, interval time.Duration) {
	defer close(s.cleanup.done)
	jitter := s.cleanup.jitter
	if jitter == nil {
		jitter = randomJitter
	}
	timer := time.NewTimer(jitter(interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.cleanupPass(ctx)
		timer.Reset(interval)
	}
}

// randomJitter spreads the first passes of replicas that start together
// over the interval.
func randomJitter(interval time.Duration) time.Duration { return rand.N(interval) }

// StopCleanup stops the background cleanup and returns once its goroutine
// has exited, cancelling a pass that is running. It is idempotent, safe to
// call from any number of goroutines at once, and does nothing when cleanup
// is disabled.
func (s *Store) StopCleanup() {
	if s.cleanup.cancel == nil {
		return
	}
	s.cleanup.cancel()
	<-s.cleanup.done
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.cleanup.mu.Lock()
	st := s.cleanup.stats
	s.cleanup.mu.Unlock()
	st.FindCalls, st.FindStatements = s.reads.counts()
	st.CommitCalls, st.CommitStatements = s.writes.counts()
	st.SplitBatches = s.splits.Load()
	st.TouchesSkipped, st.TouchesWritten = s.touchesSkipped.Load(), s.touchesWritten.Load()
	st.FindErrors, st.CommitErrors, st.DeleteErrors = s.findErrors.Load(), s.commitErrors.Load(), s.deleteErrors.Load()
	st.UnreadableSessions, st.TokensUpgraded = s.unreadableRows.Load(), s.tokensUpgraded.Load()
	return st
}

// cleanupPass runs one coordinated pass: take the named lock without
// waiting, delete expired rows in batches, release the lock. It logs instead
// of returning errors, and a panic in it is logged, not passed on.
func (s *Store) cleanupPass(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("sessionkit/mysql: cleanup panicked", "table", s.table.quoted, "panic", fmt.Sprint(r))
		}
	}()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.recordPass(time.Now(), 0, 0, err)
			s.log().Error("sessionkit/mysql: cleanup", "table", s.table.quoted, "err", err)
		}
		return
	}
	defer conn.Close()
	name, locked, err := s.lock(ctx, conn)
	if err != nil {
		if ctx.Err() != nil {
			discard(conn)
			return
		}
		// The server refuses named locks; run without one.
		s.log().Debug("sessionkit/mysql: cleanup runs without a lock", "table", s.table.quoted, "err", err)
	} else if !locked {
		s.cleanup.mu.Lock()
		s.cleanup.stats.Skipped++
		s.cleanup.mu.Unlock()
		return
	}
	if err == nil {
		defer s.unlock(conn, name)
	}
	var held *lease
	if s.onCluster(ctx) {
		held, err = s.acquireLease(ctx, conn)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			s.warnOnce(&s.cleanup.leaseWarned, "sessionkit/mysql: cleanup runs with GET_LOCK alone, which is local to one cluster node", "err", err)
		case held == nil:
			s.cleanup.mu.Lock()
			s.cleanup.stats.Skipped++
			s.cleanup.mu.Unlock()
			return
		default:
			defer held.release()
		}
	}
	if f := s.cleanup.onPass; f != nil {
		f(true)
		defer f(false)
	}
	start := time.Now()
	n, err := s.deleteExpired(ctx, conn, held, nil)
	if ctx.Err() != nil {
		return // stopped: not an error worth logging
	}
	s.recordPass(start, time.Since(start), n, err)
	if err != nil {
		s.log().Error("sessionkit/mysql: cleanup", "table", s.table.quoted, "deleted", n, "err", err)
		return
	}
	s.log().Debug("sessionkit/mysql: cleanup pass", "table", s.table.quoted, "deleted", n,
		"start", start, "end", time.Now())
}

func (s *Store) recordPass(start time.Time, d time.Duration, n int64, err error) {
	s.cleanup.mu.Lock()
	defer s.cleanup.mu.Unlock()
	st := &s.cleanup.stats
	st.Passes++
	if err != nil {
		st.Errors++
	}
	st.LastStart, st.LastDuration, st.LastError = start, d, err
}

// lock takes the cleanup lock on conn without waiting. locked is false when
// another connection holds it; err is set when the server refuses named
// locks (GET_LOCK fails or returns NULL).
func (s *Store) lock(ctx context.Context, conn *sql.Conn) (name string, locked bool, err error) {
	if f := s.cleanup.lockName; f != nil {
		name, err = f(ctx, conn)
	} else {
		name, err = s.lockName(ctx, conn)
	}
	if err != nil {
		return "", false, err
	}
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		return "", false, err
	}
	if !got.Valid {
		return "", false, errors.New("GET_LOCK returned NULL")
	}
	return name, got.Int64 == 1, nil
}

// lockName is "sessionkit:<db>.<table>", cut to the 64 characters MySQL
// allows.
func (s *Store) lockName(ctx context.Context, conn *sql.Conn) (string, error) {
	schema := s.table.schema
	if schema == "" {
		ctx, cancel := s.queryContext(ctx)
		defer cancel()
		var db sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
			return "", err
		}
		schema = db.String
	}
	name := "sessionkit:" + schema + "." + s.table.name
	if len(name) > 64 {
		name = name[:64]
	}
	return name, nil
}

// unlock releases the lock; if that fails the connection is discarded, since
// a pooled connection would keep holding the lock.
func (s *Store) unlock(conn *sql.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", name); err != nil {
		discard(conn)
	}
}

// discard makes database/sql close conn instead of returning it to the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}

// DeleteExpired deletes every expired session in one full pass of batched
// statements (CleanupBatchSize rows each) and returns how many it deleted.
// It does not take the replicas' cleanup lock: call it from a one-off job or
// with the background cleanup disabled.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.DeleteExpiredWithProgress(ctx, nil)
}

// DeleteExpiredWithProgress is DeleteExpired calling progress, unless it is
// nil, after each DELETE statement with the number of sessions deleted so
// far, so that a command can show how a long pass is going. progress runs
// on the caller's goroutine, between statements.
func (s *Store) DeleteExpiredWithProgress(ctx context.Context, progress func(deleted int64)) (int64, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, s.wrap("delete expired", err)
	}
	defer conn.Close()
	return s.deleteExpired(ctx, conn, nil, progress)
}

// deleteExpired deletes batches until none is full, renewing held (if any)
// as it goes and calling progress (if any) after each; it stops early,
// without an error, if the lease was lost.
func (s *Store) deleteExpired(ctx context.Context, conn *sql.Conn, held *lease, progress func(int64)) (int64, error) {
	stmt, err := s.prepareOn(ctx, conn, s.q.deleteExpired)
	if err != nil {
		return 0, s.wrap("delete expired", err)
	}
	defer stmt.Close()
	var total int64
	pace := newPacing(s.cfg.CleanupBatchSize)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if ok, err := held.renew(ctx); err != nil {
			return total, s.wrap("renewing the cleanup lease", err)
		} else if !ok {
			s.log().Warn("sessionkit/mysql: cleanup lease lost to another replica; this pass stops", "table", s.table.quoted)
			return total, nil
		}
		size := pace.size
		start := time.Now()
		res, err := s.deleteBatch(ctx, stmt, size, held)
		if err != nil {
			return total, s.wrap("delete expired", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.wrap("delete expired", err)
		}
		total += n
		if f := s.cleanup.onBatch; f != nil {
			f(n)
		}
		s.cleanup.mu.Lock()
		s.cleanup.stats.RowsDeleted += n
		s.cleanup.stats.Statements++
		s.cleanup.mu.Unlock()
		if progress != nil {
			progress(total)
		}
		if n < int64(size) {
			return total, nil
		}
		if pause := pace.next(time.Since(start)); pause > 0 {
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(pause):
			}
		}
	}
}

// Cleanup pacing. A pass adapts its batches to how busy the server is, by
// the time each DELETE takes: while batches are quick (the server is idle)
// they grow back to CleanupBatchSize; when one is slow (commits compete for
// the same pages and the redo log) the next is half as large, down to a
// tenth of CleanupBatchSize, and the pass pauses as long as the slow batch
// took, so that it takes at most about half of the server's attention
// from the sessions being served.
const (
	cleanupQuick = 20 * time.Millisecond
	cleanupSlow  = 60 * time.Millisecond
)

type pacing struct {
	size, least, most int
}

func newPacing(most int) *pacing {
	return &pacing{size: most, least: max(1, most/10), most: most}
}

// next takes the time of the last batch, sets the size of the next, and
// returns how long to pause first.
func (p *pacing) next(took time.Duration) time.Duration {
	switch {
	case took > cleanupSlow:
		p.size = max(p.size/2, p.least)
		return took
	case took < cleanupQuick:
		p.size = min(p.size*2, p.most)
	}
	return 0
}

// deleteBatch runs one batched DELETE, again when the server rolled it back
// to break a deadlock or after a lock wait timeout: commits touching the
// same index pages can cause either, and the statement is safe to repeat.
// The lease, if any, is renewed before each attempt.
func (s *Store) deleteBatch(ctx context.Context, stmt *sql.Stmt, size int, held *lease) (sql.Result, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if ok, err := held.renew(ctx); err != nil || !ok {
				return nil, errors.Join(errors.New("the cleanup lease was lost during a retry"), err)
			}
		}
		qctx, cancel := s.queryContext(ctx)
		res, err := stmt.ExecContext(qctx, size)
		cancel()
		if err == nil || !isLockError(err) || attempt == deadlockRetries {
			return res, err
		}
	}
}
