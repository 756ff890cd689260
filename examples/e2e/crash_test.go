package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestDatabaseCrashUnderLoad kills the database server with SIGKILL under a
// steady load on two replicas (chi and nethttp), and starts it again.
//
// While it is down, every request answers 500 from the kit's ErrorFunc (no
// other status, never a broken connection), /healthz answers 503, and the
// goroutine count stays where the load had it. Once it is back, every user's
// requests succeed again within 5s, with no restart of the servers, every
// session is still in the table, and every visit counter carries on from
// its last value. No panic is logged.
func TestDatabaseCrashUnderLoad(t *testing.T) {
	t.Parallel()
	sc := scale(t)
	srv := mysqltest.NewServer(t)
	dsn := srv.Database(t).FormatDSN()
	db := mysqltest.Open(t, dsn)
	env := []string{"DEBUG_VARS=true", "SESSION_CLEANUP_INTERVAL=1s"}
	procs := []*process{
		startExample(t, exampleNamed("chi"), dsn, env...),
		startExample(t, exampleNamed("nethttp"), dsn, env...),
	}
	lb := newBalancer(procs...)
	idle := goroutines(t, procs)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tr := newLoadTransport(t)
	users, stopUsers := startUsers(ctx, tr, lb, sc.users, 5*time.Millisecond)
	defer stopUsers()
	waitUsers(t, users, 60*time.Second, "their session is stored", func(u *user) bool { return u.okCount.Load() >= 3 })
	time.Sleep(time.Second)
	loaded := goroutines(t, procs)

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	restarted := false
	defer func() {
		if !restarted {
			srv.Start()
		}
	}()

	// Down for 3s: /healthz says so, and the goroutines stay put.
	outage := make([]int, len(procs))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for time.Since(killed) < 3*time.Second {
		for _, p := range procs {
			resp, err := hc.Get(p.URL + "/healthz")
			if err != nil {
				t.Fatalf("%s: GET /healthz with the database down: %v", p.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("%s: GET /healthz with the database down: status %d, want 503", p.name, resp.StatusCode)
			}
		}
		for i, n := range goroutines(t, procs) {
			outage[i] = max(outage[i], n)
		}
		time.Sleep(300 * time.Millisecond)
	}

	restarting := time.Now() // the database is down until at least here
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now() // and up from here
	waitUsers(t, users, 30*time.Second, "a request succeeds after the restart", func(u *user) bool {
		return u.lastOKStart.Load() >= back.UnixNano()
	})
	time.Sleep(time.Second)
	stopUsers()

	// Every response was a 200 or the ErrorFunc's 500; while the database
	// was down, only 500s.
	errorText := http.StatusText(http.StatusInternalServerError) + "\n"
	var down, inDoubt, total int
	var slowest time.Duration
	for n, u := range users {
		recovered := false
		for _, v := range u.log {
			total++
			where := fmt.Sprintf("user %d: GET / on %s sent at %s", n, procs[v.replica].name, v.start.Format(time.StampMicro))
			if v.err != nil {
				t.Fatalf("%s: %v (want an HTTP answer, also with the database down)", where, v.err)
			}
			switch v.status {
			case http.StatusOK:
				if v.start.After(back) && !recovered {
					recovered = true
					slowest = max(slowest, v.end.Sub(back))
				}
			case http.StatusInternalServerError:
				// Exactly the ErrorFunc's answer: the kit drops what the
				// handler writes after a failed commit.
				if v.body != errorText {
					t.Fatalf("%s: a 500 with body %q, not the ErrorFunc's", where, v.body)
				}
				if v.start.Before(killed) {
					inDoubt++
				}
			default:
				t.Fatalf("%s: status %d, want 200 or 500; body %q", where, v.status, v.body)
			}
			if v.start.After(killed) && v.end.Before(restarting) {
				down++
				if v.status != http.StatusInternalServerError {
					t.Fatalf("%s with the database down (killed at %s, restarted at %s): status %d, want 500",
						where, killed.Format(time.StampMicro), restarting.Format(time.StampMicro), v.status)
				}
			}
		}
		if !recovered {
			t.Fatalf("user %d: no request succeeded after the restart", n)
		}
	}
	if down == 0 {
		t.Fatal("no request was sent while the database was down")
	}
	if slowest > 5*time.Second {
		t.Errorf("the last user's requests succeeded again %v after the database was back, want at most 5s", slowest)
	}

	// Nothing committed before the kill is lost: the sessions are all in the
	// table, and each counter carries on from the last value its user saw
	// (one higher if the request in flight at the kill committed but failed).
	var tokens []string
	skips := 0
	for n, u := range users {
		u.get(ctx, lb, lb.pick())
		n1, err := u.checkCounters(func(v visit) bool { return v.status == http.StatusInternalServerError && v.start.Before(killed) })
		if err != nil {
			t.Errorf("user %d: %v", n, err)
		}
		skips += n1
		tokens = append(tokens, u.token(procs[0].URL))
	}
	if n, err := countStored(ctx, db, tokens); err != nil || n != len(users) {
		t.Errorf("%d of the %d sessions committed before the kill are in the table after it (%v)", n, len(users), err)
	}
	var rows int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&rows); err != nil || rows != len(users) {
		t.Errorf("SELECT COUNT(*) FROM sessions: %d (%v), want the %d sessions of the users", rows, err, len(users))
	}

	// The goroutines: no pile-up while the database was down, and back to
	// where they were before the load once it is over.
	for i, p := range procs {
		if outage[i] > loaded[i]+2*len(users)+20 {
			t.Errorf("%s: %d goroutines with the database down, %d under load before", p.name, outage[i], loaded[i])
		}
	}
	tr.CloseIdleConnections()
	eventually(t, 15*time.Second, func() error {
		now := goroutines(t, procs)
		for i, p := range procs {
			if now[i] > idle[i]+10 {
				return fmt.Errorf("%s: %d goroutines after the load, %d before it", p.name, now[i], idle[i])
			}
		}
		return nil
	})
	for _, p := range procs {
		if p.hasExited() {
			t.Errorf("%s exited", p.name)
		}
		checkNoPanic(t, p)
	}
	t.Logf("%d users, %d requests; %d sent while the database was down (all 500); "+
		"%d 500s for requests sent before the kill was done, %d of them committed; every user served again %v after the restart; "+
		"goroutines idle %v, under load %v, database down (max) %v",
		len(users), total, down, inDoubt, skips, slowest.Round(time.Millisecond), idle, loaded, outage)
}

