package bench

import (
	"context"
	"database/sql"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
	sessionkit "sessionkit.dev/sessionkit/mysql"
)

// Environment variables of TestScale. EnvScaleRows turns it on.
const (
	// EnvScaleRows is the number of sessions of the big table (10000000).
	EnvScaleRows = "SESSIONKIT_BENCH_SCALE_ROWS"
	// EnvScaleRounds is the number of interleaved rounds of Find and
	// Commit (7 unless set).
	EnvScaleRounds = "SESSIONKIT_BENCH_SCALE_ROUNDS"
	// EnvScaleBufferPool is the server's innodb_buffer_pool_size while
	// measuring, such as 2G (2G unless set); EnvScaleLoadPool its size while
	// the table is loaded (the same unless set).
	EnvScaleBufferPool = "SESSIONKIT_BENCH_SCALE_BUFFER_POOL"
	EnvScaleLoadPool   = "SESSIONKIT_BENCH_SCALE_LOAD_POOL"
	// EnvScaleHot is the number of sessions that Find and Commit pick
	// from, and the size of the small table (10000 unless set).
	EnvScaleHot = "SESSIONKIT_BENCH_SCALE_HOT"
	// EnvScaleControl is how long the writers run without cleanup before
	// it starts (60s unless set); "off" leaves the cleanup out.
	EnvScaleControl = "SESSIONKIT_BENCH_SCALE_CONTROL"
)

// The big table's mix: a tenth of it expired (what cleanup then deletes),
// a fifth bound to users.
const (
	scaleExpiredShare = 10 // one row in 10 expired
	scaleUserShare    = 5  // one row in 5 bound to a user, about 2 sessions a user
	scaleWriters      = 16
	scaleWriterSize   = 250
	scaleLoadBatch    = 1000
	scaleLoaders      = 4
)

