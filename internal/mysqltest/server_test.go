package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqlserver"
)

func TestMain(m *testing.M) {
	if os.Getenv(envPretendNoServer) == "1" {
		serverBinary = func() string { return "" } // see TestNoServerFailsThePackage
	}
	os.Exit(Main(m))
}

// TestStartFailsFastWithTheServerLog starts a server that rejects its
// command line: Start must say so within seconds, quoting the server's own
// error, and keep the data directory for a corrected start.
func TestStartFailsFastWithTheServerLog(t *testing.T) {
	t.Parallel()
	s, err := mysqlserver.Prepare(ServerBinary(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove() })
	const bad = "--no-such-option-for-mysqltest"
	s.ExtraArgs = []string{bad}

	begin := time.Now()
	err = s.Start()
	took := time.Since(begin)
	t.Logf("the failed Start took %v", took)
	if err == nil {
		t.Fatalf("Start with %s succeeded", bad)
	}
	if took > 10*time.Second {
		t.Errorf("Start took %v to notice that the server had exited", took)
	}
	msg := err.Error()
	if !strings.Contains(msg, "[ERROR]") || !strings.Contains(msg, strings.TrimPrefix(bad, "--")) ||
		!strings.Contains(strings.ToLower(msg), "unknown") {
		t.Errorf("Start error does not quote the server's error log:\n%s", msg)
	}

	s.ExtraArgs = nil
	if err := s.Start(); err != nil {
		t.Fatalf("Start after the failed one: %v", err)
	}
	queryOne(t, s, 10*time.Second)
}

// TestRestartKeepsData stops the server gently or kills it, starts it again
// on the same port and expects the committed rows to be there.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		down func(*mysqlserver.Server) error
	}{
		{"Stop", (*mysqlserver.Server).Stop},
		{"Kill", (*mysqlserver.Server).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(t)
			db := Open(t, s.Database(t).FormatDSN())
			for _, q := range []string{"CREATE TABLE t (v INT) ENGINE=InnoDB", "INSERT INTO t VALUES (42)"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := tc.down(s.Server); err != nil {
				t.Fatal(err)
			}
			if err := db.Ping(); err == nil {
				t.Fatalf("the server answers after %s", tc.name)
			}
			if err := s.Start(); err != nil {
				t.Fatalf("Start after %s: %v", tc.name, err)
			}
			var v int
			if err := db.QueryRow("SELECT v FROM t").Scan(&v); err != nil || v != 42 {
				t.Fatalf("after %s and Start: v = %d, %v; want 42", tc.name, v, err)
			}
		})
	}
}

// TestPauseStallsTheServerUntilResume expects queries to a paused server to
// run into their deadlines, to work again after Resume, and Remove not to
// hang on a paused server.
func TestPauseStallsTheServerUntilResume(t *testing.T) {
	t.Parallel()
	s := NewServer(t).Server
	queryOne(t, s, 10*time.Second)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := queryOneErr(s, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query on a paused server: %v; want context.DeadlineExceeded", err)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	queryOne(t, s, 10*time.Second)

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	removed := make(chan error, 1)
	go func() { removed <- s.Remove() }()
	select {
	case err := <-removed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Remove hung on a paused server")
	}
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Remove, the data directory: %v", err)
	}
}

func queryOne(t *testing.T, s *mysqlserver.Server, timeout time.Duration) {
	t.Helper()
	if err := queryOneErr(s, timeout); err != nil {
		t.Fatalf("SELECT 1 on %s: %v", s, err)
	}
}

// queryOneErr runs SELECT 1 on a new connection to s within timeout.
func queryOneErr(s *mysqlserver.Server, timeout time.Duration) error {
	db, err := sql.Open("mysql", s.Config().FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}
