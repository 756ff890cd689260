// Command httpbench builds cmd/benchserver, runs it once per store and
// setting against one MySQL or MariaDB server (sessionkit's store, scs's
// mysqlstore), one Redis server (scs's redisstore) and none (scs's
// memstore), each without and with an idle timeout, and measures each over
// HTTP with many clients, each holding its own session cookie: the read path
// GET /get (one store read) and the write path GET / (a read and a commit).
// Phases rotate between the servers round by round; the report gives
// medians of req/s, p50 and p99 latency, ratios to scs's mysqlstore and
// redisstore with the same setting (of the medians, and the median of the
// round-by-round ratios), and what each request cost the database: the
// server's statement and row-write counters per request, Redis's write
// commands per request, and sessionkit's skipped and written touches.
//
//	go run ./cmd/httpbench -dsn 'root@tcp(127.0.0.1:3306)/' -clients 32 -d 5s -rounds 5
//
// The CPU time each process used per request (the application server, the
// database server, Redis, and this load generator, from /proc) is reported
// too: unlike req/s it hardly moves with outside load. With -profile dir,
// the first round also saves a CPU profile of each application server per
// path in dir.
//
// Without a Redis server at -redis, scs's redisstore is left out with a
// message; an empty -redis leaves it out too. -idle 0 leaves out the idle-timeout
// runs.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gomodule/redigo/redis"

	"sessionkit.dev/bench"
)

// Store names, as cmd/benchserver takes them.
const (
	sessionkit = "sessionkit"
	scsMySQL   = "scs-mysqlstore"
	scsRedis   = "scs-redisstore"
	scsMem     = "scs-memstore"
)

var paths = []string{"/get", "/"}

// setup is one running benchserver.
type setup struct {
	store string
	idle  time.Duration
	url   string
	pid   int // of the benchserver
	// results and costs by path, one per round.
	results map[string][]bench.HTTPPhase
	costs   map[string]*cost
}

func (s *setup) name() string {
	if s.idle > 0 {
		return s.store + ", idle " + s.idle.String()
	}
	return s.store
}

// cost sums what the phases of one setup and path cost the servers.
type cost struct {
	requests int
	mysql    mysqlCounters
	redis    redisCounters
	skipped  int64 // sessionkit's TouchesSkipped
	written  int64 // sessionkit's TouchesWritten
	// CPU time of the application server, the database server, Redis and
	// the load generator.
	app, db, redis_, client time.Duration
}

// pids are the processes whose CPU time is read: the database server's and
// Redis's, when they run on this machine (0 otherwise).
var dbPID, redisPID int