// TestScale measures the store on a table of millions of sessions against a
// small one, on a private server whose buffer pool it sets:
//
//   - the big table holds EnvScaleRows sessions (a tenth expired within the
//     last 2 hours, the rest expiring over the next 2 to 24 hours, a fifth
//     bound to users with their metadata, data of 150 to 450 bytes), loaded
//     with multi-row INSERTs in random token order, plus a hot set of
//     EnvScaleHot sessions; the small table holds the hot set alone;
//   - Find and Commit of random hot sessions, and Insert (a Commit of a new
//     session, removed after each run so that the tables keep their size),
//     1 and 16 goroutines, both tables round after round, with the CPU
//     time, InnoDB page reads and index reads per operation;
//   - listing the sessions of users (Store.Sessions) on the big table;
//   - the cleanup of the big table's expired rows (DeleteExpired) while 16
//     goroutines rewrite random hot sessions, against the same writers
//     without cleanup just before and just after;
//   - the table's size on disk, after loading and after cleanup.
//
// It runs only when SESSIONKIT_BENCH_SCALE_ROWS is set (10,000,000 rows take
// about half an hour and 8 GB of disk):
//
//	SESSIONKIT_BENCH_SCALE_ROWS=10000000 SESSIONKIT_BENCH_SCALE_BUFFER_POOL=2G \
//	  go test -count=1 -run TestScale -v -benchtime 1s -timeout 3h
func TestScale(t *testing.T) {
	if os.Getenv(EnvScaleRows) == "" {
		t.Skipf("set %s=10000000 to measure the store on a table of 10 million sessions (half an hour)", EnvScaleRows)
	}
	rows := envInt(t, EnvScaleRows, 0)
	rounds := envInt(t, EnvScaleRounds, 7)
	hot := envInt(t, EnvScaleHot, 10000)
	pool := envSize(t, EnvScaleBufferPool, 2<<30)
	loadPool := envSize(t, EnvScaleLoadPool, pool)
	control := 60 * time.Second
	if v := os.Getenv(EnvScaleControl); v == "off" {
		control = 0
	} else if v != "" {
		var err error
		if control, err = time.ParseDuration(v); err != nil || control <= 0 {
			t.Fatalf("%s=%q: want a positive duration", EnvScaleControl, v)
		}
	}
	ctx := context.Background()
	fmt.Printf("load average at start: %s\n", LoadAverage())

	bigCfg, smallCfg, own := scaleDatabases(t)
	admin, err := OpenPool(bigCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(2)
	if own {
		setGlobal(t, admin, "innodb_log_file_size", strconv.Itoa(2<<30))
		resizeBufferPool(t, admin, loadPool)
	}
	describeScaleServer(t, admin)

	// The tables, the hot set, the bulk of the big table.
	big, small := openScaleStore(t, bigCfg, rowsName(rows)), openScaleStore(t, smallCfg, rowsName(hot))
	hotSet := NewSessions(hot, SessionSize)
	packed := packedSessions(hot, SessionSize)
	now := time.Now().UTC()
	t0 := time.Now()
	if err := loadScaleTable(ctx, admin, rows, now); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("loaded %d rows in %v (%.0f rows/s); load average %s\n", rows, time.Since(t0).Round(time.Second),
		float64(rows)/time.Since(t0).Seconds(), LoadAverage())
	for _, tg := range []*Target{small, big} {
		if err := hotSet.Seed(ctx, tg.Store, goroutinesToWarm); err != nil {
			t.Fatal(err)
		}
	}
	if err := packed.Seed(ctx, big.Store, goroutinesToWarm); err != nil {
		t.Fatal(err)
	}
	printTableSize(t, admin, "after loading")
	if own && loadPool != pool {
		resizeBufferPool(t, admin, pool)
	}
	for _, tg := range []*Target{small, big} {
		if err := hotSet.Warm(ctx, tg.Store, goroutinesToWarm); err != nil {
			t.Fatal(err)
		}
	}
	if err := packed.Warm(ctx, big.Store, goroutinesToWarm); err != nil {
		t.Fatal(err)
	}
	describeScaleServer(t, admin)

	// Find and Commit, both tables, interleaved.
	// The big table twice: with the hot set spread over it, one hot session
	// a page as random tokens fall, and with a hot set of as many sessions
	// whose tokens share a prefix, so that they sit side by side: the same
	// index depth, far fewer pages.
	bigPacked := &Target{Name: big.Name + ", hot set packed", Store: big.Store, DB: big.DB}
	targets := []*Target{small, big, bigPacked}
	compareScale(t, admin, targets, map[string]Sessions{small.Name: hotSet, big.Name: hotSet, bigPacked.Name: packed}, rounds)

	var name string
	var stmts, conns int
	if err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").Scan(&name, &stmts); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Max_used_connections'").Scan(&name, &conns); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("prepared statements on the server: %d, most connections at once: %d (two stores' pools of %d and the test's own)\n\n", stmts, conns, PoolSize)

	// Listing a user's sessions.
	listUsers(t, big, rows, 200)

	// Cleanup under writers.
	if control > 0 {
		scaleCleanup(t, admin, big, control, hotSet.Tokens)
		printTableSize(t, admin, "after cleanup")
	}
	fmt.Printf("load average at end: %s\n", LoadAverage())
}

// scaleDatabases returns two fresh databases: on a private server of the
// test's own (own is true: the test may set its globals), or on the server
// of SESSIONKIT_TEST_DSN.
func scaleDatabases(t *testing.T) (big, small *mysql.Config, own bool) {
	t.Helper()
	if os.Getenv(mysqltest.EnvDSN) != "" {
		return mysqltest.Config(t), mysqltest.Config(t), false
	}
	srv := mysqltest.NewServer(t)
	return srv.Database(t), srv.Database(t), true
}

// openScaleStore makes the recommended table (with the user columns) on cfg
// and a store on it, with the defaults but for the background cleanup.
func openScaleStore(t *testing.T, cfg *mysql.Config, name string) *Target {
	t.Helper()
	db, err := OpenPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := sessionkit.NewWithCleanupInterval(db, 0)
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &Target{Name: name, Store: s, DB: db}
}

// rowsName names a table by its number of rows: "10M rows", "10k rows".
func rowsName(n int) string {
	switch {
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M rows"
	case n >= 1000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k rows"
	}
	return strconv.Itoa(n) + " rows"
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// envSize reads a size such as 2G, 512M or a number of bytes.
func envSize(t *testing.T, name string, def int64) int64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, strings.TrimSuffix(v, "G")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, strings.TrimSuffix(v, "M")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a size such as 2G", name, os.Getenv(name))
	}
	return n * mult
}

