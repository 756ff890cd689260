package mysql

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestTableNames(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	valid := map[string]string{
		"sessions":              "`sessions`",
		"app.sessions":          "`app`.`sessions`",
		"my_sessions$2":         "`my_sessions$2`",
		"2fa":                   "`2fa`",
		strings.Repeat("a", 64): "`" + strings.Repeat("a", 64) + "`",
	}
	for name, quoted := range valid {
		s, err := NewWithConfig(db, tableConfig(name))
		if err != nil {
			t.Errorf("NewWithConfig(Table: %q): %v", name, err)
			continue
		}
		if s.Table() != quoted {
			t.Errorf("Table %q quoted as %s; want %s", name, s.Table(), quoted)
		}
	}
	for _, name := range []string{
		"sessions; DROP TABLE x", "`sessions`", "sess`ions", " ", "a b", "a.b.c", ".sessions", "db.",
		strings.Repeat("a", 65), "db." + strings.Repeat("a", 65), "sessións", "sessions--", "a/b",
	} {
		if _, err := NewWithConfig(db, tableConfig(name)); err == nil || !strings.Contains(err.Error(), "table name") {
			t.Errorf("NewWithConfig(Table: %q) = %v; want an error about the table name", name, err)
		}
	}
}

// TestTableNamesAreQuoted uses a reserved word and a qualified name end to
// end: both work only when quoted.
func TestTableNamesAreQuoted(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	var dbName string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"order", dbName + ".select"} {
		s, err := NewWithConfig(db, tableConfig(name))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.CreateTable(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.Commit(tokenA, []byte(name), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mustFind(t, s, tokenA, name)
		if err := s.Commit(tokenB, []byte(name), time.Now().Add(-time.Hour)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
			t.Fatalf("%s: DeleteExpired = %d, %v", name, n, err)
		}
	}
}

func TestNewWithConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	for name, set := range map[string]func(*Config){
		"CleanupInterval":  func(c *Config) { c.CleanupInterval = -time.Second },
		"CleanupBatchSize": func(c *Config) { c.CleanupBatchSize = 0 },
		"QueryTimeout":     func(c *Config) { c.QueryTimeout = -time.Second },
		"MaxInflight":      func(c *Config) { c.MaxInflight = -1 },
	} {
		cfg := DefaultConfig()
		set(&cfg)
		if _, err := NewWithConfig(db, cfg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("NewWithConfig with a bad %s = %v; want an error naming it", name, err)
		}
	}
	if _, err := NewWithConfig(nil, DefaultConfig()); err == nil {
		t.Error("NewWithConfig(nil db) accepted")
	}
}
