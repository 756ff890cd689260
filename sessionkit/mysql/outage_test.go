package mysql

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

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

// TestHungServerHoldsUpNoOtherCaller points a store at a server that
// accepts connections and never answers. A Find without a deadline hangs in
// its first prepare; Finds and Commits with deadlines must still return at
// their deadlines, not wait behind it.
func TestHungServerHoldsUpNoOtherCaller(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", ln.Addr().String(), "test"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	s := NewWithCleanupInterval(db, 0)
	hung := make(chan error, 1)
	go func() { _, _, err := s.Find(tokenA); hung <- err }()
	// Once the server has its connection, the Find is in its prepare.
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the Find did not connect to the server")
	}

	for name, op := range map[string]func(context.Context) error{
		"FindCtx": func(ctx context.Context) error { _, _, err := s.FindCtx(ctx, tokenA); return err },
		"CommitCtx": func(ctx context.Context) error {
			return s.CommitCtx(ctx, tokenA, []byte("x"), time.Now().Add(time.Hour))
		},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		begin := time.Now()
		err := op(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s = %v; want context.DeadlineExceeded", name, err)
		}
		if d := time.Since(begin); d > 2*time.Second {
			t.Errorf("%s returned after %v, held up behind the hung Find", name, d)
		}
	}

	// Let the hung Find fail, so that no goroutine outlives the test.
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	select {
	case err := <-hung:
		if err == nil {
			t.Error("Find on a server that never answered succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Error("the hung Find did not return after its connection closed")
	}
	db.Close()
}

// TestStalledServerBoundsEveryCall stops the server process (SIGSTOP: it
// keeps its connections open and answers nothing) under 200 concurrent
// calls of different sessions: each one must fail within the QueryTimeout
// from the moment it was called, queued or running, not after the calls
// ahead of it.
func TestStalledServerBoundsEveryCall(t *testing.T) {
	t.Parallel()
	srv := mysqltest.NewServer(t)
	db := mysqltest.Open(t, srv.Database(t).FormatDSN())
	if _, err := db.Exec(recommendedTable); err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	cfg := noCleanup()
	cfg.QueryTimeout = timeout
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	for i := 0; i < 8; i++ { // prepared statements and pooled connections
		if err := s.Commit(tokenFor("warm", i), []byte("x"), expiry); err != nil {
			t.Fatal(err)
		}
		mustFind(t, s, tokenFor("warm", i), "x")
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()

	const calls = 200
	took := make(chan time.Duration, calls)
	for i := 0; i < calls; i++ {
		go func() {
			begin := time.Now()
			var err error
			if i%2 == 0 {
				_, _, err = s.Find(tokenFor("stalled", i))
			} else {
				err = s.Commit(tokenFor("stalled", i), []byte("x"), expiry)
			}
			d := time.Since(begin)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call %d on a stalled server: %v after %v; want DeadlineExceeded", i, err, d)
			}
			took <- d
		}()
	}
	var slowest time.Duration
	for i := 0; i < calls; i++ {
		slowest = max(slowest, <-took)
	}
	t.Logf("slowest of %d calls on a stalled server with a %v QueryTimeout: %v", calls, timeout, slowest)
	if slowest > timeout+500*time.Millisecond {
		t.Errorf("a call on a stalled server took %v with a QueryTimeout of %v", slowest, timeout)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tokenA, []byte("back"), expiry); err != nil {
		t.Fatalf("Commit after the server resumed: %v", err)
	}
	mustFind(t, s, tokenA, "back")
}
