package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// EnvClusterRounds turns TestMultiPrimaryHTTP on and says how many rounds it
// runs; EnvClusterPhase sets the length of each measured phase (5s unless
// set).
const (
	EnvClusterRounds = "SESSIONKIT_BENCH_CLUSTER_ROUNDS"
	EnvClusterPhase  = "SESSIONKIT_BENCH_CLUSTER_PHASE"
)

// clusterClients is the number of concurrent HTTP clients, as in
// cmd/httpbench.
const clusterClients = 32

// appSetup is three application servers (the benchserver's routes on
// sessionkit.New, in this process) on one database set-up.
type appSetup struct {
	name    string
	urls    []string
	results map[string][]HTTPPhase // by path
	// causalReads reads the cluster's count of reads that waited for it
	// (nil on a single server); waited sums its increase by path.
	causalReads func() (int64, error)
	waited      map[string]int64
}

// TestMultiPrimaryHTTP measures what a multi-primary cluster costs the HTTP
// read path (GET /get) and write path (GET /) of cmd/benchserver with
// sessionkit's store: three application servers, each on its own node of a
// 3-node Galera cluster, with the store's causal reads (the default: each
// session read carries wsrep_sync_wait=1) and without them (wsrep_sync_wait=0
// in the DSN, which the kit leaves to the pool), against three application
// servers on one private server. Clients send each request of their session
// to the next application server, as a round-robin load balancer without
// session affinity would. Phases rotate between the set-ups round by round;
// the report gives medians of req/s, p50 and p99, the ratio to the single
// server, and the errors and stale answers of all rounds.
//
// It runs only when SESSIONKIT_BENCH_CLUSTER_ROUNDS is set (it starts a
// cluster and takes minutes):
//
//	SESSIONKIT_BENCH_CLUSTER_ROUNDS=5 go test -count=1 -run TestMultiPrimaryHTTP -v -timeout 30m
func TestMultiPrimaryHTTP(t *testing.T) {
	if os.Getenv(EnvClusterRounds) == "" {
		t.Skipf("set %s=5 to measure the HTTP paths on a Galera cluster (a few minutes)", EnvClusterRounds)
	}
	rounds, err := strconv.Atoi(os.Getenv(EnvClusterRounds))
	if err != nil || rounds < 1 {
		t.Fatalf("%s=%q: want a positive number of rounds", EnvClusterRounds, os.Getenv(EnvClusterRounds))
	}
	phase := 5 * time.Second
	if v := os.Getenv(EnvClusterPhase); v != "" {
		if phase, err = time.ParseDuration(v); err != nil || phase <= 0 {
			t.Fatalf("%s=%q: want a positive duration", EnvClusterPhase, v)
		}
	}
	fmt.Printf("load average at start: %s\n", LoadAverage())

	cluster := mysqltest.Cluster(t)
	single := mysqltest.NewServer(t)
	causal := cluster.Database(t)
	loose := cluster.Database(t)
	for _, c := range loose {
		c.Params = map[string]string{"wsrep_sync_wait": "0"}
	}
	one := single.Database(t)
	logs := &logBuffer{}
	causalReads := causalReadCount(t, cluster.Nodes())
	setups := []*appSetup{
		{name: "Galera, causal reads", urls: startApps(t, causal, logs), causalReads: causalReads},
		{name: "Galera, no causal reads", urls: startApps(t, loose, logs), causalReads: causalReads},
		{name: "single server", urls: startApps(t, []*mysql.Config{one, one, one}, logs)},
	}
	describeDatabase(t, "single server", one)
	describeDatabase(t, "Galera node1", causal[0])

	paths := []string{"/get", "/"}
	for _, s := range setups { // warm-up: connections, prepared statements
		s.results, s.waited = map[string][]HTTPPhase{}, map[string]int64{}
		for _, path := range paths {
			if _, err := RunHTTP(s.urls, path, clusterClients, time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := range rounds {
		for _, path := range paths {
			for i := range setups {
				s := setups[(i+round)%len(setups)]
				var before int64
				if s.causalReads != nil {
					if before, err = s.causalReads(); err != nil {
						t.Fatal(err)
					}
				}
				p, err := RunHTTP(s.urls, path, clusterClients, phase)
				if err != nil {
					t.Fatalf("%s, %s: %v", s.name, path, err)
				}
				s.results[path] = append(s.results[path], p)
				extra := ""
				if s.causalReads != nil {
					after, err := s.causalReads()
					if err != nil {
						t.Fatal(err)
					}
					s.waited[path] += after - before
					extra = fmt.Sprintf(", causal reads %d", after-before)
				}
				t.Logf("round %d/%d %-4s %-24s %6.0f req/s p50 %v p99 %v errors %d stale %d%s", round+1, rounds, path, s.name,
					p.RPS, p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond), p.Errors, p.Stale, extra)
			}
		}
	}
	fmt.Printf("\nload average at end: %s\n", LoadAverage())
	fmt.Printf("%d clients over 3 application servers, %v per phase, medians of %d rounds; errors and stale answers summed over the rounds\n\n",
		clusterClients, phase, rounds)
	writeClusterTable(os.Stdout, paths, setups)
	if s := logs.String(); s != "" {
		t.Logf("the kits logged (first %d bytes):\n%s", logLimit, s)
	}
}

// startApps starts one application server per database configuration and
// returns their base URLs; everything stops when t ends.
func startApps(t *testing.T, cfgs []*mysql.Config, logs *logBuffer) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var urls []string
	for _, c := range cfgs {
		cfg := sessionkit.DefaultConfig()
		cfg.MySQLDSN = sessionkit.DSN(c.FormatDSN())
		cfg.CreateTable = true
		cfg.CookieSecure = false
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
		kit, err := sessionkit.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			kit.Shutdown(ctx)
		})
		srv := httptest.NewServer(NewHTTPHandler(kit.Manager, kit.Middleware))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// causalReadCount returns a function that reads Galera's wsrep_causal_reads
// (reads that waited for the cluster) on every node, summed.
func causalReadCount(t *testing.T, nodes []*mysqltest.Node) func() (int64, error) {
	t.Helper()
	var dbs []*sql.DB
	for _, n := range nodes {
		db := mysqltest.Open(t, n.Config().FormatDSN())
		db.SetMaxOpenConns(1)
		dbs = append(dbs, db)
	}
	return func() (int64, error) {
		var sum int64
		for _, db := range dbs {
			var name string
			var n int64
			if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_causal_reads'").Scan(&name, &n); err != nil {
				return 0, err
			}
			sum += n
		}
		return sum, nil
	}
}

