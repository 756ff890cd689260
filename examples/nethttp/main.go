// Command nethttp is a web server with MySQL-backed sessions on net/http:
// the wiring to copy into a service; its pages are examples/internal/pages,
// shared with examples/chi. It reads the SESSION_* variables (see the
// README), ADDR (default ":4000"), LOG_LEVEL (debug, info, warn or error)
// and DEBUG_VARS (true serves /debug/vars, expvar's JSON with the store's
// counters: not for the public internet). On a throwaway database:
//
//	go run ./cmd/sessionkit dev -example nethttp
package main

import (
	"cmp"
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sessionkit.dev/examples/internal/pages"
	"sessionkit.dev/examples/internal/serverlog"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// shutdownTimeout is below the 10s after which docker stop kills the process.
const shutdownTimeout = 9 * time.Second

func main() {
	var level slog.Level // LOG_LEVEL and DEBUG_VARS: a bad value stops the server
	debugVars, err := strconv.ParseBool(cmp.Or(os.Getenv("DEBUG_VARS"), "false"))
	if err != nil {
		err = fmt.Errorf("DEBUG_VARS %q: want true or false", os.Getenv("DEBUG_VARS"))
	}
	if v := os.Getenv("LOG_LEVEL"); v != "" && level.UnmarshalText([]byte(v)) != nil {
		err = errors.Join(err, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", v))
	}
	// JSON lines for a log collector; sessionkit logs through the default
	// logger. ClipLong keeps a client's megabyte of path out of the log.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: serverlog.ClipLong}))
	slog.SetDefault(logger)
	if err == nil {
		err = run(logger, cmp.Or(os.Getenv("ADDR"), ":4000"), debugVars)
	}
	if err != nil {
		serverlog.Exit(logger, err) // for a missing table, with the statement that creates it
	}
}

// run serves until SIGINT (Ctrl-C) or SIGTERM, then stops the HTTP server,
// so that requests in flight finish and save their sessions, then the kit.
func run(logger *slog.Logger, addr string, debugVars bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kit, err := sessionkit.FromEnv(ctx) // waits for a database that is not up yet
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, kit.Shutdown(ctx))
	}
	srv := &http.Server{
		Handler:  routes(kit, logger, debugVars),
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn), // net/http's own lines, as JSON
		// Timeouts against slow or stuck clients.
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute,
	}
	logger.Info("listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		stop() // a second Ctrl-C kills the process at once
		logger.Info("shutting down", "timeout", shutdownTimeout.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err = errors.Join(err, srv.Shutdown(ctx), kit.Shutdown(ctx)); err == nil {
		logger.Info("stopped")
	}
	return err
}

// routes puts /healthz and /debug/vars outside the session middleware (a probe
// sends no cookie; while the database is down it wants 503, not a failed load).
func routes(kit *sessionkit.Kit, logger *slog.Logger, debugVars bool) http.Handler {
	root := http.NewServeMux() // a GET pattern answers HEAD too
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := kit.Ready(ctx); err != nil { // 503 takes this replica out of the load balancer
			slog.WarnContext(ctx, "not ready", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		} else {
			w.Write([]byte("ok\n"))
		}
	})
	if debugVars {
		expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
		root.Handle("GET /debug/vars", expvar.Handler())
	}
	// The application: a cross-site POST is refused before a session loads.
	app := http.NewServeMux()
	root.Handle("/", http.NewCrossOriginProtection().Handler(kit.Middleware(app)))
	p := pages.New(kit)
	app.HandleFunc("GET /{$}", p.Home) // "/{$}" is "/" alone
	app.HandleFunc("GET /put", p.PutForm)
	app.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", pages.Message) // starts a session if there is none
		p.Stored(w, r)
	})
	app.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		p.Message(w, r, kit.Manager.GetString(r.Context(), "message"))
	})
	app.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real application checks a password first. Login renews the token.
		switch err := kit.Login(r.Context(), strings.TrimSpace(r.PostFormValue("user"))); {
		case errors.Is(err, sessionmysql.ErrUserID): // empty, over 255 bytes, not UTF-8
			http.Error(w, "the form field user: want 1 to 255 bytes of UTF-8", http.StatusBadRequest)
		case err != nil:
			pages.ServerError(w, r, err)
		default:
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	})
	app.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.Destroy(r.Context()); err != nil { // deletes the row, expires the cookie
			pages.ServerError(w, r, err)
		} else {
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	})
	app.HandleFunc("GET /sessions", p.Sessions)
	app.HandleFunc("POST /sessions/revoke", p.Revoke)
	app.HandleFunc("POST /sessions/revoke-others", p.RevokeOthers)
	return serverlog.Requests(logger, nil)(root) // net/http recovers a panic and logs it to ErrorLog
}
