package sessionkit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestVarsShowCleanupPasses lets the background cleanup delete an expired
// session and reads the result in Vars, as expvar would serve it: JSON
// with snake_case keys, seconds and RFC 3339 times.
func TestVarsShowCleanupPasses(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_CLEANUP_INTERVAL": "100ms"})
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	if _, err := db.Exec("INSERT INTO sessions (token, data, expiry) VALUES ('expired', '', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)"); err != nil {
		t.Fatal(err)
	}
	seeded := time.Now()

	var vars struct {
		Passes              int64    `json:"cleanup_passes"`
		Errors              int64    `json:"cleanup_errors"`
		RowsDeleted         int64    `json:"cleanup_rows_deleted"`
		LastStart           string   `json:"cleanup_last_start"`
		LastDurationSeconds *float64 `json:"cleanup_last_duration_seconds"`
		LastError           *string  `json:"cleanup_last_error"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := json.Marshal(kit.Vars())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &vars); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if vars.RowsDeleted >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row deleted after 10s: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if vars.Passes < 1 || vars.Errors != 0 || vars.RowsDeleted != 1 {
		t.Errorf("cleanup_passes %d, cleanup_errors %d, cleanup_rows_deleted %d: want at least 1, 0, 1", vars.Passes, vars.Errors, vars.RowsDeleted)
	}
	start, err := time.Parse(time.RFC3339Nano, vars.LastStart)
	if err != nil || start.Location() != time.UTC || start.Before(seeded.Add(-time.Second)) {
		t.Errorf("cleanup_last_start %q (%v): want an RFC 3339 UTC time after the seeding", vars.LastStart, err)
	}
	if vars.LastDurationSeconds == nil || *vars.LastDurationSeconds < 0 || *vars.LastDurationSeconds > 10 {
		t.Errorf("cleanup_last_duration_seconds %v: want seconds", fmtPtr(vars.LastDurationSeconds))
	}
	if vars.LastError == nil || *vars.LastError != "" {
		t.Errorf("cleanup_last_error %v: want \"\"", fmtPtr(vars.LastError))
	}
}

// TestVarsWithMemoryStore checks that Vars is all zeros, but there, when
// there is no MySQL store.
func TestVarsWithMemoryStore(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	vars := kit.Vars()
	for key, want := range map[string]any{"cleanup_passes": json.Number("0"), "cleanup_rows_deleted": json.Number("0"),
		"cleanup_last_start": "", "cleanup_last_duration_seconds": json.Number("0"), "cleanup_last_error": ""} {
		if got, ok := vars[key]; !ok || got != want {
			t.Errorf("%s: %#v, want %#v", key, got, want)
		}
	}
}

// TestInFlightCountsRequestsInTheMiddleware holds two requests inside the
// middleware: InFlight counts them while their handlers run and drops back
// to zero once they have returned.
func TestInFlightCountsRequestsInTheMiddleware(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	entered, release := make(chan struct{}), make(chan struct{})
	h := kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	if n := kit.InFlight(); n != 0 {
		t.Fatalf("InFlight before any request: %d, want 0", n)
	}
	done := make(chan struct{})
	for range 2 {
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			done <- struct{}{}
		}()
		<-entered
	}
	if n := kit.InFlight(); n != 2 {
		t.Errorf("InFlight with two handlers running: %d, want 2", n)
	}
	close(release)
	<-done
	<-done
	if n := kit.InFlight(); n != 0 {
		t.Errorf("InFlight after both returned: %d, want 0", n)
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "missing"
	}
	return fmt.Sprint(*p)
}
