package sessionkit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/clip"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// ErrShutdown is returned by Ready once Shutdown has been called.
var ErrShutdown = errors.New("sessionkit: kit is shut down")

// Kit is a configured session manager with its store, its database pool
// and the middleware that serves sessions. Make one with New, FromEnv or
// NewWithDB, and call Shutdown when the server has stopped.
type Kit struct {
	// Manager is the configured scs session manager: handlers call its
	// Put, Get, RenewToken, Destroy and so on with the request's context.
	Manager *scs.SessionManager

	logger *slog.Logger
	db     *sql.DB             // nil with the memory store
	ownDB  bool                // the kit opened db and closes it on Shutdown
	store  *sessionmysql.Store // nil with the memory store

	requests inflight

	trustedProxies    []netip.Prefix // SESSION_TRUSTED_PROXIES
	lastCookieWarning atomic.Int64   // when a Secure cookie over plain HTTP was last logged, in Unix nanoseconds; 0 never

	users           userStore // the sessions of a user
	recordIP        bool      // SESSION_RECORD_IP
	recordUserAgent bool      // SESSION_RECORD_USER_AGENT
	legacyCookie    string    // Config.LegacyCookieName: adopted, then expired

	upgradePlainTokens bool // SESSION_UPGRADE_PLAIN_TOKENS: the middleware passes the cookie's token to the store

	shutdownMu      sync.Mutex
	shutdownStarted bool
	shutdownDone    chan struct{} // closed when the first Shutdown has finished
	shutdownErr     error
}

// FromEnv is LoadConfig followed by New: the one-line setup.
func FromEnv(ctx context.Context) (*Kit, error) {
	cfg, dsn, err := loadConfigFrom(processEnv())
	if err != nil {
		return nil, err
	}
	return newValid(ctx, cfg, dsn)
}

// New validates cfg and returns a ready Kit. With the mysql store it opens a
// pool on cfg.MySQLDSN with parseTime=true, loc=UTC and the session time
// zone '+00:00', applies the pool settings, pings the database and checks
// the session table, all within ctx's deadline. With CreateTable it creates
// the table if it is missing, and logs that it did; without, a missing table
// is an error that matches mysql.ErrTableMissing and carries, as a
// *mysql.TableMissingError, the CREATE TABLE statement to run.
//
// A database that does not answer yet (the connection is refused, its host
// is not found, it has too many connections) is waited for: New tries again
// after 250ms, then after twice as long each time up to 4s, until ctx ends
// (30s if ctx has no deadline), and logs each failed attempt with its
// number, the delay and the error as a warning. It then returns the last
// attempt's error. An answer that waiting cannot change, such as a wrong
// password or an unknown database, is returned at once.
//
// With the memory store it needs no database, and logs a warning that
// sessions are lost on restart and not shared between replicas. (Its
// once-a-minute cleanup goroutine, scs's, runs until the process exits.)
func New(ctx context.Context, cfg Config) (*Kit, error) {
	dsn, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return newValid(ctx, cfg, dsn)
}

// newValid is New for a cfg that has passed validation, dsn being
// cfg.MySQLDSN as parseDSN read it.
func newValid(ctx context.Context, cfg Config, dsn *mysql.Config) (*Kit, error) {
	if cfg.Store == StoreMemory {
		return newMemoryKit(cfg), nil
	}
	store, db, err := openStore(ctx, cfg, dsn, true)
	if err != nil {
		return nil, err
	}
	k, err := newMySQLKit(ctx, cfg, db, true, store)
	if err != nil {
		db.Close()
		return nil, err
	}
	return k, nil
}

// touchInterval is how far the expiry of an unchanged session may move
// before it is written again (see sessionkit/mysql's Config.TouchInterval):
// a tenth of the idle timeout, at most a minute. So a session's idle
// deadline in the table is early by at most that, never late.
func touchInterval(idle time.Duration) time.Duration {
	if idle > 0 {
		return min(idle/10, time.Minute)
	}
	return time.Minute
}

// NewWithDB is New on the caller's pool: cfg.MySQLDSN and the DB* pool
// settings other than DBQueryTimeout are ignored, and Shutdown leaves db
// open. The store keeps expiry right whatever the pool's time zone with the
// recommended DATETIME column; a TIMESTAMP column needs the session time
// zone '+00:00' on db, and CheckSchema warns otherwise.
func NewWithDB(ctx context.Context, cfg Config, db *sql.DB) (*Kit, error) {
	if db == nil {
		return nil, errors.New("sessionkit: NewWithDB: db is nil")
	}
	if cfg.Store != StoreMySQL {
		return nil, fmt.Errorf("sessionkit: NewWithDB: SESSION_STORE %q: want mysql", cfg.Store)
	}
	if problems, _ := cfg.check(false, nil, nil); len(problems) > 0 {
		return nil, problemsError(problems)
	}
	if err := waitForDatabase(ctx, db, loggerOf(cfg), "the database"); err != nil {
		return nil, err
	}
	store, err := sessionmysql.NewWithConfig(db, storeConfig(cfg, nil))
	if err != nil {
		return nil, fmt.Errorf("sessionkit: %w", err)
	}
	return newMySQLKit(ctx, cfg, db, false, store)
}

