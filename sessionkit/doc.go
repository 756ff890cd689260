// Package sessionkit turns a few SESSION_* environment variables into a
// ready scs session manager backed by MySQL or MariaDB, with one middleware
// for chi and net/http and a graceful shutdown.
//
//	kit, err := sessionkit.FromEnv(ctx) // SESSION_MYSQL_DSN=app:pw@tcp(db:3306)/app
//	if err != nil {
//		log.Fatal(err)
//	}
//	r := chi.NewRouter()
//	r.Use(kit.Middleware) // net/http: handler := kit.Middleware(mux)
//	r.Get("/put", func(w http.ResponseWriter, r *http.Request) {
//		kit.Manager.Put(r.Context(), "message", "Hello from a session!")
//	})
//
// # Configuration
//
// LoadConfig reads the variables below (the README has the same table, and a
// test keeps the two in step). An unset or empty variable takes its
// default. Durations use Go syntax (90m, 24h), booleans are true, false, 1
// or 0. Zero and negative values follow one rule, written down once in
// docs/kit.md under "Configuration rules": 0 turns a setting off, what
// cannot be off must be positive, and a negative value is an error. Every bad
// variable is reported, with its value, in one error; a DSN's password is
// never shown.
//
//	SESSION_MYSQL_DSN             required unless SESSION_STORE=memory: go-sql-driver DSN
//	SESSION_STORE                 mysql | memory (development only)
//	SESSION_TABLE                 sessions; name or db.name
//	SESSION_CREATE_TABLE          false; create the recommended table if missing
//	SESSION_LIFETIME              24h; absolute lifetime
//	SESSION_IDLE_TIMEOUT          0 (off); at most SESSION_LIFETIME
//	SESSION_CLEANUP_INTERVAL      5m; how often expired sessions are deleted
//	SESSION_CLEANUP_BATCH         1000 rows per cleanup statement
//	SESSION_HASH_TOKEN            true; store the SHA-256 of the token
//	SESSION_UPGRADE_PLAIN_TOKENS  false; move sessions stored under plain tokens to their hashes on first use (on a marked table)
//	SESSION_ENCRYPTION_KEYS       empty; base64 keys of 32 bytes, comma-separated: the first encrypts, all decrypt
//	SESSION_REQUIRE_ENCRYPTION    false; refuse stored sessions that are not encrypted (needs keys)
//	SESSION_COOKIE_NAME           __Host-session (session without Secure, or with a Path or Domain)
//	SESSION_COOKIE_LEGACY_NAME    empty: none; the cookie name before an upgrade (session), adopted and expired: set it for the upgrade window only
//	SESSION_COOKIE_DOMAIN         empty: the host that set it
//	SESSION_COOKIE_PATH           /
//	SESSION_COOKIE_SECURE         true
//	SESSION_COOKIE_HTTP_ONLY      true
//	SESSION_COOKIE_SAME_SITE      lax | strict | none (needs Secure) | default (no attribute)
//	SESSION_COOKIE_PERSIST        true; false makes a browser-session cookie
//	SESSION_COOKIE_PARTITIONED    false; CHIPS, needs Secure
//	SESSION_DB_MAX_OPEN_CONNS     25 open connections at most
//	SESSION_DB_MAX_IDLE_CONNS     25 idle connections kept
//	SESSION_DB_CONN_MAX_LIFETIME  5m; how long a connection is reused
//	SESSION_DB_QUERY_TIMEOUT      5s; upper bound on each store query
//	SESSION_DB_MAX_INFLIGHT       4 session reads, and 4 writes, as statements at once; more are batched
//	SESSION_TRUSTED_PROXIES       empty; CIDRs or addresses whose X-Forwarded-Proto, -For and Forwarded are believed
//	SESSION_RECORD_IP             true; record the client's address with a user's session
//	SESSION_RECORD_USER_AGENT     true; record the User-Agent header (255 bytes at most) with a user's session
//
// # The database
//
// New opens its own pool and makes parseTime=true, loc=UTC and the session
// time zone '+00:00' hold on it whatever the DSN leaves out; a DSN that sets
// them otherwise is refused, since the store keeps expiry in UTC. It pings
// the database and checks the table before returning, so a service that
// cannot reach its sessions fails at start-up rather than on its first
// request. NewWithDB takes a pool the caller owns instead.
//
// A database that is not up yet is waited for: New retries the first
// connection with a growing delay until ctx ends, logging each attempt, and
// then returns the last attempt's error; a wrong password or an unknown
// database fails at once.
//
// What the driver logs about the pool's connections (go-sql-driver/mysql
// writes plain "[mysql] ... packets.go:58 unexpected EOF" lines on stderr
// by default) goes through cfg.Logger, as a warning "mysql driver" with the
// attributes driver_source and err. That is set on New's pool alone; a
// pool of your own keeps the driver's default logger, which is global to
// the process: mysql.SetLogger(sessionkit.DriverLogger(logger)) changes it
// for every DSN parsed afterwards.
//
// A database that goes away later makes session requests fail with a plain
// 500 (the error is logged with the request's method and path, never the
// token); they succeed again once it is back. Each store query is bounded by
// SESSION_DB_QUERY_TIMEOUT, and so, on the server, is each lock wait
// (innodb_lock_wait_timeout). Kit.Ready pings it for a readiness probe.
//
// # Sessions of a user
//
// Kit.Login binds the request's session to a user, with a new token. The
// user's sessions can then be listed with the device (user agent), address
// and time each was last seen, and ended from any replica: one
// (Kit.Revoke, only the user's own), all but the current one
// (Kit.RevokeOthers), or all (Kit.RevokeAll, after a password change; it
// needs no request). Kit.UserID says who is logged in.
//
//	if err := kit.Login(r.Context(), user.ID); err != nil { ... } // after checking the password
//	sessions, err := kit.Sessions(r.Context(), kit.UserID(r.Context()))
//	n, err := kit.RevokeOthers(r.Context())                       // "log out everywhere else"
//
// A revoked session has no data on its next request to any replica. A
// request of that session already running on another replica when it was
// revoked, and that then saves changed data, writes the session back; one
// that changed nothing cannot. "Log out everywhere" in docs/users.md says more.
//
// The table needs the user columns, which CreateTable (SESSION_CREATE_TABLE)
// makes. On a table made by scs's mysqlstore or an earlier version New logs
// the ALTER TABLE that adds them, sessions work as before, and these calls
// return an error matching ErrNoUsers that holds the statement; run it, then
// restart the service. With the memory store the calls work on the
// process's sessions, without times, addresses or user agents.
//
// # Shutdown
//
// On SIGTERM, first stop the HTTP server, then the kit, within one time
// budget: docker stop waits 10s before it kills the process.
//
//	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
//	defer cancel()
//	srv.Shutdown(ctx) // stop accepting; wait for handlers to return
//	kit.Shutdown(ctx) // wait for sessions to be saved; close the store and the pool
//
// The other order would close the pool while the server still takes
// requests, which Kit.Middleware then answers with 503.
//
// # Statistics
//
// Kit.Stats returns the store's counters, and Kit.Vars the same as a map
// for expvar or a log line:
//
//	expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
//
// Kit.InFlight counts the requests inside the middleware. The module
// sessionkit.dev/prometheus exports all of them as Prometheus metrics; it
// is a module of its own, so that this one does not depend on the
// Prometheus client.
package sessionkit
