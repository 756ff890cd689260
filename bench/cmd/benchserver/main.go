// Command benchserver is the chi example's session routes and middleware
// (request id, panic recovery, cross-origin protection, sessions; no
// per-request log line) with a choice of store, so that the HTTP benchmark
// compares stores and nothing else:
//
//   - sessionkit: sessionkit.FromEnv, exactly as the examples set it up;
//   - scs-mysqlstore: scs's mysqlstore on a pool of the kit's default size;
//   - scs-redisstore: scs's redisstore (redigo) on the Redis server at -redis,
//     with a pool of the kit's default size;
//   - scs-memstore: scs's in-memory store, the ceiling for any store that
//     keeps sessions outside the process.
//
// With -pprof, GET /debug/pprof/ serves net/http/pprof's profiles.
//
// With -idle, sessions end after that long without a request: scs's
// IdleTimeout for the scs stores, SESSION_IDLE_TIMEOUT for sessionkit. With
// sessionkit, GET /debug/vars (outside the session middleware) serves the
// store's counters (Kit.Vars) under "sessionkit".
//
// Run it through cmd/httpbench.
package main

import (
	"context"
	"database/sql"
	"expvar"
	"flag"
	"log"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	_ "github.com/go-sql-driver/mysql"
	"github.com/gomodule/redigo/redis"

	"sessionkit.dev/bench"
	"sessionkit.dev/sessionkit"
)

func main() {
	store := flag.String("store", "sessionkit", "sessionkit, scs-mysqlstore, scs-redisstore or scs-memstore")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	idle := flag.Duration("idle", 0, "idle timeout (0: none)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis server of scs-redisstore")
	redisPrefix := flag.String("redis-prefix", "scs:session:", "key prefix of scs-redisstore")
	profile := flag.Bool("pprof", false, "serve net/http/pprof at /debug/pprof/")
	flag.Parse()

	mux := http.NewServeMux()
	if *profile {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	}

	var wrap func(http.Handler) http.Handler
	var manager *scs.SessionManager
	var stop func()
	switch *store {
	case "sessionkit":
		if *idle > 0 {
			os.Setenv("SESSION_IDLE_TIMEOUT", idle.String())
		}
		kit, err := sessionkit.FromEnv(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		manager, wrap = kit.Manager, kit.Middleware
		stop = func() { kit.Shutdown(context.Background()) }
		expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
		mux.Handle("GET /debug/vars", expvar.Handler())
	case "scs-mysqlstore":
		db, err := sql.Open("mysql", os.Getenv("SESSION_MYSQL_DSN"))
		if err != nil {
			log.Fatal(err)
		}
		db.SetMaxOpenConns(25)
		db.SetMaxIdleConns(25)
		db.SetConnMaxLifetime(5 * time.Minute)
		st := mysqlstore.New(db)
		manager = scs.New()
		manager.Store = st
		manager.Cookie.Secure = false
		wrap = manager.LoadAndSave
		stop = func() { st.StopCleanup(); db.Close() }
	case "scs-redisstore":
		// A pool as large as the MySQL stores' pools, waiting for a
		// connection rather than opening more.
		pool := &redis.Pool{MaxIdle: 25, MaxActive: 25, Wait: true,
			Dial: func() (redis.Conn, error) { return redis.Dial("tcp", *redisAddr) }}
		manager = scs.New()
		manager.Store = redisstore.NewWithPrefix(pool, *redisPrefix)
		manager.Cookie.Secure = false
		wrap = manager.LoadAndSave
		stop = func() { pool.Close() }
	case "scs-memstore":
		manager = scs.New()
		manager.Cookie.Secure = false
		wrap = manager.LoadAndSave
		stop = func() {}
	default:
		log.Fatalf("unknown -store %q", *store)
	}

	if *idle > 0 && *store != "sessionkit" {
		manager.IdleTimeout = *idle
	}
	mux.Handle("/", bench.NewHTTPHandler(manager, wrap))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	stop()
}
