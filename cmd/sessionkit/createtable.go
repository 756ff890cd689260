package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

var createTableCommand = &command{
	name:    "create-table",
	summary: "create the recommended session table, if it is missing",
	details: `
create-table creates the recommended session table (the statement "sessionkit
check" prints), and on a node of a multi-primary cluster also the table of
cleanup leases, sessionkit_leases, unless they exist. An existing session
table is left as it is, whatever its columns: the command says so, and says
how to add the user columns if it lacks them. Running it again changes
nothing. The database user needs the CREATE privilege.`,
	db:  true,
	run: runCreateTable,
}

func runCreateTable(ctx context.Context, a *app, c *command, _ any, _ []string) int {
	rec := newRecorder(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	op, code := a.open(ctx, c, slog.New(rec))
	if op == nil {
		return code
	}
	defer op.close()
	store := op.store

	rec.start()
	err := store.CheckSchema(ctx)
	rec.stop()
	existed := !errors.Is(err, sessionmysql.ErrTableMissing)
	if err != nil && existed {
		return a.fail(c, fmt.Errorf("%w\n(the table exists but cannot hold sessions: \"sessionkit check\" says what to run)", err))
	}
	leases, err := leaseTableExists(ctx, op.db, op.cfg.Table)
	if err != nil {
		return a.fail(c, fmt.Errorf("looking for the lease table: %w", err))
	}
	if err := store.CreateTable(ctx); err != nil {
		return a.fail(c, err)
	}
	if existed {
		fmt.Fprintf(a.stdout, "table %s exists already: left as it is\n", store.Table())
	} else {
		fmt.Fprintf(a.stdout, "created table %s\n", store.Table())
	}
	if !leases {
		if now, err := leaseTableExists(ctx, op.db, op.cfg.Table); err == nil && now {
			fmt.Fprintln(a.stdout, "created table sessionkit_leases, which keeps cleanup passes apart across the nodes of the cluster")
		}
	}

	rec.start()
	err = store.CheckSchema(ctx)
	logged := rec.stop()
	if err != nil {
		return a.fail(c, err)
	}
	for _, l := range logged {
		kind := "note"
		if l.Level >= slog.LevelWarn {
			kind = "warning"
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", kind, strings.TrimPrefix(l.Message, "sessionkit/mysql: "))
	}
	return exitOK
}

// leaseTableExists reports whether the table of cleanup leases exists in the
// session table's database.
func leaseTableExists(ctx context.Context, db *sql.DB, table string) (bool, error) {
	var schema any
	if d, _, ok := strings.Cut(table, "."); ok {
		schema = d
	}
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = 'sessionkit_leases'", schema).Scan(&n)
	return n > 0, err
}
