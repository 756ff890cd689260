package sessionkit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alexedwards/scs/v2/memstore"

	"sessionkit.dev/sessionkit"
)

// plainRequest is a request that came over plain HTTP from remote, with
// X-Forwarded-Proto set when proto is not empty.
func plainRequest(url, remote, proto string) *http.Request {
	r := httptest.NewRequest("GET", url, nil)
	r.RemoteAddr = remote
	if proto != "" {
		r.Header.Set("X-Forwarded-Proto", proto)
	}
	return r
}

// TestSecureCookieOverHTTP checks which requests get a session cookie that
// a browser drops: Secure, over plain HTTP, to a host other than localhost.
// X-Forwarded-Proto counts only from a trusted proxy.
func TestSecureCookieOverHTTP(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, map[string]string{"SESSION_STORE": "memory", "SESSION_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"})
	insecure, _ := startKit(t, map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SECURE": "false"})
	tls := httptest.NewRequest("GET", "https://app.example.com/", nil)
	for _, tc := range []struct {
		name    string
		kit     *sessionkit.Kit
		r       *http.Request
		dropped bool
	}{
		{"plain HTTP", kit, plainRequest("http://app.example.com/", "198.51.100.1:5000", ""), true},
		{"plain HTTP to an address", kit, plainRequest("http://203.0.113.9:4000/", "198.51.100.1:5000", ""), true},
		{"HTTPS", kit, tls, false},
		{"localhost", kit, plainRequest("http://localhost:4000/", "127.0.0.1:5000", ""), false},
		{"a name under .localhost", kit, plainRequest("http://app.localhost:4000/", "127.0.0.1:5000", ""), false},
		{"loopback address", kit, plainRequest("http://127.0.0.1:4000/", "127.0.0.1:5000", ""), false},
		{"IPv6 loopback", kit, plainRequest("http://[::1]:4000/", "[::1]:5000", ""), false},
		{"trusted proxy says https", kit, plainRequest("http://app.example.com/", "10.1.2.3:5000", "https"), false},
		{"trusted proxy, first of a list", kit, plainRequest("http://app.example.com/", "192.0.2.7:5000", "HTTPS, http"), false},
		{"trusted proxy says http", kit, plainRequest("http://app.example.com/", "10.1.2.3:5000", "http"), true},
		{"untrusted client says https", kit, plainRequest("http://app.example.com/", "198.51.100.1:5000", "https"), true},
		{"IPv4-mapped trusted proxy", kit, plainRequest("http://app.example.com/", "[::ffff:10.1.2.3]:5000", "https"), false},
		{"cookie not Secure", insecure, plainRequest("http://app.example.com/", "198.51.100.1:5000", ""), false},
	} {
		if got := tc.kit.SecureCookieOverHTTP(tc.r); got != tc.dropped {
			t.Errorf("%s: SecureCookieOverHTTP = %v, want %v", tc.name, got, tc.dropped)
		}
	}
}

// TestSecureCookieOverHTTPIsLoggedOnce checks the warning: it comes with
// the first response that sets the session cookie on such a request, names
// the host and an X-Forwarded-Proto that was ignored but not the client's
// address, and comes once in a short while.
func TestSecureCookieOverHTTPIsLoggedOnce(t *testing.T) {
	t.Parallel()
	kit, logs := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	h := kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/put":
			kit.Manager.Put(r.Context(), "message", "hello")
		case "/put-and-write":
			kit.Manager.Put(r.Context(), "message", "hello")
			io.WriteString(w, "ok")
		}
	}))
	serve := func(r *http.Request) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", r.URL, w.Code)
		}
	}
	const warning = "a Secure session cookie was set on a plain-HTTP request"

	serve(plainRequest("http://localhost:4000/put", "127.0.0.1:5000", ""))
	serve(httptest.NewRequest("GET", "https://app.example.com/put", nil))
	serve(plainRequest("http://app.example.com/get", "198.51.100.1:5000", "")) // sets no cookie
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("a warning without cause:\n%s", logs)
	}

	serve(plainRequest("http://app.example.com/put", "198.51.100.1:5000", "https"))
	out := logs.String()
	if strings.Count(out, warning) != 1 || !strings.Contains(out, "level=WARN") ||
		!strings.Contains(out, "host=app.example.com") || !strings.Contains(out, "x_forwarded_proto=https") ||
		!strings.Contains(out, "SESSION_TRUSTED_PROXIES") || !strings.Contains(out, "SESSION_COOKIE_SECURE=false") {
		t.Fatalf("want one warning naming the host, the ignored header and the fixes:\n%s", out)
	}
	if strings.Contains(out, "198.51.100.1") {
		t.Errorf("the warning logs the client's address:\n%s", out)
	}
	serve(plainRequest("http://app.example.com/put-and-write", "198.51.100.1:5000", ""))
	serve(plainRequest("http://other.example.com/put", "198.51.100.1:5000", ""))
	if n := strings.Count(logs.String(), warning); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}

// TestSecureCookieWarningWhenTheHandlerWrites checks the warning for a
// handler that writes its response, the header then being sent by its
// first write.
func TestSecureCookieWarningWhenTheHandlerWrites(t *testing.T) {
	t.Parallel()
	kit, logs := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	h := kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "hello")
		io.WriteString(w, "ok")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, plainRequest("http://app.example.com/", "198.51.100.1:5000", ""))
	if w.Body.String() != "ok" || !strings.Contains(w.Header().Get("Set-Cookie"), "Secure") {
		t.Fatalf("response %q %v", w.Body, w.Header())
	}
	if !strings.Contains(logs.String(), "a Secure session cookie was set on a plain-HTTP request") {
		t.Errorf("no warning:\n%s", logs)
	}
}

// TestSecureCookieWarningComesBack checks that one request cannot use the
// warning up: within 10 minutes of a warning there is no other, after them
// the next response that sets the cookie over plain HTTP is logged again.
// The test runs in a synctest bubble, whose clock moves only when the test
// sleeps.
func TestSecureCookieWarningComesBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		kit, logs := startKit(t, map[string]string{"SESSION_STORE": "memory"})
		t.Cleanup(func() {
			// scs's memstore cleanup goroutine must end inside the bubble;
			// Wait makes sure that it has started.
			synctest.Wait()
			kit.Manager.Store.(*memstore.MemStore).StopCleanup()
		})
		h := kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kit.Manager.Put(r.Context(), "message", "hello")
		}))
		const warning = "a Secure session cookie was set on a plain-HTTP request"
		warnings := func(when string, want int) {
			t.Helper()
			// A new client each time, from another address: no cookie.
			r := plainRequest("http://app.example.com/put", "198.51.100.7:5000", "")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || w.Header().Get("Set-Cookie") == "" {
				t.Fatalf("%s: status %d, Set-Cookie %q", when, w.Code, w.Header().Get("Set-Cookie"))
			}
			if n := strings.Count(logs.String(), warning); n != want {
				t.Fatalf("%s: %d warnings, want %d:\n%s", when, n, want, logs)
			}
		}

		warnings("first request", 1)
		time.Sleep(9*time.Minute + 59*time.Second)
		warnings("after 9m59s", 1)
		time.Sleep(time.Second)
		warnings("after 10m", 2)
		warnings("right after", 2)
		time.Sleep(time.Hour)
		warnings("an hour later", 3)
	})
}
