package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
)

// TestGalera runs the examples on a 3-node MariaDB Galera cluster, one
// replica per node, each given the DSN of its own node and nothing else
// beyond what every e2e test sets (table creation, cookies without Secure
// for plain http) and what a scenario says it sets. The replicas are chi on
// node1 and nethttp on node2 and node3; the users are browsers with cookie
// jars that log in with the examples' form and then count their visits.
//
// The subtests run one after another on the one cluster, with no other test
// running: the last one kills a node. The cluster is stopped at the end, so
// that its memory is free for the parallel tests that follow.
func TestGalera(t *testing.T) {
	mysqltest.Long(t)
	c := mysqltest.Cluster(t)
	t.Cleanup(mysqltest.StopClusters)
	sz := galeraScale(t)
	t.Run("EveryVisitSeenOnTheNextNode", func(t *testing.T) { testGaleraVisits(t, c, sz) })
	t.Run("CleanupOnePassAtATime", func(t *testing.T) { testGaleraCleanup(t, c, sz) })
	t.Run("NodeCrashUnderLoad", func(t *testing.T) { testGaleraNodeCrash(t, c, sz) })
}

// galeraSizes are the sizes of the Galera scenarios.
type galeraSizes struct {
	users   int           // concurrent users, each with a cookie jar of its own
	pages   int           // GET / per user after the login, in the visits scenario
	expired int           // expired sessions for the replicas' cleanup
	down    time.Duration // how long the killed node stays down once the others evicted it
	after   int           // pages per user on all three replicas once the node is back
}

// galeraScale returns the sizes for SESSIONKIT_E2E_SCALE: 16 users of 300
// pages with "full", of 60 pages by default, so that CI runs the scenarios
// in about a minute on two cores.
func galeraScale(t *testing.T) galeraSizes {
	t.Helper()
	scale(t) // refuses a bad value
	if os.Getenv(envScale) == "full" {
		return galeraSizes{users: 16, pages: 300, expired: 60000, down: 10 * time.Second, after: 60}
	}
	return galeraSizes{users: 16, pages: 60, expired: 60000, down: 2 * time.Second, after: 15}
}

// galeraReplicas starts one replica per node, each with the DSN of its own
// node and env: chi on node1, nethttp on node2 and node3.
func galeraReplicas(t *testing.T, cfgs []*mysql.Config, env ...string) []*process {
	t.Helper()
	exs := []*example{exampleNamed("chi"), exampleNamed("nethttp"), exampleNamed("nethttp")}
	var procs []*process
	for i, cfg := range cfgs {
		procs = append(procs, startExample(t, exs[i], cfg.FormatDSN(), env...))
	}
	return procs
}

// replicaName names replica i of galeraReplicas for messages.
func replicaName(procs []*process, i int) string {
	return fmt.Sprintf("replica %d (%s on node%d)", i, procs[i].name, i+1)
}

// openCausal opens a pool on cfg whose reads wait until the node has applied
// every write the cluster committed before them.
func openCausal(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	c := cfg.Clone()
	c.Params = map[string]string{"wsrep_sync_wait": "1"}
	return mysqltest.Open(t, c.FormatDSN())
}

