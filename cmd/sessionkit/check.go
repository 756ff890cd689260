package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

var checkCommand = &command{
	name:    "check",
	summary: "check the session table; print what to run to fix it",
	details: `
check connects as the services do and checks the session table: that it
exists, answers a query, and has columns and types that can hold sessions;
what the store warns about (a case-insensitive token column, no index on
expiry, a TIMESTAMP expiry under a session time zone other than UTC, on a
cluster node the lease table and the pool's settings); whether it has the
optional user columns; and whether the server's clock agrees with this
host's, since the services set expiry by their clocks and the server
compares it with its own.

For each problem it prints what to run to fix it: the CREATE TABLE of the
recommended table, an ALTER TABLE, or the setting to change. The exit
status is 0 when all is well, 1 when there is a problem or a warning (a
table without the user columns is neither: they are optional).`,
	flags: func(fs *flag.FlagSet) any {
		o := &checkOptions{}
		fs.BoolVar(&o.allowWarnings, "allow-warnings", false, "exit 0 when the table works, even if it has warnings")
		return o
	},
	db:  true,
	run: runCheck,
}

type checkOptions struct {
	allowWarnings bool
}

// clockSkewWarning is how far apart the server's clock and this host's may
// be before check warns.
const clockSkewWarning = 10 * time.Second

// report writes check's findings, one per line with its kind, and counts
// them.
type report struct {
	w                  io.Writer
	problems, warnings int
}

func (r *report) add(kind, format string, args ...any) {
	text := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	text = strings.ReplaceAll(text, "\n", "\n          ")
	fmt.Fprintf(r.w, "%-9s %s\n", kind, text)
	switch kind {
	case "problem":
		r.problems++
	case "warning":
		r.warnings++
	}
}

// fix prints what to run to fix what was found.
func (r *report) fix(intro string, statements ...string) {
	fmt.Fprintf(r.w, "%-9s %s\n", "fix", intro)
	for _, s := range statements {
		for line := range strings.SplitSeq(s, "\n") {
			fmt.Fprintf(r.w, "              %s\n", line)
		}
	}
}

func runCheck(ctx context.Context, a *app, c *command, opts any, _ []string) int {
	o := opts.(*checkOptions)
	rec := newRecorder(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	op, code := a.open(ctx, c, slog.New(rec))
	if op == nil {
		return code
	}
	defer op.close()
	store, db := op.store, op.db
	r := &report{w: a.stdout}

	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return a.fail(c, fmt.Errorf("asking the server its version: %w", err))
	}
	fmt.Fprintf(a.stdout, "database  %s (server %s)\ntable     %s\n\n", op.cfg.MySQLDSN, version, store.Table())

	rec.start()
	err := store.CheckSchema(ctx)
	logged := rec.stop()
	var missing *sessionmysql.TableMissingError
	switch {
	case errors.As(err, &missing):
		r.add("problem", "table %s does not exist", store.Table())
		r.fix(`run "sessionkit create-table", or:`, missing.CreateStatement)
		return r.summary(o)
	case err != nil:
		r.add("problem", "%v", err)
		if ctx.Err() != nil {
			return r.summary(o)
		}
	default:
		r.add("ok", "table %s exists and its columns can hold sessions", store.Table())
	}
	for _, l := range logged {
		switch {
		case l.Level >= slog.LevelWarn:
			r.add("warning", "%s", strings.TrimPrefix(l.Message, "sessionkit/mysql: "))
		case l.Level >= slog.LevelInfo:
			r.add("note", "%s", strings.TrimPrefix(l.Message, "sessionkit/mysql: "))
		}
	}
	t, err := inspectTable(ctx, db, op.cfg.Table)
	if err != nil {
		r.add("problem", "reading the table's columns: %v", err)
		return r.summary(o)
	}
	if stmts := t.fixes(store); len(stmts) > 0 {
		r.fix("to bring the table to the recommended one, run:", stmts...)
	}

	if err := store.Ready(ctx); err != nil {
		r.add("problem", "the table does not answer a query: %v", err)
	} else {
		r.add("ok", "the table answers a query (the readiness probe)")
	}
	if err := store.CheckUsers(ctx); err == nil {
		r.add("ok", "the table has the user columns (the sessions of a user)")
	}
	checkTime(ctx, r, db, t)
	return r.summary(o)
}

