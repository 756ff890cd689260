package sessionkit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"sessionkit.dev/sessionkit"
)

// mergeRoutes put, remove and list a session's keys.
func mergeRoutes(kit *sessionkit.Kit) map[string]http.HandlerFunc {
	m := kit.Manager
	return map[string]http.HandlerFunc{
		"/set": func(w http.ResponseWriter, r *http.Request) {
			m.Put(r.Context(), r.URL.Query().Get("k"), r.URL.Query().Get("v"))
			io.WriteString(w, "ok")
		},
		"/del": func(w http.ResponseWriter, r *http.Request) {
			m.Remove(r.Context(), r.URL.Query().Get("k"))
			io.WriteString(w, "ok")
		},
		"/all": func(w http.ResponseWriter, r *http.Request) {
			all := map[string]string{}
			for _, k := range m.Keys(r.Context()) {
				all[k] = m.GetString(r.Context(), k)
			}
			json.NewEncoder(w).Encode(all)
		},
	}
}

// mergeServers starts n kits on one database (n replicas), each serving
// mergeRoutes plus extra, with env on top of the defaults.
func mergeServers(t *testing.T, n int, env map[string]string, extra func(*sessionkit.Kit) map[string]http.HandlerFunc) []*httptest.Server {
	t.Helper()
	// Saves of one session are written one after the other, each merged
	// with the one before it (three round trips when another request
	// saved first): 66 of them at once take longer than the tests' usual
	// 2s bound on a loaded machine under the race detector.
	environ := mysqlEnv(t, map[string]string{"SESSION_DB_QUERY_TIMEOUT": "30s"})
	maps.Copy(environ, env)
	var servers []*httptest.Server
	for range n {
		kit, _ := startKit(t, environ)
		routes := mergeRoutes(kit)
		if extra != nil {
			for path, h := range extra(kit) {
				routes[path] = h
			}
		}
		srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
		servers = append(servers, srv)
	}
	return servers
}

// sessionValues lists the session of client's cookie.
func sessionValues(t *testing.T, client *http.Client, srv *httptest.Server) map[string]string {
	t.Helper()
	_, body := get(t, client, srv, "/all")
	var all map[string]string
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatalf("/all: %q: %v", body, err)
	}
	return all
}

// TestParallelRequestsMergeTheirChanges sends, at once, N requests of one
// session that each put a key of their own, N that each remove a key of
// their own, and two that put the same key with different values, spread
// over one or two replicas. Afterwards the session holds every key put,
// none of those removed, one of the two values of the shared key, and the
// key nobody touched.
func TestParallelRequestsMergeTheirChanges(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 2} {
		for name, env := range map[string]map[string]string{
			"defaults":  nil,
			"idle":      {"SESSION_IDLE_TIMEOUT": "20m"},
			"encrypted": {"SESSION_ENCRYPTION_KEYS": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "SESSION_HASH_TOKEN": "false"},
		} {
			t.Run(fmt.Sprintf("replicas=%d/%s", replicas, name), func(t *testing.T) {
				t.Parallel()
				servers := mergeServers(t, replicas, env, nil)
				for _, n := range []int{2, 8, 32} {
					for trial := range 2 {
						mergeTrial(t, servers, n, trial)
					}
				}
			})
		}
	}
}

func mergeTrial(t *testing.T, servers []*httptest.Server, n, trial int) {
	t.Helper()
	client := device(t, servers[0])
	mustGet(t, client, servers[0], "/set?k=kept&v=x", "ok")
	for i := range n {
		mustGet(t, client, servers[i%len(servers)], fmt.Sprintf("/set?k=r%d&v=x", i), "ok")
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	send := func(i int, path string) {
		defer wg.Done()
		<-start
		srv := servers[i%len(servers)]
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for _, c := range client.Jar.Cookies(mustURL(srv.URL)) {
			req.AddCookie(c)
		}
		// The same cookie, no jar: no request's Set-Cookie reaches the
		// others.
		resp, err := (&http.Client{Transport: client.Transport}).Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	for i := range n {
		wg.Add(2)
		go send(i, fmt.Sprintf("/set?k=p%d&v=%d", i, i))
		go send(i+1, fmt.Sprintf("/del?k=r%d", i))
	}
	wg.Add(2)
	go send(0, "/set?k=same&v=a")
	go send(1, "/set?k=same&v=b")
	close(start)
	wg.Wait()

	all := sessionValues(t, client, servers[0])
	lost := 0
	for i := range n {
		if all[fmt.Sprintf("p%d", i)] != fmt.Sprint(i) {
			lost++
		}
		if _, ok := all[fmt.Sprintf("r%d", i)]; ok {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("N=%d, trial %d: %d of %d changes lost: %v", n, trial, lost, 2*n, all)
	}
	if v := all["same"]; v != "a" && v != "b" {
		t.Errorf("N=%d: the key both requests put holds %q, want a or b", n, v)
	}
	if all["kept"] != "x" {
		t.Errorf("N=%d: the key no request changed holds %q, want x", n, all["kept"])
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestRenewalStartsFromTheMergedSession: a request renews its session's
// token (RenewToken, as on a change of privilege) and puts a key, while
// another request of the session puts another key and saves first. The
// renewed session holds both, and the old token is no session.
func TestRenewalStartsFromTheMergedSession(t *testing.T) {
	t.Parallel()
	p := newPausedRoute()
	servers := mergeServers(t, 2, nil, func(kit *sessionkit.Kit) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{"/renew": p.handler(func(w http.ResponseWriter, r *http.Request) {
			if err := kit.Manager.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			kit.Manager.Put(r.Context(), "renewer", "here")
			io.WriteString(w, "done")
		})}
	})
	a, b := servers[0], servers[1]
	client := device(t, a)
	mustGet(t, client, a, "/set?k=kept&v=x", "ok")
	old := cookieOf(t, client, a)
	other := device(t, b)
	other.Jar.SetCookies(mustURL(b.URL), []*http.Cookie{{Name: old.Name, Value: old.Value}})

	resp, body := p.endDuring(t, client, a, "/renew", func() {
		mustGet(t, other, b, "/set?k=other&v=y", "ok")
	})
	if resp.StatusCode != http.StatusOK || body != "done" {
		t.Fatalf("/renew: %d %q", resp.StatusCode, body)
	}
	if now := cookieOf(t, client, a); now.Value == old.Value {
		t.Fatal("the token was not renewed")
	}
	all := sessionValues(t, client, b)
	if all["kept"] != "x" || all["other"] != "y" || all["renewer"] != "here" {
		t.Errorf("the renewed session holds %v; want kept, other and renewer", all)
	}
	if all := sessionValues(t, other, a); len(all) != 0 {
		t.Errorf("the old token is a session still: %v", all)
	}
}