// storeConfig is the store's configuration for cfg. dsn is the DSN of the
// kit's own pool, as parseDSN read it, or nil for the caller's pool
// (NewWithDB), whose settings the kit does not know.
func storeConfig(cfg Config, dsn *mysql.Config) sessionmysql.Config {
	sc := sessionmysql.DefaultConfig()
	sc.Table = cfg.Table
	sc.CleanupInterval = cfg.CleanupInterval
	sc.CleanupBatchSize = cfg.CleanupBatchSize
	sc.MaxInflight = cfg.DBMaxInflight
	sc.QueryTimeout = cfg.DBQueryTimeout
	sc.TouchInterval = touchInterval(cfg.IdleTimeout)
	sc.PoolSetsSyncWait = dsn != nil && dsnSets(dsn, "wsrep_sync_wait")
	sc.Logger = loggerOf(cfg)
	sc.EncryptionKeys = cfg.EncryptionKeys
	sc.RequireEncryption = cfg.RequireEncryption
	sc.HashedTokens = cfg.HashToken
	sc.UpgradePlainTokens = cfg.UpgradePlainTokens
	return sc
}

// newMySQLKit checks the table (creating it if it is missing and
// cfg.CreateTable is set) and makes the kit on store and db, a database that
// has answered. ownDB says whether the kit opened db, and closes it on
// Shutdown. On error it closes the store, but leaves db open.
func newMySQLKit(ctx context.Context, cfg Config, db *sql.DB, ownDB bool, store *sessionmysql.Store) (*Kit, error) {
	if err := prepareTable(ctx, cfg, store); err != nil {
		store.Close()
		return nil, err
	}
	k := newKit(cfg, loggerOf(cfg))
	k.db, k.ownDB, k.store = db, ownDB, store
	k.upgradePlainTokens = cfg.UpgradePlainTokens
	k.Manager.Store = store
	k.users = store
	// Whether the table has the user columns, known from the start (CheckSchema
	// has logged the ALTER TABLE that adds them if not); on an error, the first
	// call that needs them asks again.
	k.checkUserColumns(ctx)
	return k, nil
}

// prepareTable checks the table, or creates it if it is missing and
// cfg.CreateTable is set.
func prepareTable(ctx context.Context, cfg Config, store *sessionmysql.Store) error {
	err := store.CheckSchema(ctx)
	if cfg.CreateTable && errors.Is(err, sessionmysql.ErrTableMissing) {
		// Only a missing table is created, so that an existing one needs no
		// CREATE privilege, and the log says when it was.
		if err := store.CreateTable(ctx); err != nil {
			return fmt.Errorf("sessionkit: SESSION_CREATE_TABLE: %w", err)
		}
		loggerOf(cfg).InfoContext(ctx, "sessionkit: created the session table (SESSION_CREATE_TABLE=true)",
			slog.String("table", store.Table()))
		err = store.CheckSchema(ctx)
	}
	if err != nil {
		var missing *sessionmysql.TableMissingError
		if errors.As(err, &missing) {
			return fmt.Errorf("sessionkit: %w\nset SESSION_CREATE_TABLE=true to create it at start-up, or run:\n\n%s", err, missing.CreateStatement)
		}
		return fmt.Errorf("sessionkit: session table %s: %w", store.Table(), err)
	}
	return nil
}

func newMemoryKit(cfg Config) *Kit {
	logger := loggerOf(cfg)
	k := newKit(cfg, logger) // its Store is scs's memstore
	k.users = memoryUsers{store: k.Manager.Store.(*memstore.MemStore), codec: k.Manager.Codec}
	logger.Warn("sessionkit: SESSION_STORE=memory: sessions are kept in this process only; they are lost on restart and not shared between replicas (development only)")
	if len(cfg.EncryptionKeys) > 0 || cfg.UpgradePlainTokens {
		logger.Warn("sessionkit: SESSION_STORE=memory ignores SESSION_ENCRYPTION_KEYS, SESSION_REQUIRE_ENCRYPTION and SESSION_UPGRADE_PLAIN_TOKENS")
	}
	return k
}