// summary prints the verdict and returns the exit status.
func (r *report) summary(o *checkOptions) int {
	fmt.Fprintln(r.w)
	switch {
	case r.problems == 0 && r.warnings == 0:
		fmt.Fprintln(r.w, "all is well")
		return exitOK
	case r.problems == 0 && o.allowWarnings:
		fmt.Fprintf(r.w, "the table works, with %s (allowed by -allow-warnings)\n", plural(r.warnings, "warning"))
		return exitOK
	}
	fmt.Fprintf(r.w, "not all is well: %s, %s\n", plural(r.problems, "problem"), plural(r.warnings, "warning"))
	return exitFailed
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "ch") || strings.HasSuffix(what, "s") {
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkTime reports how the expiry column handles time zones and how far
// the server's clock is from this host's.
func checkTime(ctx context.Context, r *report, db *sql.DB, t *tableInfo) {
	var zone, serverNow string
	before := time.Now()
	err := db.QueryRowContext(ctx, "SELECT @@session.time_zone, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f')").Scan(&zone, &serverNow)
	after := time.Now()
	if err != nil {
		r.add("problem", "asking the server its time: %v", err)
		return
	}
	if expiry, ok := t.columns["expiry"]; ok {
		switch expiry.dataType {
		case "datetime":
			r.add("ok", "expiry is %s: the store writes and compares UTC whatever the time zone", strings.ToUpper(expiry.columnType))
		case "timestamp":
			r.add("ok", "expiry is %s under the session time zone %s that sessionkit sets on its pool", strings.ToUpper(expiry.columnType), zone)
		}
	}
	server, err := time.Parse("2006-01-02 15:04:05.000000", serverNow)
	if err != nil {
		r.add("problem", "reading the server's time %q: %v", serverNow, err)
		return
	}
	local := before.Add(after.Sub(before) / 2)
	skew := server.Sub(local.UTC()).Round(time.Millisecond)
	ahead := "ahead of"
	if skew < 0 {
		ahead = "behind"
	}
	if skew.Abs() > clockSkewWarning {
		r.add("warning", "the server's clock is %v %s this host's: the services set expiry by their clocks and the server compares it with its own, so sessions end that much early or late; synchronise the clocks (NTP)", skew.Abs(), ahead)
		return
	}
	r.add("ok", "the server's clock is within %v of this host's", max(skew.Abs(), time.Millisecond))
}

// tableInfo is what check reads of the table to say how to fix it.
type tableInfo struct {
	name          string // without the database
	columns       map[string]columnInfo
	expiryIndexed bool
}

type columnInfo struct {
	dataType, columnType string
	charLen              sql.NullInt64
	collation            sql.NullString
}

// inspectTable reads the table's columns and whether an index starts with
// expiry.
func inspectTable(ctx context.Context, db *sql.DB, table string) (*tableInfo, error) {
	var schema any
	name := table
	if db, n, ok := strings.Cut(table, "."); ok {
		schema, name = db, n
	}
	t := &tableInfo{name: name, columns: map[string]columnInfo{}}
	rows, err := db.QueryContext(ctx, "SELECT LOWER(COLUMN_NAME), LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), CHARACTER_MAXIMUM_LENGTH, COLLATION_NAME "+
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ?", schema, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var col string
		var c columnInfo
		if err := rows.Scan(&col, &c.dataType, &c.columnType, &c.charLen, &c.collation); err != nil {
			return nil, err
		}
		t.columns[col] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = IFNULL(?, DATABASE()) AND TABLE_NAME = ? AND LOWER(COLUMN_NAME) = 'expiry' AND SEQ_IN_INDEX = 1", schema, name).Scan(&n)
	if err != nil {
		return nil, err
	}
	t.expiryIndexed = n > 0
	return t, nil
}

// fixes returns the statements that bring an existing table to the
// recommended one where it falls short by the rules of the store's
// CheckSchema: a token, data or expiry column that is missing or cannot
// hold what the store writes, a token column that compares without case,
// no index on expiry. Without the token, data or expiry column the table
// cannot have held sessions: it is renamed, kept for inspection, and the
// recommended table created.
func (t *tableInfo) fixes(store *sessionmysql.Store) []string {
	if len(t.columns) == 0 {
		return nil
	}
	quoted := store.Table()
	for _, col := range []string{"token", "data", "expiry"} {
		if _, ok := t.columns[col]; !ok {
			aside := t.name + "_unusable"
			if len(aside) > 64 {
				aside = t.name[:64-len("_unusable")] + "_unusable"
			}
			if db, _, ok := strings.Cut(quoted, "."); ok {
				aside = db + ".`" + aside + "`"
			} else {
				aside = "`" + aside + "`"
			}
			return []string{"RENAME TABLE " + quoted + " TO " + aside + ";", store.CreateTableStatement()}
		}
	}
	var clauses []string
	token := t.columns["token"]
	switch {
	case !oneOf(token.dataType, "char", "varchar", "binary", "varbinary"),
		token.dataType == "binary" && token.charLen.Int64 != 43,
		token.charLen.Int64 < 43,
		token.collation.Valid && !strings.HasSuffix(token.collation.String, "_bin") && token.collation.String != "binary":
		clauses = append(clauses, "MODIFY token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL")
	}
	if !oneOf(t.columns["data"].dataType, "tinyblob", "blob", "mediumblob", "longblob") {
		clauses = append(clauses, "MODIFY data MEDIUMBLOB NOT NULL")
	}
	if !oneOf(t.columns["expiry"].dataType, "datetime", "timestamp") {
		clauses = append(clauses, "MODIFY expiry DATETIME(6) NOT NULL")
	}
	if !t.expiryIndexed {
		index := t.name + "_expiry_idx"
		if len(index) > 64 {
			index = "expiry_idx"
		}
		clauses = append(clauses, "ADD INDEX `"+index+"` (expiry)")
	}
	if len(clauses) == 0 {
		return nil
	}
	return []string{"ALTER TABLE " + quoted + "\n  " + strings.Join(clauses, ",\n  ") + ";"}
}

func oneOf(s string, set ...string) bool { return slices.Contains(set, s) }
