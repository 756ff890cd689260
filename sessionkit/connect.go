package sessionkit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// This file is how the kit reaches its database, in one sequence that New
// and OpenStore share: open a pool on the DSN with the kit's settings
// (openPool), wait for the database to answer (waitForDatabase), ask it
// whether it needs group_replication_consistency (groupConsistency), and
// make the store on the pool (openStore).

// OpenStore opens what New opens for cfg, a pool on cfg.MySQLDSN with New's
// settings (parseTime, loc=UTC, the session time zone '+00:00', the lock
// wait bound, the pool limits and, on a multi-primary Group Replication
// member, group_replication_consistency) and the store on it, but neither
// checks nor creates the table and starts no background cleanup:
// cfg.CreateTable and cfg.CleanupInterval are not used. It is for programs
// that work on the table itself rather than serve sessions, such as the
// sessionkit command (cmd/sessionkit) or a job of your own. Like New, it
// waits for the database within ctx (30s if ctx has no deadline). Close the
// store, then the pool, when done.
func OpenStore(ctx context.Context, cfg Config) (*sessionmysql.Store, *sql.DB, error) {
	dsn, err := cfg.validate()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Store != StoreMySQL {
		return nil, nil, fmt.Errorf("sessionkit: SESSION_STORE %q: the session table needs SESSION_STORE=mysql", cfg.Store)
	}
	return openStore(ctx, cfg, dsn, false)
}

// openStore opens the kit's own pool on dsn, cfg.MySQLDSN as parseDSN read
// it, waits for the database, and makes the store on the pool as cfg
// configures it, with its background cleanup if cleanup is set.
func openStore(ctx context.Context, cfg Config, dsn *mysql.Config, cleanup bool) (*sessionmysql.Store, *sql.DB, error) {
	db, err := openDatabase(ctx, cfg, dsn)
	if err != nil {
		return nil, nil, err
	}
	sc := storeConfig(cfg, dsn)
	if !cleanup {
		sc.CleanupInterval = 0
	}
	store, err := sessionmysql.NewWithConfig(db, sc)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sessionkit: %w", err)
	}
	return store, db, nil
}

// openDatabase opens the kit's own pool on dsn and waits for the database
// to answer within ctx. On a member of a multi-primary Group Replication
// group it then opens the pool again with the setting groupConsistency
// returns.
func openDatabase(ctx context.Context, cfg Config, dsn *mysql.Config) (*sql.DB, error) {
	db, err := openPool(cfg, dsn, nil)
	if err != nil {
		return nil, err
	}
	// Wait before asking the database what it is: a service may start
	// before its database.
	if err := waitForDatabase(ctx, db, loggerOf(cfg), databaseOf(dsn)); err != nil {
		db.Close()
		return nil, err
	}
	if extra := groupConsistency(ctx, dsn, db); extra != nil {
		db.Close()
		return openPool(cfg, dsn, extra)
	}
	return db, nil
}

// openPool opens a pool on dsn with the kit's settings (see poolConnector)
// and the extra system variables, and cfg's pool limits.
func openPool(cfg Config, dsn *mysql.Config, extra map[string]string) (*sql.DB, error) {
	connector, err := poolConnector(cfg, dsn, extra)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(cfg.DBMaxOpenConns)
	db.SetMaxIdleConns(cfg.DBMaxIdleConns)
	db.SetConnMaxLifetime(cfg.DBConnMaxLifetime)
	return db, nil
}

// groupConsistency returns the setting that makes session reads on a
// member of a multi-primary MySQL Group Replication group wait for the
// group's earlier transactions (group_replication_consistency=BEFORE),
// unless the DSN sets it, or nil on any other server. MySQL takes it per
// session only, so the kit sets it on its pool; a Galera node needs nothing
// here, since the store makes its reads causal per statement.
func groupConsistency(ctx context.Context, dsn *mysql.Config, db *sql.DB) map[string]string {
	if dsnSets(dsn, "group_replication_consistency") {
		return nil
	}
	var single sql.NullBool
	var group sql.NullString
	err := db.QueryRowContext(ctx, "SELECT @@group_replication_single_primary_mode, @@group_replication_group_name").Scan(&single, &group)
	if err != nil || group.String == "" || !single.Valid || single.Bool {
		return nil // not a group member (or not reachable yet), or single-primary
	}
	return map[string]string{"group_replication_consistency": "'BEFORE'"}
}

