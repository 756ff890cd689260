package mysql

import (
	"errors"
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