// newKit makes the kit and its session manager, with no store yet.
func newKit(cfg Config, logger *slog.Logger) *Kit {
	// scs.New also makes a memstore whose cleanup goroutine cannot be
	// stopped safely: MemStore.StopCleanup races with the goroutine's start
	// and may miss it (scs v2.9.0). The memory store reuses it; with MySQL
	// it idles, waking once a minute.
	m := scs.New()
	m.Lifetime = cfg.Lifetime
	m.IdleTimeout = cfg.IdleTimeout
	m.HashTokenInStore = cfg.HashToken
	m.Cookie = scs.SessionCookie{
		Name:        cfg.SessionCookieName(),
		Domain:      cfg.CookieDomain,
		Path:        cfg.CookiePath,
		Secure:      cfg.CookieSecure,
		HttpOnly:    cfg.CookieHTTPOnly,
		SameSite:    cfg.CookieSameSite,
		Persist:     cfg.CookiePersist,
		Partitioned: cfg.CookiePartitioned,
	}
	k := &Kit{Manager: m, logger: logger, shutdownDone: make(chan struct{}), trustedProxies: cfg.TrustedProxies,
		recordIP: cfg.RecordIP, recordUserAgent: cfg.RecordUserAgent, legacyCookie: cfg.LegacyCookieName()}
	m.ErrorFunc = k.serveError
	k.requests.init()
	if k.legacyCookie != "" {
		logger.Info("sessionkit: the sessions of the legacy cookie are adopted (SESSION_COOKIE_LEGACY_NAME); "+
			"unset it once SESSION_LIFETIME has passed since the upgrade, since a sibling subdomain can plant that cookie",
			slog.String("legacy_cookie", k.legacyCookie), slog.String("cookie", m.Cookie.Name),
			slog.String("lifetime", cfg.Lifetime.String()))
	}
	return k
}

// serveError is the session manager's ErrorFunc: it logs the error with
// the request's method and path (never the cookie or the token) and
// answers a plain 500, without the headers the handler set.
func (k *Kit) serveError(w http.ResponseWriter, r *http.Request, err error) {
	k.logger.ErrorContext(r.Context(), "sessionkit: session error",
		slog.String("method", clip.ForLog(r.Method)), slog.String("path", clip.ForLog(r.URL.Path)), slog.Any("err", err))
	if g, ok := w.(*guardedWriter); ok {
		g.fail()
		w = g.ResponseWriter
	} else {
		resetHeader(w.Header(), nil) // kit.Manager.LoadAndSave, without Middleware
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// Ready reports whether the session table answers a query within ctx, for
// a readiness probe such as /healthz: a query, not a ping, so that a cluster
// node that is still joining (and refuses queries) is not ready yet. With
// the memory store it is nil until Shutdown; after Shutdown it is
// ErrShutdown.
func (k *Kit) Ready(ctx context.Context) error {
	if k.requests.isClosed() {
		return ErrShutdown
	}
	if k.db == nil {
		return nil
	}
	if err := k.store.Ready(ctx); err != nil {
		return fmt.Errorf("sessionkit: database not ready: %w", err)
	}
	return nil
}

// Shutdown stops the kit once the HTTP server has stopped: call it after
// http.Server.Shutdown, with the same context, so that both share one time
// budget. It
//
//  1. stops taking requests: from now on the middleware answers 503;
//  2. waits for the requests still inside the middleware to finish,
//     including the saving of their sessions;
//  3. closes the store: stops the background cleanup, waits for the
//     store's goroutines and closes its prepared statements;
//  4. closes the database pool, if New opened it (NewWithDB's stays open).
//
// All of it within ctx: if ctx ends first, Shutdown returns an error that
// matches ctx.Err(), the requests still running fail, and 3 and 4 go on in
// the background. Shutdown is idempotent: later calls wait for the first to
// finish and return its result.
func (k *Kit) Shutdown(ctx context.Context) error {
	k.shutdownMu.Lock()
	if k.shutdownStarted {
		k.shutdownMu.Unlock()
		select {
		case <-k.shutdownDone:
			return k.shutdownErr
		case <-ctx.Done():
			return fmt.Errorf("sessionkit: shutdown: %w", ctx.Err())
		}
	}
	k.shutdownStarted = true
	k.shutdownMu.Unlock()

	var errs []error
	select {
	case <-k.requests.close():
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("sessionkit: shutdown: %d requests still running: %w", k.requests.count(), ctx.Err()))
	}
	closed := make(chan error, 1)
	go func() { closed <- k.closeStoreAndPool() }()
	select {
	case err := <-closed:
		errs = append(errs, err)
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("sessionkit: shutdown: the store and the pool are still closing: %w", ctx.Err()))
	}
	k.shutdownErr = errors.Join(errs...)
	close(k.shutdownDone)
	return k.shutdownErr
}

// closeStoreAndPool closes the store, then the pool if the kit opened it.
func (k *Kit) closeStoreAndPool() error {
	var errs []error
	if k.store != nil {
		if err := k.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sessionkit: closing the store: %w", err))
		}
	}
	if k.ownDB {
		if err := k.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sessionkit: closing the database pool: %w", err))
		}
	}
	return errors.Join(errs...)
}

func loggerOf(cfg Config) *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.Default()
}