func main() {
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "server DSN (a user who may create databases)")
	clients := flag.Int("clients", 32, "concurrent clients, each with its own session")
	dur := flag.Duration("d", 5*time.Second, "duration of each measured phase")
	rounds := flag.Int("rounds", 3, "rounds; medians are reported")
	extraEnv := flag.String("env", "", "extra env for the sessionkit server, e.g. SESSION_X=y")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis server for scs's redisstore ('' leaves it out)")
	idle := flag.Duration("idle", 30*time.Minute, "idle timeout of the second run of each store (0 leaves those out)")
	only := flag.String("stores", strings.Join([]string{sessionkit, scsMySQL, scsRedis, scsMem}, ","), "stores to run, comma-separated")
	profileDir := flag.String("profile", "", "save a CPU profile of each application server and path of the first round in this folder")
	flag.Parse()

	stores := strings.Split(*only, ",")
	var rc *redisClient
	if slices.Contains(stores, scsRedis) {
		var err error
		if rc, err = dialRedis(*redisAddr); err != nil {
			fmt.Fprintf(os.Stderr, "skipping %s: no Redis server at %q (%v)\n", scsRedis, *redisAddr, err)
			stores = slices.DeleteFunc(stores, func(s string) bool { return s == scsRedis })
		} else {
			defer rc.close()
		}
	}
	idles := []time.Duration{0}
	if *idle > 0 {
		idles = append(idles, *idle)
	}

	server := buildServer()
	defer os.RemoveAll(filepath.Dir(server))
	base, err := mysql.ParseDSN(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	admin, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	var version, flush, pool string
	if err := admin.QueryRow("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@innodb_buffer_pool_size").Scan(&version, &flush, &pool); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("database: %s, innodb_flush_log_at_trx_commit=%s, innodb_buffer_pool_size=%s\n", version, flush, pool)
	dbPID = serverPID(admin)
	if rc != nil {
		fmt.Printf("redis: %s\n", rc.describe())
		redisPID = rc.pid()
	}
	fmt.Printf("load average at start: %s\n", bench.LoadAverage())

	prefix := fmt.Sprintf("httpbench:%d:", os.Getpid())
	var setups []*setup
	for _, idle := range idles {
		for _, st := range stores {
			s := &setup{store: st, idle: idle, results: map[string][]bench.HTTPPhase{}, costs: map[string]*cost{}}
			args := []string{"-store", st}
			env := []string{"SESSION_COOKIE_SECURE=false", "SESSION_CREATE_TABLE=true"}
			if idle > 0 {
				args = append(args, "-idle", idle.String())
			}
			if *profileDir != "" {
				args = append(args, "-pprof")
			}
			switch st {
			case sessionkit, scsMySQL:
				name := "httpbench_" + st[:3]
				if idle > 0 {
					name += "_idle"
				}
				env = append(env, "SESSION_MYSQL_DSN="+freshDatabase(admin, base, name, st == scsMySQL))
			case scsRedis:
				args = append(args, "-redis", *redisAddr, "-redis-prefix", prefix+strconv.Itoa(len(setups))+":")
			}
			if st == sessionkit && *extraEnv != "" {
				env = append(env, *extraEnv)
			}
			port := freePort()
			s.url = "http://127.0.0.1:" + strconv.Itoa(port)
			cmd := exec.Command(server, append(args, "-addr", "127.0.0.1:"+strconv.Itoa(port))...)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stderr = os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // no server outlives a failed run
			if err := cmd.Start(); err != nil {
				log.Fatal(err)
			}
			defer cmd.Process.Signal(os.Interrupt)
			s.pid = cmd.Process.Pid
			waitReady(s.url)
			setups = append(setups, s)
		}
	}
	if rc != nil {
		defer rc.deletePrefix(prefix)
	}

	// Warm-up: connections, prepared statements, the servers' caches.
	for _, s := range setups {
		for _, path := range paths {
			if _, err := bench.RunHTTP([]string{s.url}, path, *clients, time.Second); err != nil {
				log.Fatalf("%s, %s: %v", s.name(), path, err)
			}
		}
	}
	for r := 0; r < *rounds; r++ {
		for _, path := range paths {
			for i := range setups {
				s := setups[(i+r)%len(setups)] // rotate so no server always goes first
				var profiled chan struct{}
				if *profileDir != "" && r == 0 {
					profiled = make(chan struct{})
					go func() {
						defer close(profiled)
						saveProfile(s.url, filepath.Join(*profileDir, profileName(s, path)), max(*dur-time.Second, time.Second))
					}()
				}
				before := readCost(admin, rc, s)
				p, err := bench.RunHTTP([]string{s.url}, path, *clients, *dur)
				if err != nil {
					log.Fatalf("%s, %s: %v", s.name(), path, err)
				}
				after := readCost(admin, rc, s)
				if profiled != nil {
					<-profiled
				}
				c := s.costs[path]
				if c == nil {
					c = &cost{}
					s.costs[path] = c
				}
				c.add(after, before, p.OK+p.Errors)
				s.results[path] = append(s.results[path], p)
				fmt.Fprintf(os.Stderr, "round %d %-4s %-28s %8.0f req/s p50 %v p99 %v errors %d stale %d\n", r+1, path, s.name(), p.RPS,
					p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond), p.Errors, p.Stale)
			}
		}
	}
	fmt.Printf("load average at end: %s\n", bench.LoadAverage())
	fmt.Printf("\n%d clients, %v per phase, medians of %d rounds; ratios: of the medians, and in brackets the median of the round-by-round ratios\n\n", *clients, *dur, *rounds)
	writeTable(setups)
	fmt.Println()
	writeCosts(setups)
	fmt.Println()
	writeIdleRatios(setups)
}

