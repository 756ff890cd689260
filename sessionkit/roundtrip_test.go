package sessionkit_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestRoundTrip drives a session through real HTTP under both routers:
// put, get, renew the token on login, destroy on logout.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, router := range []string{"chi", "servemux"} {
		t.Run(router, func(t *testing.T) {
			t.Parallel()
			environ := mysqlEnv(t, nil)
			kit, _ := startKit(t, environ)
			srv, client := serve(t, handlerFor(t, kit, router, sessionRoutes(kit)))
			db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])

			mustGet(t, client, srv, "/get", "")
			if tokens := storedTokens(t, db); len(tokens) != 0 {
				t.Fatalf("an untouched session was stored: %v", tokens)
			}
			mustGet(t, client, srv, "/put?v=hello", "ok")
			first := cookieValue(t, client, srv, sessionkit.HostCookieName)
			if first == "" {
				t.Fatal("no session cookie after put")
			}
			mustGet(t, client, srv, "/get", "hello")
			if tokens := storedTokens(t, db); !slices.Equal(tokens, []string{hashToken(first)}) {
				t.Fatalf("stored tokens %v, want the hash of the cookie", tokens)
			}

			mustGet(t, client, srv, "/login?user=alice", "ok")
			renewed := cookieValue(t, client, srv, sessionkit.HostCookieName)
			if renewed == "" || renewed == first {
				t.Fatalf("RenewToken kept the cookie value %q", renewed)
			}
			mustGet(t, client, srv, "/whoami", "alice")
			mustGet(t, client, srv, "/get", "hello") // the data moves to the new token
			if tokens := storedTokens(t, db); !slices.Equal(tokens, []string{hashToken(renewed)}) {
				t.Fatalf("after renew, stored tokens %v, want only the new one", tokens)
			}

			// The old token no longer loads anything.
			req, _ := http.NewRequest("GET", srv.URL+"/whoami", nil)
			req.AddCookie(&http.Cookie{Name: sessionkit.HostCookieName, Value: first})
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ContentLength != 0 {
				t.Fatalf("old token: %d with %d bytes, want 200 and nothing", resp.StatusCode, resp.ContentLength)
			}

			resp = mustGet(t, client, srv, "/logout", "ok")
			c := sessionCookie(t, resp, sessionkit.HostCookieName)
			if c.MaxAge >= 0 || c.Value != "" || !c.Expires.Before(time.Unix(2, 0)) {
				t.Errorf("logout cookie %q does not expire the session", c.Raw)
			}
			if tokens := storedTokens(t, db); len(tokens) != 0 {
				t.Errorf("after logout, stored tokens %v, want none", tokens)
			}
			mustGet(t, client, srv, "/whoami", "")
		})
	}
}

// sessionCookie returns the Set-Cookie of the named cookie in resp.
func sessionCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie for %s in %v", name, resp.Header["Set-Cookie"])
	return nil
}

// TestIdleTimeout checks that each request extends an idle session, and
// that a session left alone longer than the idle timeout is gone. The
// cookies are not persistent, so the jars keep sending them and the server
// alone decides.
//
// A busy session and a lone one run side by side, so the test takes little
// more than one idle timeout while each request has about half of it to
// spare: a slow request (-race on a busy machine) cannot make a session look
// extended or expired when it is not.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 4 * time.Second
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{
		"SESSION_IDLE_TIMEOUT": idle.String(), "SESSION_LIFETIME": "1m", "SESSION_COOKIE_PERSIST": "false",
	}))
	handler := handlerFor(t, kit, "servemux", sessionRoutes(kit))
	aloneSrv, alone := serve(t, handler)
	busySrv, busy := serve(t, handler)

	mustGet(t, alone, aloneSrv, "/put", "ok")
	left := time.Now() // the lone session expires by left + idle
	mustGet(t, busy, busySrv, "/put", "ok")
	put := time.Now() // and the busy one by put + idle, unless extended
	time.Sleep(idle / 2)
	mustGet(t, busy, busySrv, "/get", "hello") // extends it to after put + 1.5 idle
	time.Sleep(time.Until(put.Add(idle + 100*time.Millisecond)))
	mustGet(t, busy, busySrv, "/get", "hello") // past put + idle: the last request extended it
	time.Sleep(time.Until(left.Add(idle + 100*time.Millisecond)))
	mustGet(t, alone, aloneSrv, "/get", "")
}

// TestLifetime checks that a session ends at its absolute lifetime however
// busy it is.
func TestLifetime(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{
		"SESSION_LIFETIME": "1500ms", "SESSION_COOKIE_PERSIST": "false",
	}))
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put", "ok")
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Until(deadline) > 300*time.Millisecond {
		mustGet(t, client, srv, "/get", "hello")
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Until(deadline) + 200*time.Millisecond)
	mustGet(t, client, srv, "/get", "")
}

// TestHashToken checks what the table holds: the SHA-256 of the cookie
// value with SESSION_HASH_TOKEN=true, the cookie value itself with false.
func TestHashToken(t *testing.T) {
	t.Parallel()
	for _, hash := range []bool{true, false} {
		name := map[bool]string{true: "true", false: "false"}[hash]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			environ := mysqlEnv(t, map[string]string{"SESSION_HASH_TOKEN": name})
			kit, _ := startKit(t, environ)
			srv, client := serve(t, handlerFor(t, kit, "servemux", sessionRoutes(kit)))
			mustGet(t, client, srv, "/put", "ok")
			cookie := cookieValue(t, client, srv, sessionkit.HostCookieName)
			tokens := storedTokens(t, mysqltest.Open(t, environ["SESSION_MYSQL_DSN"]))
			if len(tokens) != 1 {
				t.Fatalf("stored tokens %v, want one", tokens)
			}
			if hash && (tokens[0] == cookie || tokens[0] != hashToken(cookie)) {
				t.Errorf("stored %q for cookie %q, want its SHA-256", tokens[0], cookie)
			}
			if !hash && tokens[0] != cookie {
				t.Errorf("stored %q for cookie %q, want the same", tokens[0], cookie)
			}
			mustGet(t, client, srv, "/get", "hello")
		})
	}
}

// TestMemoryStore checks the development store: sessions work with no
// database, and the kit warns once that they are not durable.
func TestMemoryStore(t *testing.T) {
	t.Parallel()
	kit, logs := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put", "ok")
	mustGet(t, client, srv, "/get", "hello")
	mustGet(t, client, srv, "/get", "hello")
	if err := kit.Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if n := strings.Count(logs.String(), "SESSION_STORE=memory"); n != 1 {
		t.Errorf("memory store warning logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("memory store warning is not a warning:\n%s", logs)
	}
}
