package sessionkit

import (
	"context"
	"database/sql"
	"fmt"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// OpenStore opens what New opens for cfg, a pool on cfg.MySQLDSN with New's
// settings (parseTime, loc=UTC, the session time zone '+00:00', the lock
// wait bound, the pool limits and, on a multi-primary Group Replication
// member, group_replication_consistency) and the store on it, but neither
// checks nor creates the table and starts no background cleanup:
// cfg.CreateTable and cfg.CleanupInterval are not used. It is for tools that
// work on the table itself, such as the sessionkit command
// (cmd/sessionkit). Like New, it waits for the database within ctx (30s if
// ctx has no deadline). Close the store, then the pool, when done.
func OpenStore(ctx context.Context, cfg Config) (*sessionmysql.Store, *sql.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if cfg.Store != StoreMySQL {
		return nil, nil, fmt.Errorf("sessionkit: SESSION_STORE %q: the session table needs SESSION_STORE=mysql", cfg.Store)
	}
	db, where, err := openPool(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := waitForDatabase(ctx, db, loggerOf(cfg), where); err != nil {
		db.Close()
		return nil, nil, err
	}
	if extra := groupConsistency(ctx, cfg, db); extra != nil {
		db.Close()
		if db, _, err = openPool(cfg, extra); err != nil {
			return nil, nil, err
		}
	}
	// As New configures the store, without the background cleanup.
	sc := storeConfig(cfg, true)
	sc.CleanupInterval = 0
	store, err := sessionmysql.NewWithConfig(db, sc)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sessionkit: %w", err)
	}
	return store, db, nil
}

// RedactDSN returns dsn with its password replaced by "xxxxx", as the kit's
// errors and logs show it. A string the driver cannot read has whatever may
// be a password masked (see docs/troubleshooting.md), so that a
// mistyped DSN does not show its password either.
func RedactDSN(dsn string) string { return redactDSN(dsn) }
