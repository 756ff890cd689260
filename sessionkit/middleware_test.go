package sessionkit_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// TestFailedCommitAnswersOnlyTheError makes the commit fail at the
// handler's first write (session data too large for the BLOB column of the
// scs README table): the response is the ErrorFunc's 500 alone, without the
// page the handler wrote after it.
func TestFailedCommitAnswersOnlyTheError(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_CREATE_TABLE": "false"})
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	for _, q := range []string{
		"CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	kit, logs := startKit(t, environ)
	routes := map[string]http.HandlerFunc{
		"/big": func(w http.ResponseWriter, r *http.Request) {
			kit.Manager.Put(r.Context(), "big", strings.Repeat("x", 70000))
			io.WriteString(w, "saved a big session")
		},
	}
	for _, router := range []string{"chi", "servemux"} {
		srv, client := serve(t, handlerFor(t, kit, router, routes))
		resp, body := get(t, client, srv, "/big")
		if resp.StatusCode != http.StatusInternalServerError || body != "Internal Server Error\n" {
			t.Errorf("%s: %d %q; want the ErrorFunc's 500 alone", router, resp.StatusCode, body)
		}
	}
	if !strings.Contains(logs.String(), "too large") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
}

// TestFailedCommitDropsTheHandlersHeaders makes the commit of a redirect
// fail (the table is dropped under the running kit): the 500 carries
// neither the handler's Location, nor its cookies, nor its other headers,
// but keeps those set before the middleware ran.
func TestFailedCommitDropsTheHandlersHeaders(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	if _, err := db.Exec("DROP TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	routes := map[string]http.HandlerFunc{
		"/login": func(w http.ResponseWriter, r *http.Request) {
			kit.Manager.Put(r.Context(), "user", "alice")
			http.SetCookie(w, &http.Cookie{Name: "flash", Value: "welcome"})
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Header().Set("X-Handler", "set")
			w.Header().Set("X-Outer", "changed by the handler")
			http.Redirect(w, r, "/account", http.StatusSeeOther)
		},
	}
	for _, router := range []string{"chi", "servemux"} {
		outer := handlerFor(t, kit, router, routes)
		srv, client := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Outer", "kept")
			outer.ServeHTTP(w, r)
		}))
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, body := get(t, client, srv, "/login")
		if resp.StatusCode != http.StatusInternalServerError || body != "Internal Server Error\n" {
			t.Errorf("%s: %d %q; want the ErrorFunc's 500 alone", router, resp.StatusCode, body)
		}
		for _, name := range []string{"Location", "Set-Cookie", "Cache-Control", "X-Handler"} {
			if v := resp.Header.Values(name); len(v) > 0 {
				t.Errorf("%s: the 500 carries the handler's %s: %q", router, name, v)
			}
		}
		if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want the error's text/plain", router, got)
		}
		if got := resp.Header.Get("X-Outer"); got != "kept" {
			t.Errorf("%s: X-Outer %q, want the outer middleware's \"kept\"", router, got)
		}
	}
}

// TestErrorLogBoundsThePath sends a request with a path of 100 kB whose
// session cannot be saved: the error's log line shows the start of the
// path and its length, not all of it.
func TestErrorLogBoundsThePath(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, logs := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	if _, err := db.Exec("DROP TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	srv, client := serve(t, kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "k", "v")
		io.WriteString(w, "ok")
	})))
	path := "/" + strings.Repeat("a", 100_000)
	if resp, _ := get(t, client, srv, path); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "session error") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no session error logged:\n%.2000s", logs)
	}
	if len(line) > 1000 || !strings.Contains(line, "/aaaa") || !strings.Contains(line, "(100001 bytes)") {
		t.Errorf("log line of %d bytes; want under 1000 with the path's start and length:\n%.2000s", len(line), line)
	}
}