// describeDatabase prints the server's version and its settings that the
// figures depend on.
func describeDatabase(t *testing.T, name string, c *mysql.Config) {
	t.Helper()
	db := mysqltest.Open(t, c.FormatDSN())
	var version, flush, binlog, pool string
	if err := db.QueryRow("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@log_bin, @@innodb_buffer_pool_size").Scan(&version, &flush, &binlog, &pool); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s: %s, innodb_flush_log_at_trx_commit=%s, log_bin=%s, innodb_buffer_pool_size=%s\n", name, version, flush, binlog, pool)
}

// writeClusterTable prints, per path and set-up, the medians, the errors and
// stale answers of all rounds (with their share of the answers), the reads
// that waited for the cluster per answer, and the ratio to the single
// server: of the medians, and the median (and range) of the round-by-round
// ratios.
func writeClusterTable(w io.Writer, paths []string, setups []*appSetup) {
	base := setups[len(setups)-1]
	fmt.Fprintln(w, "| path | set-up | req/s | p50 | p99 | errors | stale answers | causal reads per answer | vs single server | round by round |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, path := range paths {
		b := MedianHTTP(base.results[path])
		for _, s := range setups {
			m := MedianHTTP(s.results[path])
			var ratios []float64
			for r, p := range s.results[path] {
				ratios = append(ratios, p.RPS/base.results[path][r].RPS)
			}
			lo, hi := minMax(ratios)
			waited := "-"
			if s.causalReads != nil {
				waited = fmt.Sprintf("%.2f", float64(s.waited[path])/float64(max(m.OK, 1)))
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %v | %v | %d | %d of %d (%.1f %%) | %s | %.2fx | %.2fx (%.2f–%.2f) |\n", path, s.name, m.RPS,
				m.P50.Round(10*time.Microsecond), m.P99.Round(10*time.Microsecond), m.Errors, m.Stale, m.OK,
				100*float64(m.Stale)/float64(max(m.OK, 1)), waited, m.RPS/b.RPS, Median(ratios), lo, hi)
		}
	}
}

func minMax(fs []float64) (lo, hi float64) {
	for i, f := range fs {
		if i == 0 || f < lo {
			lo = f
		}
		if i == 0 || f > hi {
			hi = f
		}
	}
	return lo, hi
}

// logLimit is how much of the kits' logs a run keeps.
const logLimit = 4096

// logBuffer keeps the first logLimit bytes written to it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := logLimit - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
