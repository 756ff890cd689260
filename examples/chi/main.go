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
// Routes, each page with links to the others. Pages only read the session;
// what a user does is a POST, refused when it comes from another site's page:
//
//	GET  /            visit counter, who is logged in, and the form to log in or out;
//	                  counts only the visits of a session that exists, so visitors
//	                  without one write nothing; HEAD / shows the page and counts nothing
//	GET  /put         says what POST /put does, with its button
//	POST /put         puts "Hello from a session!" into the session, starting one,
//	                  and says so
//	GET  /get         shows the message the session holds
//	POST /login       form field user: logs in with kit.Login (a new session token,
//	                  bound to the user)
//	POST /logout      destroys the session
//	GET  /sessions    your sessions: each browser logged in as you, with its user
//	                  agent, IP address and when it was last seen, this one marked
//	POST /sessions/revoke         form field id: logs that session out
//	POST /sessions/revoke-others  logs out every session of the user but this one
//	GET  /healthz     200 when the database answers, 503 when it does not
//	GET  /debug/vars  with DEBUG_VARS=true only: expvar's JSON, with the session
//	                  store's counters ("sessionkit", from kit.Vars) and the
//	                  number of goroutines ("goroutines"); keep it off the
//	                  public internet
//
// There is no /metrics: sessionkit's Prometheus collector is the module
// sessionkit.dev/prometheus, kept apart so that the main go.mod carries no
// Prometheus client, and this server is in the main module. Its Example,
// and the README's "Prometheus metrics" section, serve /metrics next to
// /debug/vars behind DEBUG_VARS, in the few lines to add to your copy.
//
// Logs are JSON lines on stderr; a path is logged up to its first 200 bytes.
// SIGINT or SIGTERM stops the server gracefully within 9s: in-flight requests
// finish, then the sessions are shut down.
package main