func setGlobal(t *testing.T, db *sql.DB, name, value string) {
	t.Helper()
	if _, err := db.Exec("SET GLOBAL " + name + " = " + value); err != nil {
		t.Fatalf("SET GLOBAL %s = %s: %v", name, value, err)
	}
}

// resizeBufferPool sets innodb_buffer_pool_size and waits until the server
// says it has resized it.
func resizeBufferPool(t *testing.T, db *sql.DB, size int64) {
	t.Helper()
	status := func() string {
		var name, v string
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'").Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := status()
	t0 := time.Now()
	setGlobal(t, db, "innodb_buffer_pool_size", strconv.FormatInt(size, 10))
	for {
		v := status()
		lower := strings.ToLower(v)
		done := v != before && (strings.HasPrefix(lower, "completed") || strings.Contains(lower, "did not change"))
		if done || (v == "" && time.Since(t0) > 2*time.Second) {
			var now int64
			if err := db.QueryRow("SELECT @@innodb_buffer_pool_size").Scan(&now); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("innodb_buffer_pool_size = %d after %v (%s)\n", now, time.Since(t0).Round(time.Second), v)
			return
		}
		if time.Since(t0) > 20*time.Minute {
			t.Fatalf("buffer pool not resized to %d after 20 minutes: %q", size, v)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func describeScaleServer(t *testing.T, db *sql.DB) {
	t.Helper()
	var version, flush, pool, logSize, stmts, conns string
	err := db.QueryRow("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@innodb_buffer_pool_size, @@innodb_log_file_size, "+
		"@@max_prepared_stmt_count, @@max_connections").Scan(&version, &flush, &pool, &logSize, &stmts, &conns)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("server: %s, innodb_flush_log_at_trx_commit=%s, innodb_buffer_pool_size=%s, innodb_log_file_size=%s, max_prepared_stmt_count=%s, max_connections=%s\n",
		version, flush, pool, logSize, stmts, conns)
}

// loadScaleTable inserts rows sessions into the table sessions of db's
// database, in random token order, scaleLoadBatch rows a statement from
// scaleLoaders goroutines: one in scaleExpiredShare expired within the last
// two hours, the others expiring within 2 to 24 hours from now; one in
// scaleUserShare bound to a user (about two sessions a user) with an
// address and user agent; data of 150 to 450 bytes. Row i's user is
// scaleUser(i).
func loadScaleTable(ctx context.Context, db *sql.DB, rows int, now time.Time) error {
	db.SetMaxOpenConns(scaleLoaders + 1)
	const cols = "(?, ?, ?, ?, ?, ?, ?, ?)"
	q := "INSERT INTO sessions (token, data, expiry, user_id, created, last_seen, ip, user_agent) VALUES " +
		strings.TrimSuffix(strings.Repeat(cols+",", scaleLoadBatch), ",")
	random := make([]byte, 1<<16)
	for i := range random {
		random[i] = byte(mathrand.Uint32())
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, scaleLoaders)
	start := time.Now()
	for range scaleLoaders {
		wg.Go(func() {
			full, err := db.PrepareContext(ctx, q)
			if err != nil {
				errs <- err
				return
			}
			defer full.Close()
			args := make([]any, 0, 8*scaleLoadBatch)
			for {
				from := int(next.Add(scaleLoadBatch)) - scaleLoadBatch
				if from >= rows {
					return
				}
				to := min(from+scaleLoadBatch, rows)
				args = args[:0]
				for i := from; i < to; i++ {
					args = append(args, scaleRow(i, rows, now, random)...)
				}
				if to-from == scaleLoadBatch {
					_, err = full.ExecContext(ctx, args...)
				} else {
					_, err = db.ExecContext(ctx, q[:strings.Index(q, "VALUES ")+len("VALUES ")]+
						strings.TrimSuffix(strings.Repeat(cols+",", to-from), ","), args...)
				}
				if err != nil {
					errs <- err
					return
				}
				if n := done.Add(int64(to - from)); n%1_000_000 < scaleLoadBatch {
					fmt.Printf("  loaded %d rows, %v, %.0f rows/s, load average %s\n", n, time.Since(start).Round(time.Second),
						float64(n)/time.Since(start).Seconds(), LoadAverage())
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

const scaleTime = "2006-01-02 15:04:05.000000"

// scaleRow returns the column values of row i of rows.
func scaleRow(i, rows int, now time.Time, random []byte) []any {
	n := 150 + mathrand.IntN(301)
	off := mathrand.IntN(len(random) - n)
	var expiry time.Time
	if i%scaleExpiredShare == 0 {
		expiry = now.Add(-time.Minute - time.Duration(mathrand.Int64N(int64(2*time.Hour))))
	} else {
		expiry = now.Add(2*time.Hour + time.Duration(mathrand.Int64N(int64(22*time.Hour))))
	}
	created := expiry.Add(-24 * time.Hour)
	seen := created.Add(time.Duration(mathrand.Int64N(int64(time.Hour))))
	var user, ip, agent any
	if i%scaleUserShare == 1 {
		user = scaleUser(i)
		ip = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	}
	return []any{newToken(), random[off : off+n], expiry.Format(scaleTime), user,
		created.Format(scaleTime), seen.Format(scaleTime), ip, agent}
}

// packedSessions returns n sessions like NewSessions whose tokens share
// their first 12 characters, so that they sort next to each other in the
// primary key.
func packedSessions(n, size int) Sessions {
	s := NewSessions(n, size)
	for i, tok := range s.Tokens {
		s.Tokens[i] = "packedXhotXs" + tok[12:]
	}
	return s
}

// scaleUser is the user of row i, when it has one: about two rows a user.
func scaleUser(i int) string { return "user-" + strconv.Itoa(i/(2*scaleUserShare)) }

// printTableSize prints the session table's size: the server's statistics
// (after ANALYZE TABLE) and the tablespace file.
func printTableSize(t *testing.T, db *sql.DB, when string) {
	t.Helper()
	if _, err := db.Exec("ANALYZE TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	var rows, data, index, free int64
	err := db.QueryRow("SELECT TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, DATA_FREE FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sessions'").Scan(&rows, &data, &index, &free)
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&count); err != nil {
		t.Fatal(err)
	}
	var file, allocated sql.NullInt64
	db.QueryRow("SELECT FILE_SIZE, ALLOCATED_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = CONCAT(DATABASE(), '/sessions')").Scan(&file, &allocated)
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	fmt.Printf("table size %s: %d rows (estimate %d); data %s, indexes %s, free %s; file %s, allocated %s; %.0f bytes per row on disk\n",
		when, count, rows, mib(data), mib(index), mib(free), mib(file.Int64), mib(allocated.Int64), float64(file.Int64)/float64(max(count, 1)))
	r, err := db.Query("SELECT index_name, stat_name, stat_value FROM mysql.innodb_index_stats " +
		"WHERE database_name = DATABASE() AND table_name = 'sessions' AND stat_name IN ('size', 'n_leaf_pages') ORDER BY index_name, stat_name")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var index, stat string
		var v int64
		if err := r.Scan(&index, &stat, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("  index %-22s %-12s %9d pages (%s)\n", index, stat, v, mib(v*16384))
	}
}

// serverReads are the server's counters of page and index reads, and of
// pages written back.
type serverReads struct {
	pageRequests, diskReads, flushed, readKey, readNext float64
}

// minus returns the counts from before to r, divided by n operations.
func (r serverReads) minus(before serverReads, n float64) serverReads {
	return serverReads{(r.pageRequests - before.pageRequests) / n, (r.diskReads - before.diskReads) / n,
		(r.flushed - before.flushed) / n, (r.readKey - before.readKey) / n, (r.readNext - before.readNext) / n}
}

func readServerReads(db *sql.DB) (serverReads, error) {
	c, err := GlobalStatus(context.Background(), db, "Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_reads",
		"Innodb_buffer_pool_pages_flushed", "Handler_read_key", "Handler_read_next")
	if err != nil {
		return serverReads{}, err
	}
	return serverReads{pageRequests: float64(c["Innodb_buffer_pool_read_requests"]), diskReads: float64(c["Innodb_buffer_pool_reads"]),
		flushed: float64(c["Innodb_buffer_pool_pages_flushed"]), readKey: float64(c["Handler_read_key"]), readNext: float64(c["Handler_read_next"])}, nil
}

// compareScale runs Find and Commit on both targets, round after round, and
// prints the comparison with the first target as the baseline, then the
// server's reads per operation.
func compareScale(t *testing.T, admin *sql.DB, targets []*Target, sessionsOf map[string]Sessions, rounds int) {
	t.Helper()
	meter := NewCPUMeter(context.Background(), admin)
	cmp := Comparison{ServerCPU: meter.MeasuresServer(), Baseline: targets[0].Name}
	for _, tg := range targets {
		cmp.Order = append(cmp.Order, tg.Name)
	}
	type key struct {
		c     Case
		store string
	}
	reads := map[key][]serverReads{}
	cases := append(Cases(), Case{Name: "Insert", Goroutines: 1}, Case{Name: "Insert", Goroutines: 16})
	for round := range rounds {
		for _, c := range cases {
			for i := range targets {
				tg := targets[(i+round)%len(targets)]
				op := c.Op(sessionsOf[tg.Name], tg.Store)
				ins := &insertions{}
				if c.Name == "Insert" {
					op = ins.op(tg.Store)
				}
				before, err := readServerReads(admin)
				if err != nil {
					t.Fatal(err)
				}
				var opErr error
				m := Measurement{}
				cpu := meter.Read()
				m.Result = testing.Benchmark(func(b *testing.B) {
					m.Ops += b.N
					if err := Run(b, c.Goroutines, op); err != nil && opErr == nil {
						opErr = err
					}
				})
				m.CPU = meter.Read().Sub(cpu)
				after, err := readServerReads(admin)
				if err != nil {
					t.Fatal(err)
				}
				if opErr != nil {
					t.Fatalf("%s, %s: %v", c, tg.Name, opErr)
				}
				n := float64(m.Ops)
				per := after.minus(before, n)
				reads[key{c, tg.Name}] = append(reads[key{c, tg.Name}], per)
				cmp.Add(c, tg.Name, m)
				if err := ins.remove(tg.DB); err != nil {
					t.Fatal(err)
				}
				t.Logf("round %d/%d %-22s %-15s %8.0f ops/s %s, CPU µs/op client %.0f server %.0f, pages %.1f, disk reads %.3f per op; load %s",
					round+1, rounds, c, tg.Name, OpsPerSec(m.Result), m.Result.MemString(), m.ClientCPUPerOp(), m.ServerCPUPerOp(),
					per.pageRequests, per.diskReads, LoadAverage())
			}
		}
	}
	fmt.Printf("\nFind and Commit of %d hot sessions, medians of %d rounds, ratios to %s:\n\n", len(sessionsOf[targets[0].Name].Tokens), rounds, targets[0].Name)
	if err := cmp.WriteTable(os.Stdout); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nServer reads per operation (medians; server-wide counters, the private server runs nothing else):\n\n")
	fmt.Println("| op | goroutines | table | buffer pool page requests | disk page reads | pages flushed | Handler_read_key | Handler_read_next |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|")
	for _, c := range cases {
		for _, tg := range targets {
			rs := reads[key{c, tg.Name}]
			med := func(f func(serverReads) float64) float64 {
				xs := make([]float64, len(rs))
				for i, r := range rs {
					xs[i] = f(r)
				}
				return Median(xs)
			}
			fmt.Printf("| %s | %d | %s | %.2f | %.4f | %.3f | %.2f | %.2f |\n", c.Name, c.Goroutines, tg.Name,
				med(func(r serverReads) float64 { return r.pageRequests }), med(func(r serverReads) float64 { return r.diskReads }),
				med(func(r serverReads) float64 { return r.flushed }),
				med(func(r serverReads) float64 { return r.readKey }), med(func(r serverReads) float64 { return r.readNext }))
		}
	}
	fmt.Println()
}

// insertions commits new sessions, as sign-ins and first visits do, and
// removes them afterwards so that the tables keep their sizes.
type insertions struct {
	mu     sync.Mutex
	tokens []string
}

func (in *insertions) op(store scs.Store) Op {
	data := make([]byte, SessionSize)
	return func() error {
		token := newToken()
		in.mu.Lock()
		in.tokens = append(in.tokens, token)
		in.mu.Unlock()
		return store.Commit(token, data, time.Now().Add(SessionLifetime))
	}
}

// remove deletes the sessions committed, 1000 a statement.
func (in *insertions) remove(db *sql.DB) error {
	for len(in.tokens) > 0 {
		n := min(len(in.tokens), 1000)
		args := make([]any, n)
		for i, tok := range in.tokens[:n] {
			args[i] = tok
		}
		if _, err := db.Exec("DELETE FROM sessions WHERE token IN ("+strings.TrimSuffix(strings.Repeat("?,", n), ",")+")", args...); err != nil {
			return err
		}
		in.tokens = in.tokens[n:]
	}
	return nil
}

// listUsers lists the sessions of n users of the big table, each once, and
// prints the time per call.
func listUsers(t *testing.T, tg *Target, rows, n int) {
	t.Helper()
	s := tg.Store.(*sessionkit.Store)
	var ds []time.Duration
	found := 0
	for range n {
		i := scaleUserShare*2*mathrand.IntN(rows/(2*scaleUserShare)) + 1
		t0 := time.Now()
		list, err := s.Sessions(context.Background(), scaleUser(i))
		ds = append(ds, time.Since(t0))
		if err != nil {
			t.Fatal(err)
		}
		found += len(list)
	}
	slices.Sort(ds)
	fmt.Printf("Sessions(user) on the big table, %d users each once: %.1f sessions each, median %v, p90 %v, max %v\n\n",
		n, float64(found)/float64(n), ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*9/10].Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
}

// scaleCleanup runs scaleWriters goroutines rewriting random sessions of
// tokens (so that the table keeps its size: new sessions cost a page read
// each, which the Insert case shows) in the big table: control alone, then
// while DeleteExpired deletes the expired rows, then alone again for as
// long as the cleanup took (at most 5 minutes); and prints the commits of
// each interval.
func scaleCleanup(t *testing.T, admin *sql.DB, tg *Target, control time.Duration, tokens []string) {
	t.Helper()
	var expired int64
	if err := admin.QueryRow("SELECT COUNT(*) FROM sessions WHERE expiry <= UTC_TIMESTAMP(6)").Scan(&expired); err != nil {
		t.Fatal(err)
	}
	s := tg.Store.(*sessionkit.Store)
	statsBefore := s.Stats()
	w := StartWriters(s, scaleWriters, scaleWriterSize, 24*time.Hour, tokens)
	time.Sleep(2 * time.Second) // connections, statements
	c0 := time.Now()
	time.Sleep(control)
	c1 := time.Now()
	fmt.Printf("cleanup of %d expired rows starts; load average %s\n", expired, LoadAverage())
	deleted, err := s.DeleteExpired(context.Background())
	c2 := time.Now()
	if err != nil {
		w.Stop()
		t.Fatal(err)
	}
	fmt.Printf("cleanup ends; load average %s\n", LoadAverage())
	took := c2.Sub(c1)
	time.Sleep(time.Second)
	c3 := time.Now()
	time.Sleep(min(took, 5*time.Minute))
	c4 := time.Now()
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	stats := s.Stats()
	before, during, after := w.Stats(c0, c1), w.Stats(c1, c2), w.Stats(c3, c4)
	fmt.Printf("\nCleanup of %d expired rows among the big table's, %d writers rewriting random sessions of the %d hot ones with %d bytes:\n\n",
		expired, scaleWriters, len(tokens), scaleWriterSize)
	fmt.Println("| interval | length | rows deleted | statements | commits | commits/s | of control before | commit p50 | commit p99 | slowest commit |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range []struct {
		name       string
		length     time.Duration
		deleted    int64
		statements int64
		s          WriterStats
	}{
		{"control before (no cleanup)", c1.Sub(c0), 0, 0, before},
		{"cleanup", took, deleted, stats.CleanupStatements - statsBefore.CleanupStatements, during},
		{"control after (no cleanup)", c4.Sub(c3), 0, 0, after},
	} {
		fmt.Printf("| %s | %v | %d | %d | %d | %.0f | %.0f %% | %v | %v | %v |\n", r.name, r.length.Round(100*time.Millisecond), r.deleted, r.statements,
			r.s.Commits, r.s.Rate, 100*r.s.Rate/before.Rate, r.s.P50.Round(10*time.Microsecond), r.s.P99.Round(10*time.Microsecond), r.s.Max.Round(100*time.Microsecond))
	}
	fmt.Println()
}
