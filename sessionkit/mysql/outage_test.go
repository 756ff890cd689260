package mysql

import (
	"database/sql"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestOutage starts a store while its server is down, and stops the server
// again mid-run: operations fail while it is down and work again once it is
// back, with the same store.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := mysqltest.NewServer(t)
	cfg := srv.Database(t)
	cfg.Timeout = 2 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(recommendedTable); err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0) // nothing pooled from before the outage
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	s := New(db)
	defer s.StopCleanup()
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Fatalf("New blocked for %v with the server down", d)
	}
	expiry := time.Now().Add(time.Hour)
	if err := s.Commit(tokenA, []byte("x"), expiry); err == nil {
		t.Fatal("Commit succeeded with the server down")
	}
	if _, _, err := s.Find(tokenA); err == nil {
		t.Fatal("Find succeeded with the server down")
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("back"), expiry); err != nil {
		t.Fatalf("Commit after the server came back: %v", err)
	}
	mustFind(t, s, tokenA, "back")

	// Down again mid-run, with connections in the pool this time.
	db.SetMaxIdleConns(4)
	mustFind(t, s, tokenA, "back")
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Find(tokenA); err == nil {
		t.Fatal("Find succeeded with the server killed")
	}
	if err := s.Delete(tokenA); err == nil {
		t.Fatal("Delete succeeded with the server killed")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	mustFind(t, s, tokenA, "back")
	if err := s.Delete(tokenA); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenA)
}