// TestReplicaCrashUnderLoad kills one of two chi replicas with SIGKILL
// under load. The round-robin client takes it out of the rotation at its
// first failed request, and the other replica serves every session on: no
// status but 200, and every visit counter carries on exactly: a value is
// skipped only right after a request that failed at the killed replica (it
// committed, and the process died before it answered), never repeated.
func TestReplicaCrashUnderLoad(t *testing.T) {
	t.Parallel()
	sc := scale(t)
	dsn := mysqltest.DSN(t)
	db := mysqltest.Open(t, dsn)
	chi := exampleNamed("chi")
	procs := []*process{
		startExample(t, chi, dsn),
		startExample(t, chi, dsn),
	}
	lb := newBalancer(procs...)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tr := newLoadTransport(t)
	users, stopUsers := startUsers(ctx, tr, lb, sc.users, 5*time.Millisecond)
	defer stopUsers()
	waitUsers(t, users, 60*time.Second, "six requests succeed", func(u *user) bool { return u.okCount.Load() >= 6 })

	victim := procs[1]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	before := make(map[*user]int64)
	for _, u := range users {
		before[u] = u.okCount.Load()
	}
	waitUsers(t, users, 60*time.Second, "three more requests succeed", func(u *user) bool { return u.okCount.Load() >= before[u]+3 })
	stopUsers()
	victim.waitExit(t, 10*time.Second)

	var failed, total, bothBefore int
	for n, u := range users {
		servedBy := make([]bool, len(procs))
		for _, v := range u.log {
			total++
			if v.err != nil {
				failed++
				if v.replica != 1 {
					t.Fatalf("user %d: GET / on the surviving replica: %v", n, v.err)
				}
				continue
			}
			if v.status != http.StatusOK {
				t.Fatalf("user %d: GET / on replica %d: status %d, want 200; body %q", n, v.replica, v.status, v.body)
			}
			if v.start.Before(killed) {
				servedBy[v.replica] = true
			} else if v.replica == 1 {
				t.Fatalf("user %d: a request sent after the kill was served by the killed replica", n)
			}
		}
		if slices.Equal(servedBy, []bool{true, true}) {
			bothBefore++
		}
	}

	var tokens []string
	skips := 0
	for n, u := range users {
		if v := u.get(ctx, lb, 0); v.err != nil || v.status != http.StatusOK {
			t.Fatalf("user %d: GET / on the surviving replica after the load: %d %v", n, v.status, v.err)
		}
		// Any failed request may have committed: the transport retries a GET
		// whose reused connection broke, and reports only the refused dial
		// of the retry.
		n1, err := u.checkCounters(func(v visit) bool { return v.err != nil })
		if err != nil {
			t.Errorf("user %d: %v", n, err)
		}
		skips += n1
		tokens = append(tokens, u.token(procs[0].URL))
	}
	if n, err := countStored(ctx, db, tokens); err != nil || n != len(users) {
		t.Errorf("%d of the %d sessions in the table (%v)", n, len(users), err)
	}
	if procs[0].hasExited() {
		t.Error("the surviving replica exited")
	}
	checkNoPanic(t, procs[0])
	t.Logf("%d users (%d served by both replicas before the kill), %d requests; %d failed at the killed replica, "+
		"%d of those had committed; every counter carried on exactly on the survivor",
		len(users), bothBefore, total, failed, skips)
}

// goroutines reads the goroutine count of each process from /debug/vars.
func goroutines(t *testing.T, procs []*process) []int {
	t.Helper()
	out := make([]int, len(procs))
	for i, p := range procs {
		out[i] = mustReadVars(t, p.URL).Goroutines
	}
	return out
}
