package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// tableName is a validated table name, "name" or "db.name".
type tableName struct {
	schema string // empty: the connection's current database
	name   string
	quoted string // `name` or `db`.`name`
}

var identPattern = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

// parseTableName accepts "name" or "db.name" where each part is 1 to 64
// letters, digits, '_' or '$'. Anything else is refused rather than quoted,
// so a table name can never change the meaning of a statement.
func parseTableName(s string) (tableName, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return tableName{}, fmt.Errorf("sessionkit/mysql: table name %q: want name or db.name", s)
	}
	for _, p := range parts {
		if !identPattern.MatchString(p) {
			return tableName{}, fmt.Errorf("sessionkit/mysql: table name %q: each part must be 1 to 64 letters, digits, '_' or '$'", s)
		}
	}
	t := tableName{name: parts[len(parts)-1]}
	if len(parts) == 2 {
		t.schema = parts[0]
		t.quoted = quoteIdent(t.schema) + "." + quoteIdent(t.name)
	} else {
		t.quoted = quoteIdent(t.name)
	}
	return t, nil
}

// ValidateTableName reports whether name is a table name the store accepts:
// "name" or "db.name", each part 1 to 64 letters, digits, '_' or '$'.
func ValidateTableName(name string) error {
	_, err := parseTableName(name)
	return err
}

func quoteIdent(s string) string { return "`" + s + "`" }

// userIndexName is the name CreateTable gives the user_id index.
func (t tableName) userIndexName() string {
	if n := t.name + "_user_idx"; len(n) <= 64 {
		return n
	}
	return "user_idx"
}

// indexName is the name CreateTable gives the expiry index.
func (t tableName) indexName() string {
	if n := t.name + "_expiry_idx"; len(n) <= 64 {
		return n
	}
	return "expiry_idx"
}

// schemaArg is the TABLE_SCHEMA argument for information_schema queries: nil
// means the connection's current database.
func (t tableName) schemaArg() any {
	if t.schema == "" {
		return nil
	}
	return t.schema
}

// CreateTableStatement returns the CREATE TABLE statement that CreateTable
// runs, for a user to run by hand.
func (s *Store) CreateTableStatement() string {
	return s.q.createTable + ";"
}

// CreateTable creates the recommended session table if it does not exist;
// an existing table is left as it is. On a node of a multi-primary cluster
// it also creates the table of cleanup leases (see the package docs).
func (s *Store) CreateTable(ctx context.Context) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.q.createTable); err != nil {
		return fmt.Errorf("sessionkit/mysql: creating %s: %w", s.table.quoted, err)
	}
	if s.onCluster(ctx) { // and the lease table that keeps cleanup passes apart
		if _, err := s.db.ExecContext(ctx, s.lq.create); err != nil {
			return fmt.Errorf("sessionkit/mysql: creating %s: %w", s.table.leaseTable(), err)
		}
	}
	return nil
}

// Ready reports whether the session table answers a query within ctx: a
// readiness probe. Unlike a ping it fails while a cluster node is still
// joining and refuses queries, and when the table is missing.
func (s *Store) Ready(ctx context.Context) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	var one int
	err := s.db.QueryRowContext(ctx, s.q.ready).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.wrap("ready", err)
	}
	return nil
}

type column struct {
	name, dataType, columnType string
	charLen, octetLen          sql.NullInt64
	collation                  sql.NullString
}

func (s *Store) columns(ctx context.Context) (map[string]column, error) {
	rows, err := s.db.QueryContext(ctx, s.q.columns, s.table.schemaArg(), s.table.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]column{}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.charLen, &c.octetLen, &c.collation); err != nil {
			return nil, err
		}
		cols[c.name] = c
	}
	return cols, rows.Err()
}