// find returns the setup of store with idle timeout idle, or nil.
func find(setups []*setup, store string, idle time.Duration) *setup {
	for _, s := range setups {
		if s.store == store && s.idle == idle {
			return s
		}
	}
	return nil
}

// ratio formats a's median req/s over b's, and the median of the
// round-by-round ratios, on path.
func ratio(a, b *setup, path string) string {
	if a == nil || b == nil {
		return "-"
	}
	ma, mb := bench.MedianHTTP(a.results[path]), bench.MedianHTTP(b.results[path])
	var rs []float64
	for i := range min(len(a.results[path]), len(b.results[path])) {
		rs = append(rs, a.results[path][i].RPS/b.results[path][i].RPS)
	}
	return fmt.Sprintf("%.2fx (%.2f)", ma.RPS/mb.RPS, bench.Median(rs))
}

func writeTable(setups []*setup) {
	fmt.Println("| path | store | idle timeout | req/s | p50 | p99 | errors | stale | vs scs mysqlstore | vs scs redisstore | of memstore |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---|---|---|")
	for _, path := range paths {
		for _, s := range setups {
			m := bench.MedianHTTP(s.results[path])
			idle := "-"
			if s.idle > 0 {
				idle = s.idle.String()
			}
			fmt.Printf("| `GET %s` | %s | %s | %.0f | %v | %v | %d | %d | %s | %s | %s |\n", path, s.store, idle, m.RPS,
				m.P50.Round(10*time.Microsecond), m.P99.Round(10*time.Microsecond), m.Errors, m.Stale,
				ratio(s, find(setups, scsMySQL, s.idle), path), ratio(s, find(setups, scsRedis, s.idle), path),
				ratio(s, find(setups, scsMem, s.idle), path))
		}
	}
}

// writeCosts prints what a request cost the servers, from their counters
// over all rounds. The database and Redis counters are server-wide: the
// rows of the stores that use neither show what else ran meanwhile.
func writeCosts(setups []*setup) {
	fmt.Println("Per request, all rounds (database and Redis counters are server-wide; rows of stores that do not use them show the background):")
	fmt.Println()
	fmt.Println("| path | store | idle timeout | requests | Com_stmt_execute | Com_stmt_prepare | Handler_write | Handler_update | Handler_delete | Innodb_data_fsyncs | Redis write commands | sessionkit touches skipped, written | CPU µs: application + database + Redis = total; load generator |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	for _, path := range paths {
		for _, s := range setups {
			c := s.costs[path]
			if c == nil || c.requests == 0 {
				continue
			}
			n := float64(c.requests)
			idle := "-"
			if s.idle > 0 {
				idle = s.idle.String()
			}
			touches := "-"
			if s.store == sessionkit {
				touches = fmt.Sprintf("%.3f, %.3f", float64(c.skipped)/n, float64(c.written)/n)
			}
			redisWrites := "-"
			if c.redis.ok {
				redisWrites = fmt.Sprintf("%.3f", float64(c.redis.writes)/n)
			}
			m := c.mysql
			us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
			fmt.Printf("| `GET %s` | %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s | %.0f + %.0f + %.0f = %.0f; %.0f |\n", path, s.store, idle, c.requests,
				float64(m.stmtExecute)/n, float64(m.stmtPrepare)/n, float64(m.handlerWrite)/n, float64(m.handlerUpdate)/n,
				float64(m.handlerDelete)/n, float64(m.fsyncs)/n, redisWrites, touches,
				us(c.app), us(c.db), us(c.redis_), us(c.app+c.db+c.redis_), us(c.client))
		}
	}
}

