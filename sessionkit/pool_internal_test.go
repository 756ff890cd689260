package sessionkit

import (
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestNewSetsSessionTimeZoneAndPool checks what New makes hold on its own
// pool, whatever the DSN leaves out: the UTC session time zone, parseTime,
// and the pool limits.
func TestNewSetsSessionTimeZoneAndPool(t *testing.T) {
	t.Parallel()
	for name, params := range map[string]string{
		"bare DSN":        "",
		"UTC spelled out": "?parseTime=true&loc=UTC&time_zone=%27%2B00%3A00%27",
		"UTC by name":     "?time_zone=%27UTC%27",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := mysqltest.Config(t)
			dsn.ParseTime = false
			cfg, err := LoadConfigFrom(map[string]string{
				"SESSION_MYSQL_DSN": dsn.FormatDSN() + params, "SESSION_CREATE_TABLE": "true",
				"SESSION_DB_MAX_OPEN_CONNS": "7", "SESSION_DB_MAX_IDLE_CONNS": "3",
			})
			if err != nil {
				t.Fatal(err)
			}
			k, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Shutdown(t.Context())
			var tz string
			var now any
			if err := k.db.QueryRowContext(t.Context(), "SELECT @@session.time_zone, UTC_TIMESTAMP()").Scan(&tz, &now); err != nil {
				t.Fatal(err)
			}
			if tz != "+00:00" && tz != "UTC" {
				t.Errorf("session time zone %q, want +00:00", tz)
			}
			if _, ok := now.(time.Time); !ok {
				t.Errorf("DATETIME scanned as %T, want time.Time (parseTime=true)", now)
			}
			if got := k.db.Stats().MaxOpenConnections; got != 7 {
				t.Errorf("MaxOpenConnections %d, want 7", got)
			}
		})
	}
}

// TestOpenStoreSharesNewsPool checks that OpenStore opens the pool as New
// does (the session time zone, parseTime, the lock wait bound, the pool
// limits) and starts no cleanup, with the table left alone.
func TestOpenStoreSharesNewsPool(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.Config(t)
	dsn.ParseTime = false
	cfg, err := LoadConfigFrom(map[string]string{
		"SESSION_MYSQL_DSN": dsn.FormatDSN(), "SESSION_DB_MAX_OPEN_CONNS": "7", "SESSION_DB_QUERY_TIMEOUT": "2500ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, db, err := OpenStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer store.Close()
	var tz string
	var lockWait int
	var now any
	if err := db.QueryRowContext(t.Context(), "SELECT @@session.time_zone, @@session.innodb_lock_wait_timeout, UTC_TIMESTAMP()").Scan(&tz, &lockWait, &now); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" && tz != "UTC" {
		t.Errorf("session time zone %q, want +00:00", tz)
	}
	if lockWait != 3 {
		t.Errorf("innodb_lock_wait_timeout %d, want 3 (2.5s rounded up)", lockWait)
	}
	if _, ok := now.(time.Time); !ok {
		t.Errorf("DATETIME scanned as %T, want time.Time (parseTime=true)", now)
	}
	if got := db.Stats().MaxOpenConnections; got != 7 {
		t.Errorf("MaxOpenConnections %d, want 7", got)
	}
	// The table was neither checked nor created.
	if err := store.CheckSchema(t.Context()); err == nil {
		t.Error("CheckSchema found a table that nobody created")
	}
}
