package sessionkit

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestVarsOfFollowsTheFields runs varsOf on a struct with every kind of
// field Stats has, or may gain: each becomes a key without varsOf knowing
// the struct.
func TestVarsOfFollowsTheFields(t *testing.T) {
	t.Parallel()
	type batch struct{ Rows int }
	type counters struct {
		FindCalls      int64
		HTTPErrors     int
		P99            time.Duration
		LastStart      time.Time
		NeverStarted   time.Time
		LastError      error
		NoError        error
		Batch          batch
		Healthy        bool
		hidden         int
		LastDuration   time.Duration
		LockHolderName string
	}
	start := time.Date(2025, 3, 1, 12, 30, 0, 250_000_000, time.FixedZone("CET", 3600))
	got := varsOf(reflect.ValueOf(counters{
		FindCalls: 7, HTTPErrors: 2, P99: 1500 * time.Millisecond, LastStart: start,
		LastError: errors.New("lock wait timeout"), Batch: batch{Rows: 64}, Healthy: true, hidden: 1,
		LastDuration: 20 * time.Millisecond, LockHolderName: "replica-2",
	}))
	want := map[string]any{
		"find_calls":            int64(7),
		"http_errors":           2,
		"p99_seconds":           1.5,
		"last_start":            "2025-03-01T11:30:00.25Z",
		"never_started":         "",
		"last_error":            "lock wait timeout",
		"no_error":              "",
		"batch":                 map[string]any{"rows": 64},
		"healthy":               true,
		"last_duration_seconds": 0.02,
		"lock_holder_name":      "replica-2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("varsOf:\n got %v\nwant %v", got, want)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("not JSON: %v", err)
	}
}

func TestSnakeCaseSplitsWordsAndKeepsInitialisms(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"Passes": "passes", "RowsDeleted": "rows_deleted", "LastDuration": "last_duration",
		"FindStatements": "find_statements", "HTTPErrors": "http_errors", "MaxInflight": "max_inflight",
		"P99": "p99", "TokenID": "token_id", "Batch64Rows": "batch64_rows",
	} {
		if got := snakeCase(name); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", name, got, want)
		}
	}
}
