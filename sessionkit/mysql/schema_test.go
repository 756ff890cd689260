package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

func TestCheckSchemaRefusesUnusableTables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ddl, want string
	}{
		{"missing table", "", "session table `sessions` does not exist"},
		{"missing column", "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL)", "no expiry column"},
		{"short token", "CREATE TABLE sessions (token CHAR(32) PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME(6) NOT NULL)", "CHAR(32), too short"},
		{"padded binary token", "CREATE TABLE sessions (token BINARY(64) PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME(6) NOT NULL)", "fixed-width BINARY pads"},
		{"text data", "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data TEXT NOT NULL, expiry DATETIME(6) NOT NULL)", "data column is TEXT, want a BLOB type"},
		{"integer expiry", "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry BIGINT NOT NULL)", "expiry column is BIGINT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ddl []string
			if tc.ddl != "" {
				ddl = []string{tc.ddl}
			}
			s, _ := newStore(t, ddl)
			err := s.CheckSchema(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckSchema = %v; want an error containing %q", err, tc.want)
			}
			if tc.name == "missing table" {
				var missing *TableMissingError
				if !errors.Is(err, ErrTableMissing) || !errors.As(err, &missing) {
					t.Fatalf("CheckSchema = %v; want a *TableMissingError matching ErrTableMissing", err)
				}
				if missing.CreateStatement != s.CreateTableStatement() {
					t.Fatalf("TableMissingError.CreateStatement = %q; want %q", missing.CreateStatement, s.CreateTableStatement())
				}
			}
		})
	}
}

func TestCheckSchemaWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ddl  []string
		opts []mysqltest.Option
		want []string // substrings of warnings; none when empty
	}{
		{"recommended", []string{usersTable}, nil, nil},
		{"previous version", []string{recommendedTable}, nil, []string{"no user columns", "ADD COLUMN user_id"}},
		{"scs README under UTC session", []string{scsREADMETable, scsREADMEIndex},
			[]mysqltest.Option{mysqltest.Param("time_zone", "'%2B00:00'")},
			[]string{"case-insensitive collation"}},
		{"scs README under +05:30 session", []string{scsREADMETable, scsREADMEIndex},
			[]mysqltest.Option{mysqltest.Param("time_zone", "'%2B05:30'")},
			[]string{"case-insensitive collation", "TIMESTAMP and the session time zone is +05:30"}},
		{"no expiry index", []string{"CREATE TABLE sessions (token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME(6) NOT NULL)"},
			nil, []string{"no index starts with the expiry column"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, tc.ddl, tc.opts...)
			logger, logs := newLogger()
			cfg := noCleanup()
			cfg.Logger = logger
			s, err := NewWithConfig(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckSchema(context.Background()); err != nil {
				t.Fatalf("CheckSchema = %v; want nil", err)
			}
			l := logs.String()
			if len(tc.want) == 0 && l != "" {
				t.Fatalf("unexpected warnings:\n%s", l)
			}
			for _, w := range tc.want {
				if !strings.Contains(l, w) || !(strings.Contains(l, "level=WARN") || strings.Contains(w, "user")) {
					t.Errorf("no warning containing %q in:\n%s", w, l)
				}
			}
			if !strings.Contains(strings.Join(tc.want, ""), "TIMESTAMP") && strings.Contains(l, "TIMESTAMP") {
				t.Errorf("unexpected TIMESTAMP warning:\n%s", l)
			}
		})
	}
}

func TestCreateTable(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, nil)
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	var name, ddl string
	if err := db.QueryRow("SHOW CREATE TABLE sessions").Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	lower := strings.ToLower(ddl)
	for _, want := range []string{"char(43) character set ascii collate ascii_bin", "mediumblob not null", "datetime(6) not null", "primary key (`token`)", "key `sessions_expiry_idx` (`expiry`)"} {
		if !strings.Contains(strings.ReplaceAll(lower, "charset", "character set"), want) {
			t.Errorf("created table lacks %q:\n%s", want, ddl)
		}
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("CreateTable on an existing table: %v", err)
	}
	mustFind(t, s, tokenA, "kept")

	// An existing scs table is left as it is.
	scs, db2 := newStore(t, []string{scsREADMETable})
	if err := scs.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db2.QueryRow("SHOW CREATE TABLE sessions").Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(ddl), "blob not null") || strings.Contains(strings.ToLower(ddl), "mediumblob") {
		t.Fatalf("CreateTable changed an existing table:\n%s", ddl)
	}
}

func TestOperationsOnMissingTable(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, nil)
	if err := s.Commit(tokenA, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, ErrTableMissing) {
		t.Errorf("Commit = %v; want ErrTableMissing", err)
	}
	if _, _, err := s.Find(tokenA); !errors.Is(err, ErrTableMissing) {
		t.Errorf("Find = %v; want ErrTableMissing", err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit once the table exists: %v", err)
	}
}
