package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// touchStore returns a store that coalesces touches within a minute.
func touchStore(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	db := newDB(t, []string{recommendedTable})
	cfg := noCleanup()
	cfg.TouchInterval = time.Minute
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// stored reads a session's row as it is in the table.
func stored(t *testing.T, db *sql.DB, token string) (data string, expiry time.Time, found bool) {
	t.Helper()
	var e string
	err := db.QueryRow("SELECT data, "+expiryText+" FROM sessions WHERE token = ?", token).Scan(&data, &e)
	if err == sql.ErrNoRows {
		return "", time.Time{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	expiry, err = time.Parse(expiryLayout, e)
	if err != nil {
		t.Fatal(err)
	}
	return data, expiry, true
}

func encode(t *testing.T, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTouchCoalescing commits an unchanged session with its expiry moved:
// by less than the interval it is not written; further, only its expiry is.
func TestTouchCoalescing(t *testing.T) {
	t.Parallel()
	s, db := touchStore(t)
	deadline := time.Now().Add(24 * time.Hour)
	data := encode(t, deadline, map[string]any{"user": "ada"})
	e0 := time.Now().Add(30 * time.Minute).Truncate(time.Microsecond)
	if err := s.Commit(tokenA, data, e0); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, string(data))

	if err := s.Commit(tokenA, data, e0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, expiry, _ := stored(t, db, tokenA); !expiry.Equal(e0.UTC()) {
		t.Errorf("a touch within the interval was written: expiry %v, want %v", expiry, e0.UTC())
	}
	if err := s.Commit(tokenA, data, e0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, expiry, _ := stored(t, db, tokenA); !expiry.Equal(e0.Add(2*time.Minute).UTC()) || got != string(data) {
		t.Errorf("after a touch past the interval: expiry %v, want %v", expiry, e0.Add(2*time.Minute).UTC())
	}
	st := s.Stats()
	if st.TouchesSkipped != 1 || st.TouchesWritten != 1 {
		t.Errorf("TouchesSkipped %d, TouchesWritten %d; want 1 and 1", st.TouchesSkipped, st.TouchesWritten)
	}

	// A changed session is written whole, whatever its expiry.
	changed := encode(t, deadline, map[string]any{"user": "grace"})
	if err := s.Commit(tokenA, changed, e0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stored(t, db, tokenA); got != string(changed) {
		t.Error("a changed session was not written")
	}
}

// TestTouchNeverHidesAnotherWrite reads a session, lets another replica
// write it, then commits the unchanged session this replica read: neither
// a skipped touch nor an expiry-only one may undo the other write.
func TestTouchNeverHidesAnotherWrite(t *testing.T) {
	t.Parallel()
	s, db := touchStore(t)
	deadline := time.Now().Add(24 * time.Hour)
	mine := encode(t, deadline, map[string]any{"n": 1})
	theirs := encode(t, deadline, map[string]any{"n": 2})
	e0 := time.Now().Add(30 * time.Minute)
	if err := s.Commit(tokenA, mine, e0); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, string(mine))
	other := NewWithCleanupInterval(db, 0) // another replica
	defer other.Close()
	if err := other.Commit(tokenA, theirs, e0); err != nil {
		t.Fatal(err)
	}
	for _, move := range []time.Duration{time.Second, 5 * time.Minute} {
		if err := s.Commit(tokenA, mine, e0.Add(move)); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := stored(t, db, tokenA); got != string(theirs) {
			t.Fatalf("an unchanged session moved by %v overwrote another replica's write", move)
		}
	}
}

// TestTouchNeverBringsBackADeletedSession deletes a session through another
// replica between a read and an unchanged commit.
func TestTouchNeverBringsBackADeletedSession(t *testing.T) {
	t.Parallel()
	s, db := touchStore(t)
	data := encode(t, time.Now().Add(24*time.Hour), map[string]any{"user": "ada"})
	e0 := time.Now().Add(30 * time.Minute)
	if err := s.Commit(tokenA, data, e0); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, string(data))
	if _, err := db.Exec("DELETE FROM sessions"); err != nil {
		t.Fatal(err)
	}
	for _, move := range []time.Duration{time.Second, 5 * time.Minute} {
		if err := s.Commit(tokenA, data, e0.Add(move)); err != nil {
			t.Fatal(err)
		}
		if _, _, found := stored(t, db, tokenA); found {
			t.Fatalf("an unchanged commit moved by %v brought a deleted session back", move)
		}
	}
}

// TestTouchComparesValuesNotBytes commits a session of several values whose
// encoding differs from the one read only by the order of the map (scs's
// GobCodec encodes a map in random order): it is unchanged.
func TestTouchComparesValuesNotBytes(t *testing.T) {
	t.Parallel()
	s, db := touchStore(t)
	deadline := time.Now().Add(24 * time.Hour)
	values := map[string]any{}
	for i := 0; i < 8; i++ {
		values[fmt.Sprint("key", i)] = i
	}
	first := encode(t, deadline, values)
	var second []byte
	for i := 0; i < 1000 && (second == nil || bytes.Equal(first, second)); i++ {
		second = encode(t, deadline, values)
	}
	if bytes.Equal(first, second) {
		t.Skip("the encodings never differed")
	}
	e0 := time.Now().Add(30 * time.Minute)
	if err := s.Commit(tokenA, first, e0); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, string(first))
	if err := s.Commit(tokenA, second, e0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stored(t, db, tokenA); got != string(first) {
		t.Error("a session that differs only in map order was rewritten")
	}
	if sameSession(first, encode(t, deadline, map[string]any{"key0": 0})) {
		t.Error("sessions with different values compare equal")
	}
}

// TestReadMemoComparesWithTheRequestsOwnRead runs two requests of one
// session: one changes it, the other only reads; the reader commits last.
// With a memo per request the reader's commit is not written, so the change
// survives.
func TestReadMemoComparesWithTheRequestsOwnRead(t *testing.T) {
	t.Parallel()
	s, db := touchStore(t)
	deadline := time.Now().Add(24 * time.Hour)
	before := encode(t, deadline, map[string]any{"cart": 1})
	after := encode(t, deadline, map[string]any{"cart": 2})
	e0 := time.Now().Add(30 * time.Minute)
	if err := s.Commit(tokenA, before, e0); err != nil {
		t.Fatal(err)
	}
	writer, reader := WithRequest(context.Background(), nil), WithRequest(context.Background(), nil)
	for _, ctx := range []context.Context{writer, reader} {
		if b, found, err := s.FindCtx(ctx, tokenA); err != nil || !found || !bytes.Equal(b, before) {
			t.Fatalf("FindCtx = %q, %v, %v", b, found, err)
		}
	}
	if err := s.CommitCtx(writer, tokenA, after, e0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitCtx(reader, tokenA, before, e0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := stored(t, db, tokenA); got != string(after) {
		t.Error("a request that only read overwrote the change of a concurrent one")
	}
}

// TestTouchMemoryIsBounded fills the memory of a store without memos past
// its size.
func TestTouchMemoryIsBounded(t *testing.T) {
	t.Parallel()
	var m touches
	for i := 0; i < touchMemory+500; i++ {
		m.put(fmt.Sprint(i), seen{})
	}
	if n := len(m.seen); n != touchMemory {
		t.Fatalf("remembered %d tokens; want at most %d", n, touchMemory)
	}
}