// testGaleraVisits has every user log in on one replica and then visit /
// sz.pages times, each request on the replica after the one that served the
// last, so on another node. Every page must show the user logged in and a
// counter one above the last page's: a read that missed the write before it
// shows an old counter (stale), or no session at all (a new, anonymous
// session whose counter starts again at 1).
func testGaleraVisits(t *testing.T, c *mysqltest.GaleraCluster, sz galeraSizes) {
	cfgs := c.Database(t)
	procs := galeraReplicas(t, cfgs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tr := newLoadTransport(t)

	users := make([]*galeraUser, sz.users)
	var wg sync.WaitGroup
	start := time.Now()
	for n := range users {
		u := newGaleraUser(tr, "user"+strconv.Itoa(n))
		users[n] = u
		wg.Go(func() {
			// Request k of user n goes to replica (n+k)%3, the login
			// being request 0.
			if !u.login(ctx, procs[n%3].URL) {
				return
			}
			for k := 1; k <= sz.pages; k++ {
				u.visit(ctx, procs, (n+k)%3)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var requests, stale, errs int
	var latencies []time.Duration
	for _, u := range users {
		if u.loginErr != nil {
			t.Errorf("%s: %v", u.name, u.loginErr)
			errs++
			continue
		}
		requests++ // the login
		bad, _ := u.stalePages(func(page) bool { return false })
		stale += len(bad)
		if len(bad) > 0 {
			p := bad[0]
			t.Errorf("%s: %d stale pages; the first on %s sent at %s: %d visits, user %q",
				u.name, len(bad), replicaName(procs, p.replica), p.start.Format(time.StampMicro), p.visits, p.user)
		}
		for _, p := range u.pages {
			requests++
			latencies = append(latencies, p.end.Sub(p.start))
			if p.err != nil || p.status != http.StatusOK {
				errs++
				t.Errorf("%s: GET / on %s sent at %s: status %d, err %v; body %q",
					u.name, replicaName(procs, p.replica), p.start.Format(time.StampMicro), p.status, p.err, p.body)
			}
		}
		if len(u.pages) > 0 && u.last() != sz.pages {
			t.Errorf("%s: the counter ends at %d after %d pages", u.name, u.last(), sz.pages)
		}
		if got := u.currentToken(procs[0].URL); got != u.token {
			t.Errorf("%s: the session token changed from %q to %q after the login", u.name, u.token, got)
		}
	}

	// Every session is on every node.
	var tokens []string
	for _, u := range users {
		tokens = append(tokens, u.token)
	}
	for i, cfg := range cfgs {
		if n, err := countStored(ctx, openCausal(t, cfg), tokens); err != nil || n != len(users) {
			t.Errorf("node%d holds %d of the %d sessions (%v)", i+1, n, len(users), err)
		}
	}
	for i, p := range procs {
		checkNoPanic(t, p)
		if lines := errorLines(p); len(lines) > 0 {
			t.Errorf("%s logged %d errors, the first: %s", replicaName(procs, i), len(lines), lines[0])
		}
	}
	slices.Sort(latencies)
	t.Logf("%d users x (1 login + %d pages) rotating over 3 replicas on 3 nodes: %d requests in %v (%.0f req/s), "+
		"%d stale pages, %d errors; latency median %v, p99 %v, max %v",
		len(users), sz.pages, requests, elapsed.Round(time.Millisecond), float64(requests)/elapsed.Seconds(),
		stale, errs, percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 100))
}

// testGaleraCleanup seeds sz.expired expired sessions, then starts the
// replicas with cleanup every second, 1000 rows a statement, debug logs and
// /debug/vars. The replicas must delete every row exactly once, with no
// error, and one pass at a time across the nodes: GET_LOCK is local to a
// node, so it is the lease row that makes the others skip. The debug log
// lines (start and end of each pass) show that no two passes overlap.
func testGaleraCleanup(t *testing.T, c *mysqltest.GaleraCluster, sz galeraSizes) {
	cfgs := c.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db := openCausal(t, cfgs[0])
	seeding := time.Now()
	if err := seedExpiredBulk(ctx, db, sz.expired); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d expired sessions seeded through node1 in %v", sz.expired, time.Since(seeding).Round(time.Millisecond))

	procs := galeraReplicas(t, cfgs, "SESSION_CLEANUP_INTERVAL=1s", "SESSION_CLEANUP_BATCH=1000",
		"LOG_LEVEL=debug", "DEBUG_VARS=true")
	started := time.Now()

	// Every row gone, on every node, and counted once by the replicas.
	var stats []debugVars
	eventually(t, 2*time.Minute, func() error {
		stats = stats[:0]
		var deleted int64
		for _, p := range procs {
			v, err := readVars(p.URL)
			if err != nil {
				return err
			}
			stats = append(stats, v)
			deleted += v.Sessionkit.RowsDeleted
		}
		if deleted < int64(sz.expired) {
			return fmt.Errorf("the replicas deleted %d of %d expired sessions", deleted, sz.expired)
		}
		return nil
	})
	removed := time.Since(started)
	for i, cfg := range cfgs {
		if n, err := countExpired(ctx, openCausal(t, cfg)); err != nil || n != 0 {
			t.Errorf("node%d: %d expired sessions left (%v)", i+1, n, err)
		}
	}
	// A few more rounds of passes, which find nothing to delete.
	time.Sleep(3 * time.Second)
	stats = stats[:0]
	for _, p := range procs {
		stats = append(stats, mustReadVars(t, p.URL))
	}

	var deleted, skipped int64
	for i, v := range stats {
		s := v.Sessionkit
		t.Logf("%s: passes %d, skipped %d, errors %d, rows_deleted %d, statements %d",
			replicaName(procs, i), s.Passes, s.Skipped, s.Errors, s.RowsDeleted, s.Statements)
		if s.Errors != 0 || s.LastError != "" {
			t.Errorf("%s: %d failed cleanup passes, last error %q", replicaName(procs, i), s.Errors, s.LastError)
		}
		deleted += s.RowsDeleted
		skipped += s.Skipped
	}
	if deleted != int64(sz.expired) {
		t.Errorf("the replicas deleted %d rows, want the %d seeded", deleted, sz.expired)
	}
	if skipped == 0 {
		t.Error("no replica skipped a pass while another node's replica held the lease")
	}

	// No two passes overlap, across the nodes: each starts after the one
	// before it ended.
	var all []cleanupPass
	for i, p := range procs {
		passes := cleanupPasses(i, p.stderr.String())
		if s := stats[i].Sessionkit; int64(len(passes)) < s.Passes-s.Errors {
			t.Errorf("%s: %d cleanup passes logged, /debug/vars counted %d", replicaName(procs, i), len(passes), s.Passes)
		}
		all = append(all, passes...)
	}
	slices.SortFunc(all, func(a, b cleanupPass) int { return a.start.Compare(b.start) })
	var longest cleanupPass
	for i, pass := range all {
		if pass.end.Sub(pass.start) > longest.end.Sub(longest.start) {
			longest = pass
		}
		if i > 0 && pass.start.Before(all[i-1].end) {
			t.Errorf("the cleanup pass of %s from %s overlaps the pass of %s until %s",
				replicaName(procs, pass.replica), pass.start.Format(time.StampMicro),
				replicaName(procs, all[i-1].replica), all[i-1].end.Format(time.StampMicro))
		}
	}
	// The skips that matter: while the long pass ran, the others tried
	// (every second) and stood back.
	skippedDuring := 0
	for i, v := range stats {
		if i != longest.replica && v.Sessionkit.Skipped > 0 {
			skippedDuring++
		}
	}
	if longest.end.Sub(longest.start) > 2500*time.Millisecond && skippedDuring < 2 {
		t.Errorf("only %d of the other replicas skipped a pass during the %v pass of %s",
			skippedDuring, longest.end.Sub(longest.start).Round(time.Millisecond), replicaName(procs, longest.replica))
	}

	// The lease row is what kept them apart.
	var leases int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessionkit_leases").Scan(&leases); err != nil || leases != 1 {
		t.Errorf("sessionkit_leases holds %d rows (%v), want the one cleanup lease", leases, err)
	}
	for i, p := range procs {
		checkNoPanic(t, p)
		if lines := errorLines(p); len(lines) > 0 {
			t.Errorf("%s logged %d errors, the first: %s", replicaName(procs, i), len(lines), lines[0])
		}
		// Passes that lost the lease, or ran without one, could have met.
		for line := range strings.Lines(p.stderr.String()) {
			if strings.Contains(line, "cleanup lease lost") || strings.Contains(line, "cleanup runs with GET_LOCK alone") {
				t.Errorf("%s: %s", replicaName(procs, i), line)
			}
		}
	}
	t.Logf("%d expired sessions removed %v after the replicas started, in %d passes (the longest %v by %s, %d rows), "+
		"%d skipped, none overlapping",
		sz.expired, removed.Round(time.Millisecond), len(all), longest.end.Sub(longest.start).Round(time.Millisecond),
		replicaName(procs, longest.replica), longest.deleted, skipped)
}

// testGaleraNodeCrash kills node3 with SIGKILL under load and starts it
// again. Three users in four rotate over the two other replicas: through the
// kill, the wait until the others evict the dead node (writes stall
// meanwhile), the outage and the node's return, every one of their requests
// succeeds and every counter goes up by exactly one. The fourth user of four
// stays on the replica of node3: while the node is down, that replica
// answers 503 on /healthz and 500 on the session's page, and once the node is
// back it serves again, without a restart. Then every user rotates over all
// three replicas: node3 serves the sessions written through the others while
// it was down, counters exact.
//
// The replicas' query timeout is 8s: writes and causal reads on the
// surviving nodes wait until the dead node is evicted, about 6s after the
// kill with Galera's default suspect timeout of 5s, and the default
// SESSION_DB_QUERY_TIMEOUT of 5s fails the requests in flight then with a
// 500 (whose writes are applied once the wait is over). 8s stays below the
// examples' WriteTimeout of 10s.
func testGaleraNodeCrash(t *testing.T, c *mysqltest.GaleraCluster, sz galeraSizes) {
	cfgs := c.Database(t)
	procs := galeraReplicas(t, cfgs, "SESSION_DB_QUERY_TIMEOUT=8s")
	node3 := c.Nodes()[2]
	const victim = 2 // the replica of node3
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tr := newLoadTransport(t)

	// route is where a user's request k goes: survivors (n%4 != 3) go
	// round the first two replicas, the others stay on the victim, until
	// everyone goes round all three.
	var everywhere atomic.Bool
	route := func(n, k int) int {
		switch {
		case everywhere.Load():
			return (n + k) % 3
		case n%4 == 3:
			return victim
		default:
			return (n + k) % 2
		}
	}
	users := make([]*galeraUser, sz.users)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for n := range users {
		u := newGaleraUser(tr, "user"+strconv.Itoa(n))
		users[n] = u
		wg.Go(func() {
			if !u.login(ctx, procs[route(n, 0)].URL) {
				return
			}
			for k := 1; ; k++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				u.visit(ctx, procs, route(n, k))
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	stopUsers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopUsers()
	waitGalera(t, users, 60*time.Second, "five pages succeed", func(u *galeraUser) bool { return u.ok.Load() >= 5 })

	if err := node3.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now() // the node is dead from here on
	restarted := false
	defer func() {
		if !restarted {
			node3.Start()
		}
	}()

	// The victim says it is not ready, at once.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if status := getStatus(t, hc, procs[victim].URL+"/healthz"); status != http.StatusServiceUnavailable {
		t.Errorf("%s: GET /healthz with its node dead: status %d, want 503", replicaName(procs, victim), status)
	}
	// The others evict the dead node (Galera's suspect timeout); the users
	// of their replicas wait meanwhile, and then go on for sz.down.
	evictCtx, cancelEvict := context.WithTimeout(ctx, time.Minute)
	err := c.WaitSynced(evictCtx)
	cancelEvict()
	if err != nil {
		t.Fatal(err)
	}
	evicted := time.Now()
	for time.Since(evicted) < sz.down {
		if status := getStatus(t, hc, procs[victim].URL+"/healthz"); status != http.StatusServiceUnavailable {
			t.Fatalf("%s: GET /healthz with its node dead: status %d, want 503", replicaName(procs, victim), status)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitGalera(t, users, 30*time.Second, "a page sent after the eviction succeeds or fails", func(u *galeraUser) bool {
		return u.lastStart.Load() > evicted.UnixNano()
	})

	// While the node starts, the victim's /healthz is asked every 50ms
	// until it answers 200.
	restarting := time.Now() // the node was down until at least here
	healthy := make(chan time.Time, 1)
	pollCtx, stopPolling := context.WithTimeout(ctx, 3*time.Minute)
	defer stopPolling()
	go func() {
		defer close(healthy)
		for pollCtx.Err() == nil {
			req, _ := http.NewRequestWithContext(pollCtx, "GET", procs[victim].URL+"/healthz", nil)
			if resp, err := hc.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					healthy <- time.Now()
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := node3.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	synced := time.Now()
	healthyAt, ok := <-healthy
	if !ok {
		t.Fatalf("%s: GET /healthz still not 200 %v after its node was back", replicaName(procs, victim), time.Since(synced).Round(time.Millisecond))
	}
	waitGalera(t, users, 30*time.Second, "a page sent after the node is back succeeds", func(u *galeraUser) bool {
		return u.lastOKStart.Load() > synced.UnixNano()
	})
	everywhereAt := time.Now()
	everywhere.Store(true)
	base := make([]int64, len(users))
	for n, u := range users {
		base[n] = u.ok.Load()
	}
	waitGalera(t, users, 60*time.Second, fmt.Sprintf("%d more pages succeed on all three replicas", sz.after),
		func(u *galeraUser) bool { return u.ok.Load() >= base[slices.Index(users, u)]+int64(sz.after) })
	stopUsers()

	// Pages on the surviving replicas, and on all three once the node was
	// back: only 200s. Pages on the victim's replica: 200, or the
	// ErrorFunc's 500, and only 500 while its node was down.
	errorText := http.StatusText(http.StatusInternalServerError) + "\n"
	var requests, survivorPages, victimDown, inDoubt, skips, victimUsers int
	var stall time.Duration
	var victimBack time.Time // the first page the victim's replica served after the restart
	for n, u := range users {
		if u.loginErr != nil {
			t.Errorf("%s: %v", u.name, u.loginErr)
			continue
		}
		if n%4 == 3 {
			victimUsers++
		}
		requests += 1 + len(u.pages)
		for _, p := range u.pages {
			where := fmt.Sprintf("%s: GET / on %s sent at %s", u.name, replicaName(procs, p.replica), p.start.Format(time.StampMicro))
			if p.replica != victim || p.start.After(everywhereAt) {
				if p.replica != victim {
					survivorPages++
				}
				if p.err != nil || p.status != http.StatusOK {
					t.Errorf("%s (node3 killed at %s, back at %s): status %d, err %v; body %q",
						where, killed.Format(time.StampMicro), synced.Format(time.StampMicro), p.status, p.err, p.body)
				}
				if p.start.After(killed.Add(-time.Second)) && p.start.Before(evicted) {
					stall = max(stall, p.end.Sub(p.start))
				}
				continue
			}
			if p.status == http.StatusOK && p.start.After(restarting) && (victimBack.IsZero() || p.end.Before(victimBack)) {
				victimBack = p.end
			}
			if p.err != nil {
				t.Errorf("%s: %v (want an HTTP answer, also with its node dead)", where, p.err)
				continue
			}
			switch {
			case p.status == http.StatusOK:
			case p.status == http.StatusInternalServerError && p.body == errorText:
				if p.start.Before(killed) {
					inDoubt++
				}
			default:
				t.Errorf("%s: status %d, body %q; want 200, or the ErrorFunc's 500", where, p.status, p.body)
			}
			if p.start.After(killed) && p.end.Before(restarting) {
				victimDown++
				if p.status != http.StatusInternalServerError {
					t.Errorf("%s with node3 dead (killed at %s, restarted at %s): status %d, want 500",
						where, killed.Format(time.StampMicro), restarting.Format(time.StampMicro), p.status)
				}
			}
		}
		// A 500 for a page sent before the kill may have committed: the
		// cluster took the write and the node died before it answered. Then
		// and only then may the counter skip a value.
		inDoubtAt := func(p page) bool {
			return n%4 == 3 && p.status == http.StatusInternalServerError && p.start.Before(killed)
		}
		bad, n1 := u.stalePages(inDoubtAt)
		skips += n1
		if len(bad) > 0 {
			p := bad[0]
			t.Errorf("%s: %d pages with a counter that is not the one after the last, or no user; the first on %s sent at %s: "+
				"%d visits, user %q (node3 killed at %s, evicted at %s, back at %s)",
				u.name, len(bad), replicaName(procs, p.replica), p.start.Format(time.StampMicro), p.visits, p.user,
				killed.Format(time.StampMicro), evicted.Format(time.StampMicro), synced.Format(time.StampMicro))
		}
		if got := u.currentToken(procs[0].URL); got != u.token {
			t.Errorf("%s: the session token changed from %q to %q after the login", u.name, u.token, got)
		}
	}
	// Once the node is back (Start returns when it is Synced), the victim's
	// replica serves every page. Between its /healthz answering 200 and
	// that moment, it may still fail some: a ping reaches a node that is
	// still joining the cluster, which refuses queries until it is ready.
	var failedWhileHealthy int
	for _, u := range users {
		for _, p := range u.pages {
			if p.replica != victim || p.status == http.StatusOK {
				continue
			}
			if p.start.After(synced) {
				t.Errorf("%s: GET / on %s sent at %s, after its node was back at %s: status %d, err %v",
					u.name, replicaName(procs, victim), p.start.Format(time.StampMicro), synced.Format(time.StampMicro), p.status, p.err)
			} else if p.start.After(healthyAt) {
				failedWhileHealthy++
			}
		}
	}
	if victimBack.IsZero() {
		t.Errorf("%s served no page after its node was back", replicaName(procs, victim))
	}
	if victimDown == 0 {
		t.Error("no page was sent to the replica of node3 while the node was down")
	}
	if procs[victim].hasExited() {
		t.Errorf("%s exited", replicaName(procs, victim))
	}
	for i, p := range procs {
		checkNoPanic(t, p)
		if i == victim {
			continue
		}
		if lines := errorLines(p); len(lines) > 0 {
			t.Errorf("%s logged %d errors, the first: %s", replicaName(procs, i), len(lines), lines[0])
		}
	}
	t.Logf("%d users (%d on the replica of node3), %d requests; %d pages on the surviving replicas, all 200, "+
		"the longest %v (sent while node3 was being evicted, %v after the kill); node3 down %v in all; "+
		"%d pages to its replica meanwhile, all 500 (%d 500s for pages sent before the kill was done, %d of which had committed); the node's Start took %v to Synced; "+
		"its replica, not restarted, answered /healthz 200 %v and served its first session page %v after the start "+
		"(%v and %v after Start returned; %d pages failed in between); then %d pages per user on all three replicas, all 200",
		len(users), victimUsers, requests, survivorPages, stall.Round(time.Millisecond),
		evicted.Sub(killed).Round(time.Millisecond), restarting.Sub(killed).Round(time.Millisecond),
		victimDown, inDoubt, skips, synced.Sub(restarting).Round(time.Millisecond),
		healthyAt.Sub(restarting).Round(time.Millisecond), victimBack.Sub(restarting).Round(time.Millisecond),
		healthyAt.Sub(synced).Round(time.Millisecond), victimBack.Sub(synced).Round(time.Millisecond), failedWhileHealthy, sz.after)
}

// galeraUser is a browser in the Galera scenarios: a cookie jar, a login,
// then pages of / one after another. Its fields are the user goroutine's
// until it is done, except the atomics, which the test reads meanwhile.
type galeraUser struct {
	name     string
	jar      *cookiejar.Jar
	hc       *http.Client // redirects are not followed: after the login, a redirect would be a visit
	token    string       // the session token the login set
	loginErr error        // why the login failed; set before failed
	pages    []page

	failed      atomic.Bool  // the login failed
	ok          atomic.Int64 // pages with status 200
	lastOKStart atomic.Int64 // when the last of them was sent, in Unix nanoseconds
	lastStart   atomic.Int64 // when the last page that got any outcome was sent
}

// page is the outcome of one GET / by a galeraUser.
type page struct {
	replica    int
	start, end time.Time
	status     int
	err        error  // no HTTP answer
	body       string // for statuses other than 200
	visits     int    // the counter on a 200 page
	user       string // who the 200 page says is logged in
}

func newGaleraUser(tr *http.Transport, name string) *galeraUser {
	jar, _ := cookiejar.New(nil)
	return &galeraUser{name: name, jar: jar, hc: &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login posts the example's login form to base as a browser on that page
// would, and keeps the session token it gets. It reports whether that
// worked; loginErr says why not.
func (u *galeraUser) login(ctx context.Context, base string) bool {
	u.loginErr = u.postLogin(ctx, base)
	if u.loginErr != nil {
		u.failed.Store(true)
		return false
	}
	return true
}

func (u *galeraUser) postLogin(ctx context.Context, base string) error {
	form := url.Values{"user": {u.name}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s/login: %w", base, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST %s/login: status %d, want 303; body %q", base, resp.StatusCode, body)
	}
	if u.token = u.currentToken(base); u.token == "" {
		return fmt.Errorf("POST %s/login set no session cookie", base)
	}
	return nil
}

// visit sends GET / to replica i and records the page.
func (u *galeraUser) visit(ctx context.Context, procs []*process, i int) {
	p := page{replica: i, start: time.Now()}
	defer func() {
		u.pages = append(u.pages, p)
		u.lastStart.Store(p.start.UnixNano())
		if p.err == nil && p.status == http.StatusOK {
			u.ok.Add(1)
			u.lastOKStart.Store(p.start.UnixNano())
		}
	}()
	req, err := http.NewRequestWithContext(ctx, "GET", procs[i].URL+"/", nil)
	if err != nil {
		p.err = err
		return
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		p.end, p.err = time.Now(), err
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.end, p.err, p.status = time.Now(), err, resp.StatusCode
	if p.status != http.StatusOK {
		p.body = string(body)
		return
	}
	if m := visitsRe.FindSubmatch(body); m != nil {
		p.visits, _ = strconv.Atoi(string(m[1]))
	}
	if m := userRe.FindSubmatch(body); m != nil {
		p.user = string(m[1])
	}
}

// stalePages returns the 200 pages that do not show the user logged in, or
// whose counter is not one above the last 200 page's (the first must show
// 1). After a failed page for which inDoubt holds, the counter may skip one
// value; skips counts how often it did.
func (u *galeraUser) stalePages(inDoubt func(page) bool) (stale []page, skips int) {
	want, doubt := 1, false
	for _, p := range u.pages {
		if p.err != nil || p.status != http.StatusOK {
			doubt = doubt || inDoubt(p)
			continue
		}
		switch {
		case p.user != u.name:
			stale = append(stale, p)
		case p.visits == want:
		case p.visits == want+1 && doubt:
			skips++
		default:
			stale = append(stale, p)
		}
		want, doubt = p.visits+1, false
	}
	return stale, skips
}

// last is the counter of the last 200 page.
func (u *galeraUser) last() int {
	for _, p := range slices.Backward(u.pages) {
		if p.err == nil && p.status == http.StatusOK {
			return p.visits
		}
	}
	return 0
}

// currentToken is the session cookie the jar holds for base.
func (u *galeraUser) currentToken(base string) string {
	target, err := url.Parse(base)
	if err != nil {
		return ""
	}
	for _, ck := range u.jar.Cookies(target) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

// waitGalera waits until done holds for every user.
func waitGalera(t *testing.T, users []*galeraUser, timeout time.Duration, what string, done func(u *galeraUser) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		waiting := 0
		for _, u := range users {
			if u.failed.Load() {
				t.Fatalf("%s: %v", u.name, u.loginErr)
			}
			if !done(u) {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d users still wait until %s", timeout, waiting, len(users), what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getStatus returns the status of GET target.
func getStatus(t *testing.T, hc *http.Client, target string) int {
	t.Helper()
	resp, err := hc.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// errorLines returns the log lines of a process at level ERROR.
func errorLines(p *process) []string {
	var out []string
	for line := range strings.Lines(p.stderr.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(i, len(sorted))-1)].Round(time.Millisecond)
}
