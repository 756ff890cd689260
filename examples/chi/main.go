// Command chi is a complete HTTP server with MySQL-backed sessions on the chi
// router. Copy it as the start of your own service.
//
// Configuration comes from the environment: the SESSION_* variables that
// sessionkit reads (see the README) and three of the server's own:
//
//	ADDR        the address to listen on (default ":4000")
//	LOG_LEVEL   debug, info (default), warn or error; debug also logs each
//	            cleanup pass of the session store
//	DEBUG_VARS  true serves GET /debug/vars (default false)
//
// Against a local MySQL or MariaDB:
//
//	SESSION_MYSQL_DSN='user:password@tcp(127.0.0.1:3306)/app' \
//	SESSION_CREATE_TABLE=true SESSION_COOKIE_SECURE=false \
//	go run ./examples/chi
//
// Routes:
//
//	GET  /            visit counter and who is logged in, with log-in and log-out forms;
//	                  starts no session, so visitors without one write nothing
//	GET  /put         puts "Hello from a session!" into the session, starting one
//	GET  /get         writes it back
//	POST /login       form field user: renews the session token, then stores the user
//	POST /logout      destroys the session
//	GET  /healthz     200 when the database answers, 503 when it does not
//	GET  /debug/vars  with DEBUG_VARS=true only: expvar's JSON, with the session
//	                  store's counters ("sessionkit", from kit.Vars) and the
//	                  number of goroutines ("goroutines"); keep it off the
//	                  public internet
//
// Logs are JSON lines on stderr; a path is logged up to its first 200 bytes.
// SIGINT or SIGTERM stops the server gracefully within 9s: in-flight requests
// finish, then the sessions are shut down.
package main

import (
	"cmp"
	"context"
	"errors"
	"expvar"
	"fmt"
	"html/template"
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

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// shutdownTimeout is the one budget of the graceful shutdown after SIGINT or
// SIGTERM, shared by the HTTP server (in-flight requests finish) and the
// sessions (the last ones are saved, the pool is closed). Keep it below your
// orchestrator's grace period: docker stop kills the process after 10s,
// Kubernetes after 30s (terminationGracePeriodSeconds).
const shutdownTimeout = 9 * time.Second

func main() {
	opts, err := loadOptions()

	// JSON lines for a log collector; slog.NewTextHandler reads better in a
	// terminal. sessionkit and its store log through the default logger.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	slog.SetDefault(logger)

	if err == nil {
		err = run(logger, opts)
	}
	var missing *sessionmysql.TableMissingError
	if errors.As(err, &missing) {
		// The statement goes to stderr as it is, ready to paste into a MySQL
		// client: inside a JSON log line its line breaks would be \n escapes.
		logger.Error("exiting: the session table does not exist; create it with the statement below, "+
			"or set SESSION_CREATE_TABLE=true to create it at start-up", "table", missing.Table)
		fmt.Fprintf(os.Stderr, "\n%s\n\n", missing.CreateStatement)
		os.Exit(1)
	}
	if err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

// options are the server's own environment variables; sessionkit reads the
// SESSION_* ones.
type options struct {
	addr      string     // ADDR
	logLevel  slog.Level // LOG_LEVEL
	debugVars bool       // DEBUG_VARS
}

// loadOptions reads ADDR, LOG_LEVEL and DEBUG_VARS. A bad value is an
// error, not a silent default.
func loadOptions() (options, error) {
	o := options{addr: cmp.Or(os.Getenv("ADDR"), ":4000")}
	var errs []error
	if v := os.Getenv("LOG_LEVEL"); v != "" {
		if err := o.logLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", v))
		}
	}
	if v := os.Getenv("DEBUG_VARS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("DEBUG_VARS %q: want true or false", v))
		}
		o.debugVars = on
	}
	return o, errors.Join(errs...)
}

func run(logger *slog.Logger, opts options) error {
	// ctx ends at the first SIGINT (Ctrl-C) or SIGTERM (docker stop, Kubernetes).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Sessions: the SESSION_* variables give a MySQL pool, the store and a
	// configured scs.SessionManager (kit.Manager). A bad variable is reported
	// here, before the server listens. A database that is not up yet is
	// waited for, each attempt logged, for up to 30s; then exit and let the
	// orchestrator restart the process.
	startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	kit, err := sessionkit.FromEnv(startCtx)
	cancelStart()
	if err != nil {
		return err
	}
	sessions := kit.Manager

	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(logRequests(logger))
	r.Use(middleware.Recoverer)

	// The health check stays outside the session middleware: a load balancer
	// sends no cookie, and it must answer 503, not fail to load a session,
	// while the database is down.
	r.Get("/healthz", healthz(kit))

	// With DEBUG_VARS=true, GET /debug/vars shows the session store's
	// counters, the goroutine count and Go's memory statistics as JSON, for
	// dashboards and alerts. Like /healthz it needs no session. It tells
	// anyone who asks about the process: serve it on an internal network
	// only, never to the public internet.
	if opts.debugVars {
		expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
		r.Get("/debug/vars", expvar.Handler().ServeHTTP)
	}

	r.Group(func(r chi.Router) {
		// Refuse cross-origin POSTs from browsers (CSRF). Same-origin forms
		// and clients that send no Origin header, such as curl, pass. If the
		// pages are served from another origin than this server, allow it
		// with AddTrustedOrigin("https://app.example.com").
		r.Use(http.NewCrossOriginProtection().Handler)
		r.Use(kit.Middleware)

		// Your routes go here.
		r.Get("/", home(kit))
		r.Get("/put", put(sessions))
		r.Get("/get", get(sessions))
		r.Post("/login", login(sessions))
		r.Post("/logout", logout(sessions))
	})

	srv := &http.Server{
		Handler: r,
		// Timeouts protect the server from slow or stuck clients. Raise
		// WriteTimeout for routes that stream or take long.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return errors.Join(err, shutdownSessions(context.Background(), kit))
	}
	logger.Info("listening", "addr", ln.Addr().String())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return errors.Join(err, shutdownSessions(context.Background(), kit))
	case <-ctx.Done():
	}
	stop() // from here on a second Ctrl-C kills the process at once

	// Stop accepting connections and let in-flight requests finish; they
	// still load and save sessions, so the kit is shut down after them, in
	// what is left of the same budget.
	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	err = errors.Join(err, shutdownSessions(shutdownCtx, kit))
	if err == nil {
		logger.Info("stopped")
	}
	return err
}