// A service is often started beside its database (docker compose, a
// Kubernetes pod, systemd units) and may come up first. New therefore waits
// for the database: it retries the first connection with a growing delay
// until its context ends, and logs each failed attempt.
const (
	// firstRetryDelay is the wait after the first failed attempt; it doubles
	// after each further one, up to maxRetryDelay.
	firstRetryDelay = 250 * time.Millisecond
	maxRetryDelay   = 4 * time.Second
	// attemptTimeout bounds one attempt, so that a host that drops packets
	// costs one attempt, not the whole wait.
	attemptTimeout = 10 * time.Second
	// defaultConnectWait bounds the wait when New's context has no deadline.
	defaultConnectWait = 30 * time.Second
)

// Server errors after which another attempt can succeed: the server is
// there but cannot take this connection yet. Every other answer of the
// server (a wrong password, an unknown database) is final: waiting does not
// change it.
const (
	erConCount          = 1040 // ER_CON_COUNT_ERROR: too many connections
	erUnknownCommand    = 1047 // ER_UNKNOWN_COM_ERROR: a Galera node not yet synced
	erServerShutdown    = 1053 // ER_SERVER_SHUTDOWN: shutting down, or restarting
	erTooManyUserConns  = 1203 // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections
	erServerOfflineMode = 3032 // ER_SERVER_OFFLINE_MODE (MySQL)
)

// waitForDatabase pings db until it answers, until ctx ends (or, without a
// deadline, for defaultConnectWait), or until the server gives a final
// answer. It logs each failed attempt with its number, the delay before the
// next one and the error, and returns the last error, wrapped with where.
// The driver's errors never hold the DSN's password; where does not either.
func waitForDatabase(ctx context.Context, db *sql.DB, logger *slog.Logger, where string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultConnectWait)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	start := time.Now()
	delay := firstRetryDelay
	var last error // the last attempt's error, unless the deadline cut that attempt short
	for attempt := 1; ; attempt++ {
		err := pingOnce(ctx, db)
		if err == nil {
			if attempt > 1 {
				logger.InfoContext(ctx, "sessionkit: database reachable",
					slog.String("database", where), slog.Int("attempt", attempt),
					slog.String("waited", time.Since(start).Round(time.Millisecond).String()))
			}
			return nil
		}
		remaining := time.Until(deadline)
		if last == nil || remaining > 0 {
			last = err
		}
		// Retry only while there is time for an attempt after the delay.
		if isFinal(err) || ctx.Err() != nil || remaining < 2*firstRetryDelay {
			return connectError(where, attempt, start, last, ctx.Err())
		}
		delay = min(delay, remaining-firstRetryDelay).Round(time.Millisecond)
		// Durations as text ("250ms"): a JSON handler would write nanoseconds.
		logger.WarnContext(ctx, "sessionkit: database not reachable yet; retrying",
			slog.String("database", where), slog.Int("attempt", attempt),
			slog.String("delay", delay.String()), slog.String("err", err.Error()))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return connectError(where, attempt, start, last, ctx.Err())
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// pingOnce is one attempt, bounded by attemptTimeout.
func pingOnce(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return db.PingContext(ctx)
}

// connectError is New's error when the database did not answer: the last
// attempt's error, after how many attempts and how long, and ctx's error if
// ctx was cancelled; errors.Is finds both.
func connectError(where string, attempts int, start time.Time, last, ctxErr error) error {
	switch {
	case attempts == 1 && ctxErr == nil:
		return fmt.Errorf("sessionkit: connecting to %s: %w", where, last)
	case ctxErr == nil || errors.Is(last, ctxErr):
		return fmt.Errorf("sessionkit: connecting to %s: gave up after %d attempts in %v: %w",
			where, attempts, time.Since(start).Round(time.Millisecond), last)
	}
	return fmt.Errorf("sessionkit: connecting to %s: gave up after %d attempts in %v (%w); the last error: %w",
		where, attempts, time.Since(start).Round(time.Millisecond), ctxErr, last)
}

// isFinal reports whether the server has answered err, and another attempt
// would get the same answer.
func isFinal(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false // no answer: refused, unreachable, reset, timed out
	}
	switch me.Number {
	case erConCount, erUnknownCommand, erServerShutdown, erTooManyUserConns, erServerOfflineMode:
		return false
	}
	return true
}
