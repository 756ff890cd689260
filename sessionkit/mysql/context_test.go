package mysql

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestContextEndsSlowQueries blocks every statement on the table behind a
// table lock and checks that each context-taking method returns promptly
// with the context's error.
func TestContextEndsSlowQueries(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s := NewWithCleanupInterval(db, 0)
	// Prepare the statements and read the column size before the lock, so
	// that what blocks is the operation itself.
	if err := s.Commit(tokenA, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "x")
	if _, err := s.All(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tokenB); err != nil {
		t.Fatal(err)
	}
	lockTable(t, db)

	ops := map[string]func(ctx context.Context) error{
		"FindCtx": func(ctx context.Context) error { _, _, err := s.FindCtx(ctx, tokenA); return err },
		"CommitCtx": func(ctx context.Context) error {
			return s.CommitCtx(ctx, tokenA, []byte("y"), time.Now().Add(time.Hour))
		},
		"DeleteCtx":     func(ctx context.Context) error { return s.DeleteCtx(ctx, tokenA) },
		"AllCtx":        func(ctx context.Context) error { _, err := s.AllCtx(ctx); return err },
		"DeleteExpired": func(ctx context.Context) error { _, err := s.DeleteExpired(ctx); return err },
	}
	for name, op := range ops {
		t.Run(name+" deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			begin := time.Now()
			err := op(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v; want context.DeadlineExceeded", err)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Fatalf("returned after %v", d)
			}
		})
		t.Run(name+" cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			begin := time.Now()
			err := op(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v; want context.Canceled", err)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Fatalf("returned after %v", d)
			}
		})
	}
}

// TestQueryTimeoutBoundsQueries checks Config.QueryTimeout on a context with
// no deadline.
func TestQueryTimeoutBoundsQueries(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	cfg := noCleanup()
	cfg.QueryTimeout = 300 * time.Millisecond
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenA)
	lockTable(t, db)
	begin := time.Now()
	_, _, err = s.Find(tokenA)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Find on a locked table = %v; want context.DeadlineExceeded from QueryTimeout", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
}
