package sessionkit

import (
	"context"
	"net/http"
	"sync"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Middleware loads the session of each request before next runs and saves
// it, setting the cookie, before the response is written: it is the session
// manager's LoadAndSave, counted so that Shutdown can wait for the requests
// still running. It has the shape of a middleware for both routers:
// r.Use(kit.Middleware) in chi, kit.Middleware(mux) for net/http.
//
// A store error ends the request with a plain 500 and a log line (method,
// path and error; never the token). The 500 carries none of the headers
// the handler set (a redirect's Location, its cookies, its Content-Type),
// only those set before the middleware ran. Requests that arrive after
// Shutdown has started get 503.
//
// A response that sets a Secure session cookie on a plain-HTTP request to
// a host other than localhost is logged as a warning, since browsers drop
// that cookie (see SecureCookieOverHTTP), at most once every 10 minutes.
//
// A request whose session was deleted or expired while it ran (revoked,
// logged out in another tab) saves nothing, and its response sends no
// session cookie (see mysql.SessionEnded), so that no request brings an
// ended session back: the client keeps the cookie it has, which is no
// session on its next request, or a newer one that another of its
// requests set meanwhile (a Login in another tab), which it must not lose.
//
// A request that changed nothing in its session writes nothing, or only the
// session's expiry (see touchInterval): under an idle timeout a read costs
// a read, and it cannot overwrite a change a concurrent request of the same
// session saved.
//
// For a session bound to a user (see Login), the store records the
// client's address and User-Agent header, unless SESSION_RECORD_IP or
// SESSION_RECORD_USER_AGENT is false; the address is the connection's
// peer, or what X-Forwarded-For or Forwarded say when the peer is in
// SESSION_TRUSTED_PROXIES.
//
// With SESSION_UPGRADE_PLAIN_TOKENS, a session stored under the plain
// value of the request's cookie (by scs's mysqlstore, or with
// SESSION_HASH_TOKEN=false) is moved to the token's hash on first use, so
// that turning hashing on logs nobody out.
func (k *Kit) Middleware(next http.Handler) http.Handler {
	sessions := k.Manager.LoadAndSave(k.keepAdoptedSession(k.recordSaves(next)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !k.requests.enter() {
			w.Header().Set("Connection", "close")
			http.Error(w, "service shutting down", http.StatusServiceUnavailable)
			return
		}
		defer k.requests.leave()
		g := &guardedWriter{ResponseWriter: w}
		if h := w.Header(); len(h) > 0 {
			g.outer = h.Clone()
		}
		ctx := context.WithValue(r.Context(), servedBy{k}, true)
		r, sawLegacy := k.adoptLegacyCookie(r.WithContext(ctx))
		var req *sessionmysql.Request
		if k.store != nil {
			// The request's record: the store records the client's address
			// and user agent with a session bound to a user, and learns from
			// recordSaves what each save changed, so that a request that
			// changed nothing writes nothing.
			req = k.request(r)
			ctx = context.WithValue(sessionmysql.WithRequest(r.Context(), req), requestRecord{}, req)
			r = r.WithContext(ctx)
		}
		warn := k.cookieWarningDue() && k.SecureCookieOverHTTP(r)
		if warn || sawLegacy || k.store != nil {
			g.beforeSend = func(h http.Header) {
				if k.store != nil {
					// A skipped touch keeps the cookie the client sent, unless
					// it came under the legacy name.
					if sessionmysql.SessionEnded(ctx) || (req.Skipped() && !sawLegacy) {
						k.dropEndedSession(h)
					}
					if err := k.store.FinishRequest(ctx); err != nil {
						// The row has expired: cleanup deletes it.
						k.logger.WarnContext(ctx, "sessionkit: deleting a logged-out session's row", "err", err)
					}
				}
				if sawLegacy {
					k.expireLegacyCookie(h)
				}
				if warn {
					k.warnIfCookieDropped(r, h)
				}
			}
		}
		sessions.ServeHTTP(g, r)
		g.sending() // a handler that wrote nothing: the server sends the header now
	})
}

// dropEndedSession removes the session cookie scs set in h: the request's
// session was deleted or expired while the request ran (revoked, logged
// out in another tab, renewed by a Login in another tab), so the store
// wrote nothing, and the client must not be handed a cookie that looks
// valid. It is not expired either: the client may hold by now a newer
// session's cookie, set by another of its requests.
func (k *Kit) dropEndedSession(h http.Header) {
	name := k.Manager.Cookie.Name
	kept := h.Values("Set-Cookie")[:0:0]
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			continue
		}
		kept = append(kept, line)
	}
	h.Del("Set-Cookie")
	for _, line := range kept {
		h.Add("Set-Cookie", line)
	}
}

// guardedWriter lets the ErrorFunc answer as if the handler had written
// nothing. scs commits the session at the handler's first write and, when
// the commit fails, calls the ErrorFunc and then still passes the handler's
// write on: without the guard, a page that shows data that was never saved
// would follow the 500, and the 500 would carry the handler's headers, such
// as a redirect's Location or a cookie.
type guardedWriter struct {
	http.ResponseWriter
	outer  http.Header // the headers set before the middleware ran, or nil
	failed bool
	// beforeSend, if set, sees the response's header once, just before it
	// is sent.
	beforeSend func(http.Header)
}

// sending calls beforeSend the first time the header is about to be sent.
func (g *guardedWriter) sending() {
	if g.beforeSend != nil && !g.failed {
		g.beforeSend(g.Header())
	}
	g.beforeSend = nil
}

// fail restores the headers to what they were before the middleware ran
// and drops whatever the handler writes from now on.
func (g *guardedWriter) fail() {
	resetHeader(g.Header(), g.outer)
	g.failed = true
}

// resetHeader makes h hold exactly the fields of want.
func resetHeader(h, want http.Header) {
	for name := range h {
		delete(h, name)
	}
	for name, values := range want {
		h[name] = values
	}
}

func (g *guardedWriter) WriteHeader(code int) {
	if !g.failed {
		g.sending()
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *guardedWriter) Write(b []byte) (int, error) {
	if g.failed {
		return len(b), nil
	}
	g.sending()
	return g.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (g *guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// inflight counts the requests inside the middleware and lets Shutdown
// wait for the count to drop to zero.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed whenever n is zero
}

func (f *inflight) init() {
	f.idle = make(chan struct{})
	close(f.idle)
}

// enter counts a request in, or reports false once close has been called.
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	return true
}

func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

// close refuses further requests and returns a channel that is closed once
// the running ones have left.
func (f *inflight) close() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return f.idle
}

func (f *inflight) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}