// CheckSchema checks that the session table exists and can hold sessions.
// It returns an error, naming every problem, for what makes the table
// unusable: a missing table (a *TableMissingError, matching ErrTableMissing), a missing token, data
// or expiry column, a token column that holds fewer than 43 characters, a data
// column that is not a BLOB type, an expiry column that is not DATETIME or
// TIMESTAMP. It logs a warning, and returns nil, for what works but is weaker
// than the recommended table: a case-insensitive token collation, a TIMESTAMP
// expiry column under a session time zone other than UTC, no index on
// expiry, and, on a cluster node, what the pool must set. It logs at Info
// level when the table lacks the user columns, with the ALTER TABLE that
// adds them. With UpgradePlainTokens on, it fails on a table whose comment
// does not hold PlainTokensComment, with the ALTER TABLE that sets it.
func (s *Store) CheckSchema(ctx context.Context) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	cols, err := s.columns(ctx)
	if err != nil {
		return fmt.Errorf("sessionkit/mysql: checking %s: %w", s.table.quoted, err)
	}
	if len(cols) == 0 {
		return &TableMissingError{Table: s.table.quoted, CreateStatement: s.CreateTableStatement()}
	}
	var problems, warnings []string
	token, ok := cols["token"]
	switch {
	case !ok:
		problems = append(problems, "no token column")
	case !oneOf(token.dataType, "char", "varchar", "binary", "varbinary"):
		problems = append(problems, fmt.Sprintf("token column is %s, want CHAR(43)", strings.ToUpper(token.columnType)))
	case token.dataType == "binary" && token.charLen.Int64 != 43:
		problems = append(problems, fmt.Sprintf("token column is %s: fixed-width BINARY pads 43-character tokens with zero bytes, so none would ever be found; want CHAR(43)", strings.ToUpper(token.columnType)))
	case token.charLen.Int64 < 43:
		problems = append(problems, fmt.Sprintf("token column is %s, too short for 43-character tokens", strings.ToUpper(token.columnType)))
	case token.collation.Valid && !strings.HasSuffix(token.collation.String, "_bin") && token.collation.String != "binary":
		warnings = append(warnings, fmt.Sprintf("token column compares with the case-insensitive collation %s; the store compares tokens exactly, but CHARACTER SET ascii COLLATE ascii_bin is recommended", token.collation.String))
	}
	data, ok := cols["data"]
	switch {
	case !ok:
		problems = append(problems, "no data column")
	case !oneOf(data.dataType, "tinyblob", "blob", "mediumblob", "longblob"):
		problems = append(problems, fmt.Sprintf("data column is %s, want a BLOB type (MEDIUMBLOB recommended)", strings.ToUpper(data.columnType)))
	}
	expiry, ok := cols["expiry"]
	switch {
	case !ok:
		problems = append(problems, "no expiry column")
	case !oneOf(expiry.dataType, "datetime", "timestamp"):
		problems = append(problems, fmt.Sprintf("expiry column is %s, want DATETIME(6)", strings.ToUpper(expiry.columnType)))
	case expiry.dataType == "timestamp":
		utc, zone, err := s.sessionTimeZoneIsUTC(ctx)
		if err != nil {
			return fmt.Errorf("sessionkit/mysql: checking %s: %w", s.table.quoted, err)
		}
		if !utc {
			warnings = append(warnings, fmt.Sprintf("expiry column is TIMESTAMP and the session time zone is %s, not UTC; expiry stays right only while every client uses this same zone (see the package docs); use DATETIME(6) or time_zone='+00:00'", zone))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("sessionkit/mysql: table %s is not usable: %s", s.table.quoted, strings.Join(problems, "; "))
	}
	var indexed int
	if err := s.db.QueryRowContext(ctx, s.q.indexes, s.table.schemaArg(), s.table.name).Scan(&indexed); err != nil {
		return fmt.Errorf("sessionkit/mysql: checking %s: %w", s.table.quoted, err)
	}
	if indexed == 0 {
		warnings = append(warnings, "no index starts with the expiry column, so every cleanup pass scans the whole table")
	}
	clusterWarnings, err := s.clusterWarnings(ctx)
	if err != nil {
		return fmt.Errorf("sessionkit/mysql: checking %s: %w", s.table.quoted, err)
	}
	warnings = append(warnings, clusterWarnings...)
	for _, w := range warnings {
		s.log().Warn("sessionkit/mysql: "+w, "table", s.table.quoted)
	}
	missing := []string{}
	for _, c := range userColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		// Not a warning: the table works; only the sessions of a user
		// (Sessions, Revoke, RevokeUser) need them.
		s.log().Info("sessionkit/mysql: the session table has no user columns ("+strings.Join(missing, ", ")+
			"), so a user's sessions cannot be listed or revoked; to add them:\n"+s.q.usersAlter+";", "table", s.table.quoted)
	}
	if s.cfg.UpgradePlainTokens {
		return s.checkPlainTokenTable(ctx)
	}
	return nil
}

var utcZones = []string{"+00:00", "-00:00", "+0:00", "utc", "etc/utc", "gmt", "etc/gmt", "universal", "zulu", "etc/universal", "etc/zulu"}

// sessionTimeZoneIsUTC reports whether the session time zone of a pooled
// connection is UTC, and its name.
func (s *Store) sessionTimeZoneIsUTC(ctx context.Context) (bool, string, error) {
	var zone, system string
	if err := s.db.QueryRowContext(ctx, "SELECT @@session.time_zone, @@global.system_time_zone").Scan(&zone, &system); err != nil {
		return false, "", err
	}
	name := zone
	if strings.EqualFold(zone, "SYSTEM") {
		name = system
		zone = "SYSTEM (" + system + ")"
	}
	return oneOf(strings.ToLower(name), utcZones...), zone, nil
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
