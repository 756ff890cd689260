package mysql

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestStatsCountErrorsByOperation makes each of Find, Commit and Delete
// fail a different number of times, on a table that does not exist yet,
// and checks that only the failed calls are counted, each under its own
// operation.
func TestStatsCountErrorsByOperation(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	s, err := NewWithConfig(db, noCleanup())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	expiry := time.Now().Add(time.Hour)

	for range 3 {
		if _, _, err := s.Find(tokenA); !errors.Is(err, ErrTableMissing) {
			t.Fatalf("Find without a table: %v, want ErrTableMissing", err)
		}
	}
	for range 2 {
		if err := s.Commit(tokenA, []byte("a"), expiry); !errors.Is(err, ErrTableMissing) {
			t.Fatalf("Commit without a table: %v, want ErrTableMissing", err)
		}
	}
	if err := s.Delete(tokenA); !errors.Is(err, ErrTableMissing) {
		t.Fatalf("Delete without a table: %v, want ErrTableMissing", err)
	}

	if _, err := db.Exec(recommendedTable); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("a"), expiry); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "a")
	if err := s.Delete(tokenA); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	if st.FindErrors != 3 || st.CommitErrors != 2 || st.DeleteErrors != 1 {
		t.Errorf("FindErrors %d, CommitErrors %d, DeleteErrors %d: want 3, 2, 1", st.FindErrors, st.CommitErrors, st.DeleteErrors)
	}
}

// TestStatsJSONKeysFollowTheTags encodes a Stats with every field set: each
// field is one key, named by its tag, with the duration in seconds, the time
// in RFC 3339 UTC and the error as its message; a zero Stats has "" for the
// time and the error.
func TestStatsJSONKeysFollowTheTags(t *testing.T) {
	t.Parallel()
	fields := reflect.TypeFor[Stats]()
	var st Stats
	v := reflect.ValueOf(&st).Elem()
	want := map[string]any{}
	for i := range fields.NumField() {
		f := fields.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if key == "" || key != strings.ToLower(key) || strings.Contains(key, "-") {
			t.Errorf("Stats.%s: json tag %q; want a snake_case key", f.Name, f.Tag.Get("json"))
			continue
		}
		if _, dup := want[key]; dup {
			t.Errorf("Stats.%s: key %q used twice", f.Name, key)
		}
		if f.Type.Kind() == reflect.Int64 && f.Type != reflect.TypeFor[time.Duration]() {
			v.Field(i).SetInt(int64(i + 1))
			want[key] = float64(i + 1)
		}
	}
	st.CleanupLastStart = time.Date(2025, 3, 1, 12, 30, 0, 250_000_000, time.FixedZone("CET", 3600))
	st.CleanupLastDuration = 1500 * time.Millisecond
	st.CleanupLastError = errors.New("lock wait timeout")
	want["cleanup_last_start"] = "2025-03-01T11:30:00.25Z"
	want["cleanup_last_duration_seconds"] = 1.5
	want["cleanup_last_error"] = "lock wait timeout"
	if got := decodeStats(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("JSON of Stats:\n got %v\nwant %v", got, want)
	}

	zero := decodeStats(t, Stats{})
	for key, want := range map[string]any{"cleanup_last_start": "", "cleanup_last_duration_seconds": 0.0, "cleanup_last_error": "", "cleanup_passes": 0.0} {
		if zero[key] != want {
			t.Errorf("JSON of a zero Stats: %s is %#v, want %#v", key, zero[key], want)
		}
	}
}

func decodeStats(t *testing.T, st Stats) map[string]any {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}