import (
	"bytes"
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
	"slices"
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
	// chi answers HEAD only where a route says so; GetHead answers it with
	// the GET route elsewhere, as net/http's ServeMux does.
	r.Use(middleware.GetHead)

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

		// Your routes go here. A page (GET) only reads the session; what a
		// user does (put, log in, log out, end a session) is a POST, which
		// the line above refuses from other sites' pages.
		r.Get("/", countVisits(sessions, home(kit)))
		r.Head("/", home(kit)) // asks about the page without visiting it: counts nothing
		r.Get("/put", putForm(kit))
		r.Post("/put", put(kit))
		r.Get("/get", get(kit))
		r.Post("/login", login(kit))
		r.Post("/logout", logout(sessions))
		r.Get("/sessions", sessionsPage(kit))
		r.Post("/sessions/revoke", revoke(kit))
		r.Post("/sessions/revoke-others", revokeOthers(kit))
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

// pages are the example's HTML pages. Each starts with "top": the title,
// links between the pages, and a warning when the browser drops the session
// cookie. html/template escapes what visitors typed, such as a user name.
var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"device": device,
	"ago":    ago,
}).Parse(`
{{define "top"}}<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · sessionkit example</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
nav { display: flex; gap: 1.25rem; padding-bottom: .5rem; border-bottom: 1px solid #ddd; }
.warning { background: #fff4ce; border: 1px solid #e4c45a; padding: .5rem .75rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th, td + td { white-space: nowrap; }
button { font: inherit; padding: .2rem .8rem; }
.agent { color: #666; font-size: .8rem; overflow-wrap: anywhere; }
.this { color: #1a7f37; font-weight: 600; }
</style>
<nav><a href="/">Home</a><a href="/put">Put a message</a><a href="/get">Read it back</a>{{if .User}}<a href="/sessions">Your sessions</a>{{end}}</nav>
{{if .CookieDropped}}<p class="warning"><strong>This page came over plain HTTP, and the session cookie is Secure: your browser
drops it, so logging in will not stick. Serve HTTPS, or set SESSION_COOKIE_SECURE=false in development.</strong></p>
{{end}}<h1>{{.Title}}</h1>
{{end}}

{{define "home"}}{{template "top" .}}
<p>This server keeps its sessions in MySQL with sessionkit: every replica of it shares them, and they survive restarts.</p>
{{with .Data}}{{if .Session}}
<p>Visits in this session: {{.Visits}}. Each time this page is loaded, the count goes up by one and the session is saved.</p>
{{else}}
<p>No session yet: log in, or <a href="/put">put a message</a>, to start one. Until then this page stores nothing and sets no cookie.</p>
{{end}}{{end}}{{if .User}}
<p>Logged in as {{.User}}.</p>
<p><a href="/sessions">Your sessions</a> lists every browser logged in as {{.User}}, and logs any of them out.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}
<p>Not logged in.</p>
<form method="post" action="/login"><label>Name <input name="user" required maxlength="100" autocomplete="username"></label> <button>Log in</button></form>
<p>Any name logs in here; a real application checks a password. Log in with the same name in a second browser, and both show up on your sessions page.</p>
{{end}}{{end}}

{{define "put"}}{{template "top" .}}{{with .Data}}{{if .Stored}}
<p>Stored <q>{{.Message}}</q> in your session, under the key <code>message</code>.</p>
<p><a href="/get">Read it back</a>, from this server or any other replica: the session is in the database.</p>
{{else}}
<p>This puts <q>{{.Message}}</q> into your session, under the key <code>message</code>, and starts a session if you have none.</p>
<form method="post" action="/put"><button>Put the message</button></form>
<p>It takes a button: pages change a session only on POST, and a POST from another site's page is refused, so a link cannot do it for you.</p>
{{end}}{{end}}{{end}}

{{define "get"}}{{template "top" .}}{{with .Data}}
<p>Your session holds the message <strong id="message">{{.}}</strong></p>
{{else}}
<p>Your session holds no message. <a href="/put">Put one</a>.</p>
{{end}}{{end}}

{{define "sessions"}}{{template "top" .}}{{if not .User}}
<p>Not logged in. <a href="/">Log in</a> to see the browsers where you are logged in.</p>
{{else}}{{with .Data}}
<p>These are the browsers logged in as {{$.User}}. Log out any you do not recognise: it loses its session on its next request, whichever server that reaches.</p>
<table>
<thead><tr><th>Device</th><th>IP address</th><th>Logged in</th><th>Last seen</th><th></th></tr></thead>
<tbody>{{range .Sessions}}
<tr>
<td>{{device .UserAgent}}<div class="agent">{{.UserAgent}}</div></td>
<td>{{or .IP "not recorded"}}</td>
<td>{{ago .Created}}</td>
<td>{{if .Current}}now{{else}}{{ago .LastSeen}}{{end}}</td>
<td>{{if .Current}}<span class="this">This device</span>{{else}}<form method="post" action="/sessions/revoke"><input type="hidden" name="id" value="{{.ID}}"><button>Log out</button></form>{{end}}</td>
</tr>{{end}}
</tbody>
</table>
{{if .Others}}<form method="post" action="/sessions/revoke-others"><button>Log out everywhere else</button></form>
<p>Ends every session of yours but this one, after a lost phone or a changed password.</p>
{{else}}<p>This is your only session. Log in as {{$.User}} in another browser, and it shows up here.</p>
{{end}}{{end}}{{end}}{{end}}
`))

// view is what a page template gets: what every page shows, and the page's
// own data.
type view struct {
	Title         string
	User          string // the logged-in user, or ""
	CookieDropped bool   // the browser drops the session cookie (see SecureCookieOverHTTP)
	Data          any
}

// render writes a page. It renders the whole page before sending any of
// it, so that a template error is a plain 500.
func render(w http.ResponseWriter, r *http.Request, kit *sessionkit.Kit, page string, v view) {
	v.User = kit.UserID(r.Context())
	v.CookieDropped = kit.SecureCookieOverHTTP(r)
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, page, v); err != nil {
		serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

// countVisits counts one more visit of the session, then lets next show the
// page. It starts no session: a visitor without one (a first visit, a
// crawler, a health check, curl) is shown the page and nothing is written,
// where a Put here would store a row for every such request, kept for
// SESSION_LIFETIME. Sessions start where the visitor does something that
// needs one: putting a message, logging in.
func countVisits(sessions *scs.SessionManager, next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if sessions.Token(ctx) != "" { // a session was loaded from the cookie
			sessions.Put(ctx, "visits", sessions.GetInt(ctx, "visits")+1)
		}
		next.ServeHTTP(w, r)
	}
}

// home shows the visit count, who is logged in, and the form to log in or
// out. It only reads the session: GET / counts the visit first (countVisits),
// HEAD / does not.
func home(kit *sessionkit.Kit) http.HandlerFunc {
	sessions := kit.Manager
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		render(w, r, kit, "home", view{Title: "Home", Data: struct {
			Session bool
			Visits  int
		}{sessions.Token(ctx) != "", sessions.GetInt(ctx, "visits")}})
	}
}

