// Command benchserver is the chi example's session routes and middleware
// (request id, panic recovery, cross-origin protection, sessions; no
// per-request log line) with a choice of store, so that the HTTP benchmark
// compares stores and nothing else:
//
//   - sessionkit: sessionkit.FromEnv, exactly as the examples set it up;
//   - scs-mysqlstore: scs's mysqlstore on a pool of the kit's default size;
//   - scs-memstore: scs's in-memory store, the ceiling for any store that
//     keeps sessions outside the process.
//
// Run it through cmd/httpbench.
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"
	_ "github.com/go-sql-driver/mysql"

	"sessionkit.dev/bench"
	"sessionkit.dev/sessionkit"
)

func main() {
	store := flag.String("store", "sessionkit", "sessionkit, scs-mysqlstore or scs-memstore")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	var wrap func(http.Handler) http.Handler
	var manager *scs.SessionManager
	var stop func()
	switch *store {
	case "sessionkit":
		kit, err := sessionkit.FromEnv(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		manager, wrap = kit.Manager, kit.Middleware
		stop = func() { kit.Shutdown(context.Background()) }
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
	case "scs-memstore":
		manager = scs.New()
		manager.Cookie.Secure = false
		wrap = manager.LoadAndSave
		stop = func() {}
	default:
		log.Fatalf("unknown -store %q", *store)
	}

	srv := &http.Server{Addr: *addr, Handler: bench.NewHTTPHandler(manager, wrap), ReadHeaderTimeout: 5 * time.Second}
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
