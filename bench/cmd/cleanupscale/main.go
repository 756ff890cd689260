// Command cleanupscale loads a backlog of expired sessions and measures how
// commits fare while the backlog is deleted: this store's batched cleanup
// against scs's mysqlstore, which deletes the backlog in one statement.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/go-sql-driver/mysql"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

type committer interface {
	Commit(token string, b []byte, expiry time.Time) error
}

func main() {
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "server DSN (a user who may create databases)")
	rows := flag.Int("rows", 1_000_000, "expired sessions to load")
	writers := flag.Int("writers", 16, "goroutines committing during cleanup")
	batch := flag.Int("batch", 1000, "this store's CleanupBatchSize")
	only := flag.String("only", "", "run one store: sessionkit or scs-mysqlstore")
	control := flag.Duration("control", 0, "instead of cleaning up, wait this long: the commits' latency without cleanup, for comparison")
	flag.Parse()

	base, err := mysql.ParseDSN(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	base.ParseTime = true
	fmt.Println("| store | rows deleted | backlog time | statements | rows/statement | commit p50 | commit p99 | commit max | commits/s | commit max before | commits/s before |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, name := range []string{"sessionkit", "scs-mysqlstore"} {
		if *only != "" && *only != name {
			continue
		}
		db := freshDatabase(base, "cleanupscale_"+name[:3], name == "sessionkit")
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		t0 := time.Now()
		load(db, *rows)
		log.Printf("%s: loaded %d expired sessions in %v", name, *rows, time.Since(t0).Round(time.Second))

		var store committer
		var clean func(context.Context) (int64, int64, error)
		switch name {
		case "sessionkit":
			cfg := sessionmysql.DefaultConfig()
			cfg.CleanupInterval, cfg.CleanupBatchSize = 0, *batch
			s, err := sessionmysql.NewWithConfig(db, cfg)
			if err != nil {
				log.Fatal(err)
			}
			store = s
			clean = func(ctx context.Context) (int64, int64, error) {
				n, err := s.DeleteExpired(ctx)
				return n, s.Stats().CleanupStatements, err
			}
		default:
			store = mysqlstore.NewWithCleanupInterval(db, 0)
			// The statement scs's mysqlstore runs on each cleanup tick.
			clean = func(ctx context.Context) (int64, int64, error) {
				res, err := db.ExecContext(ctx, "DELETE FROM sessions WHERE expiry < UTC_TIMESTAMP(6)")
				if err != nil {
					return 0, 1, err
				}
				n, err := res.RowsAffected()
				return n, 1, err
			}
		}
		if *control > 0 {
			clean = func(context.Context) (int64, int64, error) {
				time.Sleep(*control)
				return 0, 0, nil
			}
			name += " (no cleanup, control)"
		}
		r := measure(store, clean, *writers)
		fmt.Printf("| %s | %d | %v | %d | %d | %v | %v | %v | %.0f | %v | %.0f |\n", name, r.deleted, r.cleanup.Round(100*time.Millisecond),
			r.statements, r.deleted/max(r.statements, 1), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond),
			r.max.Round(100*time.Microsecond), r.rate, r.beforeMax.Round(100*time.Microsecond), r.beforeRate)
		db.Close()
	}
}

type result struct {
	deleted, statements int64
	cleanup             time.Duration
	p50, p99, max       time.Duration
	rate                float64 // commits/s during cleanup
	beforeMax           time.Duration
	beforeRate          float64 // commits/s in the 2 s before cleanup
}

func measure(store committer, clean func(context.Context) (int64, int64, error), writers int) result {
	type span struct{ start, end time.Time }
	var spans []span
	var mu sync.Mutex
	var stop atomic.Bool
	var wg sync.WaitGroup
	data := make([]byte, 250)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []span
			for !stop.Load() {
				t0 := time.Now()
				if err := store.Commit(newToken(), data, time.Now().Add(24*time.Hour)); err != nil {
					log.Fatal(err)
				}
				mine = append(mine, span{t0, time.Now()})
			}
			mu.Lock()
			spans = append(spans, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	n, statements, err := clean(context.Background())
	t1 := time.Now()
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		log.Fatal(err)
	}
	// Every commit that was running at any moment of the cleanup counts,
	// also one that started before it or ended after it.
	var during, before []time.Duration
	for _, s := range spans {
		switch {
		case s.end.After(t0) && s.start.Before(t1):
			during = append(during, s.end.Sub(s.start))
		case s.end.Before(t0):
			before = append(before, s.end.Sub(s.start))
		}
	}
	slices.Sort(during)
	slices.Sort(before)
	elapsed := t1.Sub(t0)
	return result{deleted: n, statements: statements, cleanup: elapsed,
		p50: during[len(during)/2], p99: during[len(during)*99/100], max: during[len(during)-1],
		rate:      float64(len(during)) / elapsed.Seconds(),
		beforeMax: before[len(before)-1], beforeRate: float64(len(before)) / 2}
}

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func freshDatabase(base *mysql.Config, name string, recommended bool) *sql.DB {
	admin, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name} {
		if _, err := admin.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	c := base.Clone()
	c.DBName = name
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	ddl := []string{"CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions (expiry)"}
	if recommended {
		s := sessionmysql.NewWithCleanupInterval(db, 0)
		ddl = []string{strings.TrimSuffix(s.CreateTableStatement(), ";")}
	}
	for _, q := range ddl {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	return db
}

// load inserts n expired sessions, 1000 rows a statement from 4 goroutines.
func load(db *sql.DB, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	expiry := time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000000")
	data := make([]byte, 250)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(1000)) - 1000
				if start >= n {
					return
				}
				end := min(start+1000, n)
				var q strings.Builder
				q.WriteString("INSERT INTO sessions (token, data, expiry) VALUES ")
				args := make([]any, 0, 3*(end-start))
				for i := start; i < end; i++ {
					if i > start {
						q.WriteByte(',')
					}
					q.WriteString("(?, ?, ?)")
					args = append(args, newToken(), data, expiry)
				}
				if _, err := db.Exec(q.String(), args...); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
}