// message is what /put stores, as in scs's README.
const message = "Hello from a session!"

// putForm explains /put and shows its button. It changes nothing: a link,
// a crawler, or another site that sends a browser here (with its cookie, as
// SameSite=Lax allows for a top-level GET) writes nothing.
func putForm(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		render(w, r, kit, "put", view{Title: "Put a message", Data: struct {
			Message string
			Stored  bool
		}{message, false}})
	}
}

// put is the put handler of scs's README, on POST: it stores the message,
// starting a session if there is none, and says what it stored.
func put(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", message)
		render(w, r, kit, "put", view{Title: "Message stored", Data: struct {
			Message string
			Stored  bool
		}{message, true}})
	}
}

// get shows the message the session holds, as the get handler of scs's
// README does.
func get(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		render(w, r, kit, "get", view{Title: "Read it back", Data: kit.Manager.GetString(r.Context(), "message")})
	}
}

// maxUserName bounds the name the login form takes.
const maxUserName = 100

// login logs the user in. kit.Login gives the session a new token (one that
// an attacker planted or saw before the login is worth nothing after it)
// and binds it to the user, so that /sessions can list and end it. A real
// application checks a password or a second factor first.
func login(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimSpace(r.PostFormValue("user"))
		if user == "" || len(user) > maxUserName || !utf8.ValidString(user) {
			http.Error(w, fmt.Sprintf("the form field user is required: a name of at most %d bytes of UTF-8", maxUserName),
				http.StatusBadRequest)
			return
		}
		if err := kit.Login(r.Context(), user); err != nil {
			serverError(w, r, err)
			return
		}
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

// sessionsPage lists the sessions of the logged-in user, one per browser,
// this one first, each other one with a button that logs it out.
func sessionsPage(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v := view{Title: "Your sessions"}
		user := kit.UserID(ctx)
		if user == "" {
			render(w, r, kit, "sessions", v)
			return
		}
		list, err := kit.Sessions(ctx, user)
		if err != nil {
			serverError(w, r, err)
			return
		}
		// This device first, then the others, most recently seen first.
		slices.SortStableFunc(list, func(a, b sessionkit.Session) int {
			switch {
			case a.Current == b.Current:
				return 0
			case a.Current:
				return -1
			}
			return 1
		})
		others := 0
		for _, s := range list {
			if !s.Current {
				others++
			}
		}
		v.Data = struct {
			Sessions []sessionkit.Session
			Others   int
		}{list, others}
		render(w, r, kit, "sessions", v)
	}
}

// revoke logs out one of the user's other sessions: that browser has no
// session on its next request, whichever replica it reaches. An ID that is
// not one of the user's sessions (another user's, or one that has ended)
// changes nothing.
func revoke(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if user := kit.UserID(ctx); user != "" {
			err := kit.Revoke(ctx, user, r.PostFormValue("id"))
			if err != nil && !errors.Is(err, sessionkit.ErrNoSession) {
				serverError(w, r, err)
				return
			}
		}
		http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	}
}

// revokeOthers logs out every session of the user but this one: "log out
// everywhere else", after a lost phone or a password change.
func revokeOthers(kit *sessionkit.Kit) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if kit.UserID(ctx) != "" {
			n, err := kit.RevokeOthers(ctx)
			if err != nil {
				serverError(w, r, err)
				return
			}
			slog.InfoContext(ctx, "logged out the user's other sessions", "sessions", n)
		}
		http.Redirect(w, r, "/sessions", http.StatusSeeOther)
	}
}

// device names the browser and system a User-Agent header claims, such as
// "Firefox on Linux", for people to recognise their devices by; the page
// shows the header itself too.
func device(userAgent string) string {
	var browser, system string
	for _, b := range [][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}} {
		if strings.Contains(userAgent, b[0]) {
			browser = b[1]
			break
		}
	}
	for _, s := range [][2]string{{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}} {
		if strings.Contains(userAgent, s[0]) {
			system = s[1]
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "" || system != "":
		return browser + system
	}
	return "Unknown device"
}

// ago says roughly how long ago t was, for people: "3 minutes ago".
func ago(t time.Time) string {
	d := time.Since(t)
	count := func(n time.Duration, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case t.IsZero():
		return "unknown"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return count(d/time.Minute, "minute")
	case d < 48*time.Hour:
		return count(d/time.Hour, "hour")
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
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