// shutdownSessions waits for the last sessions to be saved, then closes the
// session store and the database pool, within ctx and at most
// shutdownTimeout.
func shutdownSessions(ctx context.Context, kit *sessionkit.Kit) error {
	ctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	return kit.Shutdown(ctx)
}

// homePage shows what the session holds. html/template escapes the user name.
var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<title>sessionkit example</title>
{{if .CookieDropped}}<p><strong>This page came over plain HTTP, and the session cookie is Secure: your browser
drops it, so logging in will not stick. Serve HTTPS, or set SESSION_COOKIE_SECURE=false in development.</strong></p>
{{end}}{{if .Session}}<p>Visits in this session: {{.Visits}}.</p>
{{else}}<p>No session yet: log in, or <a href="/put">put a message</a>, to start one.</p>
{{end}}{{if .User}}<p>Logged in as {{.User}}.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}<p>Not logged in.</p>
<form method="post" action="/login"><input name="user" placeholder="name" required> <button>Log in</button></form>
{{end}}`))

// home counts the visits of a session and shows who is logged in. It starts
// no session: a visitor without one (a first visit, a crawler, a health
// check, curl) is shown the page and nothing is written, where a Put here
// would store a row for every such request, kept for SESSION_LIFETIME.
// Sessions start where the visitor does something that needs one: /put and
// /login. A HEAD request asks about the page without visiting it, so it
// does not count.
func home(kit *sessionkit.Kit) http.HandlerFunc {
	sessions := kit.Manager
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		hasSession := sessions.Token(ctx) != "" // a session was loaded from the cookie
		visits := sessions.GetInt(ctx, "visits")
		if hasSession && r.Method == http.MethodGet {
			visits++
			sessions.Put(ctx, "visits", visits)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		homePage.Execute(w, struct {
			CookieDropped bool
			Session       bool
			Visits        int
			User          string
		}{kit.SecureCookieOverHTTP(r), hasSession, visits, sessions.GetString(ctx, "user")})
	}
}

// put and get are the two handlers of scs's README. put starts a session
// if there is none.
func put(sessions *scs.SessionManager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return // a HEAD request changes nothing
		}
		sessions.Put(r.Context(), "message", "Hello from a session!")
	}
}

func get(sessions *scs.SessionManager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessions.GetString(r.Context(), "message"))
	}
}

// login stores the user in the session. A real application checks a
// password or a second factor here.
func login(sessions *scs.SessionManager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimSpace(r.PostFormValue("user"))
		if user == "" {
			http.Error(w, "the form field user is required", http.StatusBadRequest)
			return
		}
		// A new token whenever privileges change: a token that an attacker
		// planted or saw before the login is worth nothing after it.
		if err := sessions.RenewToken(r.Context()); err != nil {
			serverError(w, r, err)
			return
		}
		sessions.Put(r.Context(), "user", user)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// logout deletes the session from the database and the cookie from the
// browser.
func logout(sessions *scs.SessionManager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r.Context()); err != nil {
			serverError(w, r, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// healthz is the readiness probe: 503 takes this replica out of a load
// balancer while it cannot reach the database.
func healthz(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := kit.Ready(ctx); err != nil {
			slog.WarnContext(ctx, "not ready", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

func serverError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "request failed", "path", clipped(r.URL.Path), "err", err,
		"request_id", clipped(middleware.GetReqID(r.Context())))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// logRequests logs one line per request. chi's middleware.Logger writes
// plain text; this writes through slog so that every log line is structured.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", clipped(middleware.GetReqID(r.Context()))),
					slog.String("method", clipped(r.Method)),
					slog.String("path", clipped(r.URL.Path)),
					slog.Int("status", cmp.Or(ww.Status(), http.StatusOK)),
					slog.Int("bytes", ww.BytesWritten()),
					slog.Duration("duration", time.Since(start)))
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// maxLogged bounds what a log line shows of a value the client chooses (the
// path, the method, a request ID): a URL of a megabyte must not make a
// megabyte of log.
const maxLogged = 200

// clipped is s as the log shows it: whole up to maxLogged bytes, else its
// first maxLogged bytes (cut between two UTF-8 characters) and its length.
func clipped(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	cut := maxLogged
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}
