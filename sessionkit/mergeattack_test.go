package sessionkit_test

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"sessionkit.dev/sessionkit"
)

// otherTab is a second browser tab of client's session on srv: a client
// holding the session cookie client holds now, whose own Set-Cookie
// responses do not reach client.
func otherTab(t *testing.T, client *http.Client, from, srv *httptest.Server) *http.Client {
	t.Helper()
	c := cookieOf(t, client, from)
	tab := device(t, srv)
	tab.Jar.SetCookies(mustURL(srv.URL), []*http.Cookie{{Name: c.Name, Value: c.Value}})
	return tab
}

// TestLoginStartsFromTheMergedSession: one tab logs in (Kit.Login) while
// another tab of the session puts a key and saves first. The logged-in
// session holds that key, as a RenewToken's does.
func TestLoginStartsFromTheMergedSession(t *testing.T) {
	t.Parallel()
	p := newPausedRoute()
	servers := mergeServers(t, 1, nil, func(kit *sessionkit.Kit) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{"/login": p.handler(func(w http.ResponseWriter, r *http.Request) {
			if err := kit.Login(r.Context(), "ada"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "done")
		})}
	})
	srv := servers[0]
	client := device(t, srv)
	mustGet(t, client, srv, "/set?k=kept&v=x", "ok")
	tab := otherTab(t, client, srv, srv)
	resp, body := p.endDuring(t, client, srv, "/login", func() {
		mustGet(t, tab, srv, "/set?k=cart&v=book", "ok")
	})
	if resp.StatusCode != http.StatusOK || body != "done" {
		t.Fatalf("/login: %d %q", resp.StatusCode, body)
	}
	if all := sessionValues(t, client, srv); all["cart"] != "book" || all["kept"] != "x" {
		t.Errorf("the logged-in session holds %v; want kept and cart (the other tab's put is lost)", all)
	}
}

// TestUnchangedNaNIsNotWrittenBack: a session holds a float64 NaN (a
// value not equal to itself). A request that reads that key and puts
// another one did not change it, so it must not put it back over the
// value another tab saved meanwhile.
func TestUnchangedNaNIsNotWrittenBack(t *testing.T) {
	t.Parallel()
	p := newPausedRoute()
	servers := mergeServers(t, 1, nil, func(kit *sessionkit.Kit) map[string]http.HandlerFunc {
		m := kit.Manager
		return map[string]http.HandlerFunc{
			"/nan": func(w http.ResponseWriter, r *http.Request) {
				m.Put(r.Context(), "score", math.NaN())
				io.WriteString(w, "ok")
			},
			"/score": func(w http.ResponseWriter, r *http.Request) {
				f, _ := strconv.ParseFloat(r.URL.Query().Get("v"), 64)
				m.Put(r.Context(), "score", f)
				io.WriteString(w, "ok")
			},
			"/read": p.handler(func(w http.ResponseWriter, r *http.Request) {
				m.Put(r.Context(), "seen", "yes")
				io.WriteString(w, strconv.FormatFloat(m.GetFloat(r.Context(), "score"), 'g', -1, 64))
			}),
			"/show": func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, strconv.FormatFloat(m.GetFloat(r.Context(), "score"), 'g', -1, 64))
			},
		}
	})
	srv := servers[0]
	client := device(t, srv)
	mustGet(t, client, srv, "/nan", "ok")
	tab := otherTab(t, client, srv, srv)
	resp, body := p.endDuring(t, client, srv, "/read", func() {
		mustGet(t, tab, srv, "/score?v=1", "ok")
	})
	if resp.StatusCode != http.StatusOK || body != "NaN" {
		t.Fatalf("/read: %d %q", resp.StatusCode, body)
	}
	if _, now := get(t, client, srv, "/show"); now != "1" {
		t.Errorf("score is %s after a request that did not change it; want 1, the other tab's value", now)
	}
}

// TestParallelMergeBatchedHashedEncrypted runs the parallel merge trial
// with every option that changes the write path on at once: batching of
// one statement at a time, encryption, hashed tokens and an idle timeout.
// No request fails, and no change is lost.
func TestParallelMergeBatchedHashedEncrypted(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{
		"SESSION_DB_MAX_INFLIGHT": "1",
		"SESSION_ENCRYPTION_KEYS": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
		"SESSION_HASH_TOKEN":      "true",
		"SESSION_IDLE_TIMEOUT":    "20m",
		// See mergeServers: saves of one session are written in turn.
		"SESSION_DB_QUERY_TIMEOUT": "30s",
	})
	var servers []*httptest.Server
	var logs []*logBuffer
	for range 2 {
		kit, l := startKit(t, environ)
		srv, _ := serve(t, handlerFor(t, kit, "chi", mergeRoutes(kit)))
		servers, logs = append(servers, srv), append(logs, l)
	}
	for _, n := range []int{8, 32} {
		for trial := range 3 {
			mergeTrial(t, servers, n, trial)
		}
	}
	if t.Failed() {
		for i, l := range logs {
			t.Logf("replica %d logged:\n%s", i, l.String())
		}
	}
}