// writeIdleRatios prints, per store and path, the idle-timeout run over the
// plain one.
func writeIdleRatios(setups []*setup) {
	fmt.Println("With the idle timeout over without, same store and path (ratio of medians, and median of the round-by-round ratios):")
	fmt.Println()
	for _, s := range setups {
		if s.idle == 0 {
			continue
		}
		plain := find(setups, s.store, 0)
		for _, path := range paths {
			fmt.Printf("- %s, `GET %s`: %s\n", s.store, path, ratio(s, plain, path))
		}
	}
}

func (c *cost) add(after, before cost, requests int) {
	c.requests += requests
	c.mysql = c.mysql.plus(after.mysql.minus(before.mysql))
	c.redis.ok = after.redis.ok
	c.redis.writes += after.redis.writes - before.redis.writes
	c.skipped += after.skipped - before.skipped
	c.written += after.written - before.written
	c.app += after.app - before.app
	c.db += after.db - before.db
	c.redis_ += after.redis_ - before.redis_
	c.client += after.client - before.client
}

// readCost reads the counters that a phase of s moves.
func readCost(admin *sql.DB, rc *redisClient, s *setup) cost {
	var c cost
	var err error
	if c.mysql, err = readMySQL(admin); err != nil {
		log.Fatal(err)
	}
	if rc != nil {
		if c.redis, err = rc.counters(); err != nil {
			log.Fatal(err)
		}
	}
	if s.store == sessionkit {
		c.skipped, c.written = readTouches(s.url)
	}
	c.app, c.db, c.redis_, c.client = bench.ProcessCPU(s.pid), bench.ProcessCPU(dbPID), bench.ProcessCPU(redisPID), bench.SelfCPU()
	return c
}

