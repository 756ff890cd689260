package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// logBuffer is a slog handler target that tests can read while the store
// writes to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// noCleanup is DefaultConfig without the background cleanup.
func noCleanup() Config {
	cfg := DefaultConfig()
	cfg.CleanupInterval = 0
	return cfg
}

// tableConfig is noCleanup on another table.
func tableConfig(name string) Config {
	cfg := noCleanup()
	cfg.Table = name
	return cfg
}

// insertRows adds n rows with the given expiry relative to now, straight
// into the table, in one statement per 1000 rows.
func insertRows(t *testing.T, db *sql.DB, prefix string, n int, expiresIn time.Duration) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		end := min(start+1000, n)
		var q bytes.Buffer
		q.WriteString("INSERT INTO sessions (token, data, expiry) VALUES ")
		args := make([]any, 0, 2*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(",")
			}
			q.WriteString("(?, 'x', ?)")
			args = append(args, tokenFor(prefix, i), formatExpiry(time.Now().Add(expiresIn)))
		}
		if _, err := db.Exec(q.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
}

// tokenFor makes a distinct 43-character token.
func tokenFor(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d", prefix, 43-len(prefix), i)
}

func countRows(t *testing.T, db *sql.DB, where string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE " + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockTable holds LOCK TABLES ... WRITE on its own connection until the
// returned function is called, so that every other statement on the table
// waits.
func lockTable(t *testing.T, db *sql.DB) (unlock func()) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "LOCK TABLES sessions WRITE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			conn.ExecContext(context.Background(), "UNLOCK TABLES")
			conn.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// lockRow holds a row lock on the session row of token, from a transaction
// on its own connection, until the returned function is called: what a slow
// request or a long transaction elsewhere does to a session.
func lockRow(t *testing.T, db *sql.DB, token string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE token = ? FOR UPDATE", token).Scan(&n); err != nil || n != 1 {
		t.Fatalf("locking the row of %s: %d rows, %v", token, n, err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			tx.Rollback()
			conn.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}
