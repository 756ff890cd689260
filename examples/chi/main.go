// Command chi is a web server with MySQL-backed sessions on the chi router.
// This file is the wiring to copy into a service; the pages it serves are
// examples/internal/pages, shared with examples/nethttp. It reads the
// SESSION_* variables (see the README) and its own: ADDR (default ":4000"),
// LOG_LEVEL (debug, info, warn or error) and DEBUG_VARS (true serves
// /debug/vars, expvar's JSON with the store's counters: not for the public
// internet). Against a MySQL or MariaDB of your own:
//
//	SESSION_MYSQL_DSN='app:secret@tcp(127.0.0.1:3306)/app' \
//	SESSION_CREATE_TABLE=true SESSION_COOKIE_SECURE=false go run ./examples/chi
package main

import (
	"cmp"
	"context"
	"errors"
	"expvar"
	"fmt"
	"io"
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
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"sessionkit.dev/examples/internal/pages"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// shutdownTimeout is the one budget of the HTTP server and the sessions
// after SIGINT or SIGTERM. Keep it below the orchestrator's grace period:
// docker stop kills the process after 10s, Kubernetes after 30s.
const shutdownTimeout = 9 * time.Second

func main() {
	addr, level, debugVars, err := options()
	// JSON lines for a log collector; sessionkit logs through the default
	// logger. clipLong keeps a client's megabyte of path out of the log.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: clipLong}))
	slog.SetDefault(logger)
	if err == nil {
		err = run(logger, addr, debugVars)
	}
	var missing *sessionmysql.TableMissingError
	if errors.As(err, &missing) { // the statement goes out as it is, to paste into a MySQL client
		logger.Error("exiting: the session table does not exist; create it with the statement below, "+
			"or set SESSION_CREATE_TABLE=true to create it at start-up", "table", missing.Table)
		fmt.Fprintf(os.Stderr, "\n%s\n\n", missing.CreateStatement)
		os.Exit(1)
	} else if err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGINT (Ctrl-C) or SIGTERM, then stops within
// shutdownTimeout: the HTTP server first, so that requests in flight
// finish and save their sessions, then the kit.
func run(logger *slog.Logger, addr string, debugVars bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A bad SESSION_* variable is reported here, before the server listens;
	// a database that is not up yet is waited for, each attempt logged.
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kit, err := sessionkit.FromEnv(startCtx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, kit.Shutdown(startCtx))
	}
	srv := &http.Server{
		Handler:           routes(kit, logger, debugVars),
		ReadHeaderTimeout: 5 * time.Second, // timeouts against slow or stuck clients
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
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
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelShutdown()
	if err = errors.Join(err, srv.Shutdown(shutdownCtx), kit.Shutdown(shutdownCtx)); err == nil {
		logger.Info("stopped")
	}
	return err
}

// routes puts /healthz and /debug/vars outside the session middleware (a
// probe sends no cookie, and must get 503, not a failed session load, while
// the database is down) and the application inside it.
func routes(kit *sessionkit.Kit, logger *slog.Logger, debugVars bool) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, logRequests(logger), middleware.Recoverer)
	r.Use(middleware.GetHead) // HEAD by the GET route, as net/http's ServeMux does
	// The readiness probe: 503 takes this replica out of the load balancer
	// while it cannot reach the database.
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := kit.Ready(ctx); err != nil {
			slog.WarnContext(ctx, "not ready", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	if debugVars {
		expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
		r.Get("/debug/vars", expvar.Handler().ServeHTTP)
	}
	r.Group(func(app chi.Router) {
		// A browser's POST from another site's page is refused (CSRF) before
		// the session is loaded; curl, which sends no Origin, passes. Pages
		// on another origin need AddTrustedOrigin.
		app.Use(http.NewCrossOriginProtection().Handler, kit.Middleware)
		p := pages.New(kit)
		app.Get("/", p.Home)
		app.Get("/put", p.PutForm)
		app.Post("/put", func(w http.ResponseWriter, r *http.Request) {
			kit.Manager.Put(r.Context(), "message", pages.Message) // starts a session if there is none
			p.Stored(w, r)
		})
		app.Get("/get", func(w http.ResponseWriter, r *http.Request) {
			p.Message(w, r, kit.Manager.GetString(r.Context(), "message"))
		})
		app.Post("/login", login(kit))
		app.Post("/logout", logout(kit))
		app.Get("/sessions", p.Sessions)
		app.Post("/sessions/revoke", p.Revoke)
		app.Post("/sessions/revoke-others", p.RevokeOthers)
	})
	return r
}

// login gives the session a new token, so that one planted or seen before
// is worth nothing, and binds it to the user, for the sessions page. A real
// application checks a password first.
func login(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimSpace(r.PostFormValue("user"))
		if user == "" || len(user) > 100 || !utf8.ValidString(user) {
			http.Error(w, "the form field user is required: at most 100 bytes of UTF-8", http.StatusBadRequest)
		} else if err := kit.Login(r.Context(), user); err != nil {
			serverError(w, r, err)
		} else {
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	}
}

// logout deletes the session's row and expires the browser's cookie.
func logout(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.Destroy(r.Context()); err != nil {
			serverError(w, r, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// options reads the server's own variables; a bad value is an error.
func options() (addr string, level slog.Level, debugVars bool, err error) {
	if v := os.Getenv("LOG_LEVEL"); v != "" && level.UnmarshalText([]byte(v)) != nil {
		err = fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", v)
	}
	if v := os.Getenv("DEBUG_VARS"); v != "" {
		var perr error
		if debugVars, perr = strconv.ParseBool(v); perr != nil {
			err = errors.Join(err, fmt.Errorf("DEBUG_VARS %q: want true or false", v))
		}
	}
	return cmp.Or(os.Getenv("ADDR"), ":4000"), level, debugVars, err
}
