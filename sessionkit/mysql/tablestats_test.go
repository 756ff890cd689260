package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// insertStatsRow adds a row with size bytes of data, expiring in expiresIn,
// bound to user unless it is empty.
func insertStatsRow(t *testing.T, s *Store, token string, size int, expiresIn time.Duration, user string) {
	t.Helper()
	var u any
	if user != "" {
		u = user
	}
	_, err := s.db.Exec("INSERT INTO sessions (token, data, expiry, user_id) VALUES (?, ?, ?, ?)",
		token, strings.Repeat("x", size), formatExpiry(time.Now().Add(expiresIn)), u)
	if err != nil {
		t.Fatal(err)
	}
}

func TestTableStatsCountsRowsSizesAndUsers(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, nil)
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	insertStatsRow(t, s, tokenFor("live", 1), 10, time.Hour, "alice")
	insertStatsRow(t, s, tokenFor("live", 2), 20, 2*time.Hour, "alice")
	insertStatsRow(t, s, tokenFor("live", 3), 30, 3*time.Hour, "bob")
	insertStatsRow(t, s, tokenFor("live", 4), 40, 4*time.Hour, "")
	insertStatsRow(t, s, tokenFor("expired", 1), 100, -time.Hour, "alice")
	insertStatsRow(t, s, tokenFor("expired", 2), 200, -2*time.Hour, "")

	st, err := s.TableStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 6 || st.Live != 4 || st.Expired != 2 {
		t.Errorf("rows, live, expired = %d, %d, %d; want 6, 4, 2", st.Rows, st.Live, st.Expired)
	}
	near := func(got time.Time, want time.Duration) bool {
		d := got.Sub(time.Now().Add(want))
		return d > -time.Minute && d < time.Minute
	}
	if !near(st.OldestExpiry, -2*time.Hour) || !near(st.NewestExpiry, 4*time.Hour) {
		t.Errorf("oldest, newest expiry = %v, %v; want 2h ago and in 4h", st.OldestExpiry, st.NewestExpiry)
	}
	if !near(st.At, 0) {
		t.Errorf("At = %v, want about now", st.At)
	}
	wantSizes := Distribution{Count: 6, Min: 10, Median: 30, P90: 200, P99: 200, Max: 200, Total: 400}
	if st.DataBytes != wantSizes {
		t.Errorf("data sizes = %+v, want %+v", st.DataBytes, wantSizes)
	}
	if !st.HasUsers {
		t.Fatal("HasUsers = false on the recommended table")
	}
	wantUsers := UserStats{Users: 2, Sessions: 4, PerUser: Distribution{Count: 2, Min: 1, Median: 1, P90: 3, P99: 3, Max: 3, Total: 4}}
	if st.Users != wantUsers {
		t.Errorf("users = %+v, want %+v", st.Users, wantUsers)
	}
	if st.DiskBytes <= 0 {
		t.Errorf("DiskBytes = %d, want the table's size", st.DiskBytes)
	}
}

func TestTableStatsOfAnEmptyTableWithoutUserColumns(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, []string{recommendedTable})
	st, err := s.TableStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 0 || !st.OldestExpiry.IsZero() || !st.NewestExpiry.IsZero() || st.DataBytes != (Distribution{}) {
		t.Errorf("stats of an empty table = %+v", st)
	}
	if st.HasUsers || st.Users != (UserStats{}) {
		t.Errorf("HasUsers, Users = %v, %+v; want false and nothing on a table without user columns", st.HasUsers, st.Users)
	}
}

func TestTableStatsSamplesTheSizesOfALargeTable(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	insertRows(t, db, "big", 300, time.Hour) // one byte of data each
	s := NewWithCleanupInterval(db, 0)
	st, err := s.tableStats(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 300 {
		t.Errorf("Rows = %d, want 300", st.Rows)
	}
	d := st.DataBytes
	if !d.Sampled || d.Count == 0 || d.Min != 1 || d.Max != 1 || d.Total != 300 {
		t.Errorf("sampled sizes = %+v; want a sample of 1-byte rows, estimated total 300", d)
	}
}

func TestTableStatsOnAMissingTable(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, nil)
	if _, err := s.TableStats(context.Background()); !errors.Is(err, ErrTableMissing) || !strings.Contains(err.Error(), "`sessions`") {
		t.Errorf("TableStats on a missing table = %v, want ErrTableMissing naming the table", err)
	}
}

func TestDistributionPercentiles(t *testing.T) {
	counts := map[int64]int64{}
	for v := int64(1); v <= 100; v++ {
		counts[v] = 1
	}
	want := Distribution{Count: 100, Min: 1, Median: 50, P90: 90, P99: 99, Max: 100, Total: 5050}
	if got := distribution(counts); got != want {
		t.Errorf("distribution of 1..100 = %+v, want %+v", got, want)
	}
}