// serverPID returns the database server's process id, when it runs on this
// machine and its pid file is readable.
func serverPID(db *sql.DB) int {
	var file string
	if err := db.QueryRow("SELECT @@pid_file").Scan(&file); err != nil {
		return 0
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func profileName(s *setup, path string) string {
	name := s.store
	if s.idle > 0 {
		name += "-idle"
	}
	if path == "/" {
		return name + "-write.pprof"
	}
	return name + "-read.pprof"
}

// saveProfile saves a CPU profile of d of the application server at url.
func saveProfile(url, file string, d time.Duration) {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", url, int(d.Seconds())))
	if err != nil {
		log.Printf("profile of %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		log.Printf("profile of %s: %v", url, err)
	}
}

// mysqlCounters are server-wide counters of SHOW GLOBAL STATUS.
type mysqlCounters struct {
	stmtExecute, stmtPrepare, handlerWrite, handlerUpdate int64
	handlerDelete, fsyncs                                 int64
}

func (a mysqlCounters) minus(b mysqlCounters) mysqlCounters {
	return mysqlCounters{a.stmtExecute - b.stmtExecute, a.stmtPrepare - b.stmtPrepare, a.handlerWrite - b.handlerWrite,
		a.handlerUpdate - b.handlerUpdate, a.handlerDelete - b.handlerDelete, a.fsyncs - b.fsyncs}
}

func (a mysqlCounters) plus(b mysqlCounters) mysqlCounters {
	return mysqlCounters{a.stmtExecute + b.stmtExecute, a.stmtPrepare + b.stmtPrepare, a.handlerWrite + b.handlerWrite,
		a.handlerUpdate + b.handlerUpdate, a.handlerDelete + b.handlerDelete, a.fsyncs + b.fsyncs}
}

func readMySQL(db *sql.DB) (mysqlCounters, error) {
	c, err := bench.GlobalStatus(context.Background(), db, "Com_stmt_execute", "Com_stmt_prepare", "Handler_write",
		"Handler_update", "Handler_delete", "Innodb_data_fsyncs")
	if err != nil {
		return mysqlCounters{}, err
	}
	return mysqlCounters{c["Com_stmt_execute"], c["Com_stmt_prepare"], c["Handler_write"], c["Handler_update"],
		c["Handler_delete"], c["Innodb_data_fsyncs"]}, nil
}

// readTouches reads sessionkit's TouchesSkipped and TouchesWritten from the
// benchserver's /debug/vars.
func readTouches(url string) (skipped, written int64) {
	resp, err := http.Get(url + "/debug/vars")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var vars struct {
		Sessionkit struct {
			TouchesSkipped int64 `json:"touches_skipped"`
			TouchesWritten int64 `json:"touches_written"`
		} `json:"sessionkit"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		log.Fatalf("%s/debug/vars: %v", url, err)
	}
	return vars.Sessionkit.TouchesSkipped, vars.Sessionkit.TouchesWritten
}

// redisClient reads Redis's counters and removes the benchmark's keys.
type redisClient struct{ conn redis.Conn }

// redisCounters: writes are the calls of the commands scs's redisstore
// writes with (SET, PEXPIREAT, DEL), server-wide.
type redisCounters struct {
	ok     bool
	writes int64
}

func dialRedis(addr string) (*redisClient, error) {
	if addr == "" {
		return nil, fmt.Errorf("none given")
	}
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	if _, err := c.Do("PING"); err != nil {
		c.Close()
		return nil, err
	}
	return &redisClient{conn: c}, nil
}

func (r *redisClient) close() { r.conn.Close() }

// pid returns the Redis server's process id.
func (r *redisClient) pid() int {
	info, _ := redis.String(r.conn.Do("INFO", "server"))
	pid, _ := strconv.Atoi(strings.TrimSpace(infoField(info, "process_id")))
	return pid
}

// describe returns the server's version and persistence settings.
func (r *redisClient) describe() string {
	info, _ := redis.String(r.conn.Do("INFO", "server"))
	version := infoField(info, "redis_version")
	save, _ := redis.Strings(r.conn.Do("CONFIG", "GET", "save"))
	aof, _ := redis.Strings(r.conn.Do("CONFIG", "GET", "appendonly"))
	return fmt.Sprintf("version %s, save %q, appendonly %q", version, last(save), last(aof))
}

func last(s []string) string {
	if len(s) == 0 {
		return "?"
	}
	return s[len(s)-1]
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return "?"
}

func (r *redisClient) counters() (redisCounters, error) {
	info, err := redis.String(r.conn.Do("INFO", "commandstats"))
	if err != nil {
		return redisCounters{}, err
	}
	c := redisCounters{ok: true}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		for _, cmd := range []string{"set", "pexpireat", "del"} {
			rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
			c.writes += n
		}
	}
	return c, nil
}

// deletePrefix removes every key that starts with prefix.
func (r *redisClient) deletePrefix(prefix string) {
	cursor := "0"
	for {
		v, err := redis.Values(r.conn.Do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			log.Printf("removing the benchmark's Redis keys: %v", err)
			return
		}
		cursor, _ = redis.String(v[0], nil)
		keys, _ := redis.Strings(v[1], nil)
		for _, k := range keys {
			r.conn.Do("DEL", k)
		}
		if cursor == "0" {
			return
		}
	}
}

// freshDatabase makes an empty database name and returns the DSN of it;
// with scsTable, it holds the table from scs's README.
func freshDatabase(admin *sql.DB, base *mysql.Config, name string, scsTable bool) string {
	admin.Exec("DROP DATABASE IF EXISTS " + name)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		log.Fatal(err)
	}
	if scsTable {
		for _, q := range []string{
			"CREATE TABLE " + name + ".sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
			"CREATE INDEX sessions_expiry_idx ON " + name + ".sessions (expiry)",
		} {
			if _, err := admin.Exec(q); err != nil {
				log.Fatal(err)
			}
		}
	}
	c := base.Clone()
	c.DBName = name
	c.ParseTime = true
	return c.FormatDSN()
}

func waitReady(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url + "/get"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s not ready", url)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildServer builds cmd/benchserver into a temporary folder.
func buildServer() string {
	dir, err := os.MkdirTemp("", "httpbench-*")
	if err != nil {
		log.Fatal(err)
	}
	bin := filepath.Join(dir, "benchserver")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/benchserver")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("building cmd/benchserver (run httpbench from bench/): %v", err)
	}
	return bin
}
