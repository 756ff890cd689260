package sessionkit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// logBuffer collects a kit's log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mysqlEnv is the environment of a kit on a fresh database that creates its
// table, with extra variables on top.
func mysqlEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	environ := map[string]string{
		"SESSION_MYSQL_DSN":        mysqltest.DSN(t),
		"SESSION_CREATE_TABLE":     "true",
		"SESSION_DB_QUERY_TIMEOUT": "2s",
	}
	maps.Copy(environ, extra)
	return environ
}

// startKit makes a kit from environ that logs into the returned buffer and
// is shut down when t ends.
func startKit(t *testing.T, environ map[string]string) (*sessionkit.Kit, *logBuffer) {
	t.Helper()
	cfg, err := sessionkit.LoadConfigFrom(environ)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kit, err := sessionkit.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A test of Shutdown's deadline leaves its error behind.
		if err := kit.Shutdown(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return kit, logs
}

// sessionRoutes are the handlers the HTTP tests use, as in scs's README.
func sessionRoutes(kit *sessionkit.Kit) map[string]http.HandlerFunc {
	m := kit.Manager
	return map[string]http.HandlerFunc{
		"/put": func(w http.ResponseWriter, r *http.Request) {
			v := r.URL.Query().Get("v")
			if v == "" {
				v = "hello"
			}
			m.Put(r.Context(), "message", v)
			io.WriteString(w, "ok")
		},
		"/get": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, m.GetString(r.Context(), "message"))
		},
		"/login": func(w http.ResponseWriter, r *http.Request) {
			if err := m.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			m.Put(r.Context(), "user", r.URL.Query().Get("user"))
			io.WriteString(w, "ok")
		},
		"/whoami": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, m.GetString(r.Context(), "user"))
		},
		"/logout": func(w http.ResponseWriter, r *http.Request) {
			if err := m.Destroy(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		},
	}
}

// handlerFor mounts routes behind kit.Middleware on a chi router or on an
// http.ServeMux.
func handlerFor(t *testing.T, kit *sessionkit.Kit, router string, routes map[string]http.HandlerFunc) http.Handler {
	t.Helper()
	switch router {
	case "chi":
		r := chi.NewRouter()
		r.Use(kit.Middleware)
		for path, h := range routes {
			r.HandleFunc(path, h)
		}
		return r
	case "servemux":
		mux := http.NewServeMux()
		for path, h := range routes {
			mux.HandleFunc(path, h)
		}
		return kit.Middleware(mux)
	}
	t.Fatalf("unknown router %q", router)
	return nil
}

// serve starts an HTTPS test server (the session cookie is Secure by
// default) and returns a client with a cookie jar.
func serve(t *testing.T, h http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.Jar = jar
	client.Timeout = 20 * time.Second
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}

// get fetches path and returns the response (body read and closed) and the
// body.
func get(t *testing.T, client *http.Client, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, string(body)
}

// mustGet is get that fails the test unless the status is 200 and the body
// is want.
func mustGet(t *testing.T, client *http.Client, srv *httptest.Server, path, want string) *http.Response {
	t.Helper()
	resp, body := get(t, client, srv, path)
	if resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, body, want)
	}
	return resp
}

// cookieValue is the value of the named cookie the jar holds for srv.
func cookieValue(t *testing.T, client *http.Client, srv *httptest.Server, name string) string {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	for _, c := range client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func storedTokens(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT token FROM sessions ORDER BY token")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tokens []string
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tokens
}
