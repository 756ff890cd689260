package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestDebugVarsShowCleanupStatistics checks the cleanup statistics the
// examples publish at /debug/vars with DEBUG_VARS=true: after expired
// sessions are seeded, the passes and the rows deleted go up by what was
// deleted, with no error, and the live session stays. Without DEBUG_VARS
// there is no /debug/vars.
func TestDebugVarsShowCleanupStatistics(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		db := mysqltest.Open(t, dsn)
		p := startExample(t, ex, dsn, "SESSION_CLEANUP_INTERVAL=200ms", "DEBUG_VARS=true")
		off := startExample(t, ex, dsn, "SESSION_CLEANUP_INTERVAL=0")
		c := newClient(t)

		if status, _ := c.get(off.URL + "/debug/vars"); status != http.StatusNotFound {
			t.Errorf("GET /debug/vars without DEBUG_VARS: status %d, want 404", status)
		}

		c.put(p.URL)
		before := mustReadVars(t, p.URL)
		if before.Goroutines <= 0 || before.Memstats.HeapAlloc == 0 {
			t.Errorf("/debug/vars: goroutines %d, memstats.HeapAlloc %d: want both above 0",
				before.Goroutines, before.Memstats.HeapAlloc)
		}

		const expired = 120
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := seedExpired(ctx, db, expired); err != nil {
			t.Fatal(err)
		}
		seeded := time.Now()
		var after debugVars
		eventually(t, 20*time.Second, func() error {
			v, err := readVars(p.URL)
			if err != nil {
				return err
			}
			after = v
			if got := v.Sessionkit.RowsDeleted - before.Sessionkit.RowsDeleted; got < expired {
				return fmt.Errorf("cleanup_rows_deleted went up by %d, want %d", got, expired)
			}
			// rows_deleted counts each statement as it ends, passes and
			// last_start a pass as it ends: wait for the pass too.
			if last, err := time.Parse(time.RFC3339Nano, v.Sessionkit.LastStart); err != nil || last.Before(seeded.Add(-time.Second)) {
				return fmt.Errorf("last_start %q: no pass started after the seeding has ended", v.Sessionkit.LastStart)
			}
			return nil
		})

		s, s0 := after.Sessionkit, before.Sessionkit
		if got := s.RowsDeleted - s0.RowsDeleted; got != expired {
			t.Errorf("cleanup_rows_deleted went up by %d, want %d", got, expired)
		}
		if s.Passes <= s0.Passes || s.Statements <= s0.Statements {
			t.Errorf("cleanup_passes %d -> %d, cleanup_statements %d -> %d: want both to go up",
				s0.Passes, s.Passes, s0.Statements, s.Statements)
		}
		if s.Errors != 0 || s.LastError != "" || s.Skipped != 0 {
			t.Errorf("cleanup_errors %d, cleanup_last_error %q, cleanup_skipped %d: want none with one replica and a healthy database",
				s.Errors, s.LastError, s.Skipped)
		}
		last, err := time.Parse(time.RFC3339Nano, s.LastStart)
		if err != nil || last.Before(seeded.Add(-time.Second)) || s.LastDurationSeconds < 0 {
			t.Errorf("cleanup_last_start %q, cleanup_last_duration_seconds %v: want a pass started after the seeding (%v)",
				s.LastStart, s.LastDurationSeconds, err)
		}
		if n, err := countExpired(ctx, db); err != nil || n != 0 {
			t.Errorf("%d expired sessions left (%v), want 0", n, err)
		}
		c.expectMessage(p.URL, message) // cleanup leaves the live session alone

		// The passes go on.
		eventually(t, 10*time.Second, func() error {
			v, err := readVars(p.URL)
			if err != nil {
				return err
			}
			if v.Sessionkit.Passes <= s.Passes {
				return fmt.Errorf("cleanup_passes still %d", v.Sessionkit.Passes)
			}
			return nil
		})
	})
}

// TestBadServerOptionsExitBeforeListening checks that the examples refuse a
// bad LOG_LEVEL or DEBUG_VARS, naming both, instead of falling back to a
// default.
func TestBadServerOptionsExitBeforeListening(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := launch(t, ex,
			"SESSION_MYSQL_DSN=user:password@tcp(127.0.0.1:1)/app",
			"LOG_LEVEL=loud", "DEBUG_VARS=maybe")
		if code := p.waitExit(t, 30*time.Second); code == 0 {
			t.Fatal("exit code 0 with LOG_LEVEL=loud and DEBUG_VARS=maybe")
		}
		logs := p.stderr.String()
		for _, want := range []string{`LOG_LEVEL \"loud\"`, `DEBUG_VARS \"maybe\"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("stderr does not say %s:\n%s", want, logs)
			}
		}
		if strings.Contains(logs, `"msg":"listening"`) {
			t.Fatalf("listened despite the bad options:\n%s", logs)
		}
	})
}
