package sessionkit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"sessionkit.dev/sessionkit"
)

// pausedRoute is a route whose handler has read its session, says so on
// entered and waits for release before it does the rest of its work: a
// request that is running while its session is ended elsewhere.
type pausedRoute struct {
	entered, release chan struct{}
}

func newPausedRoute() *pausedRoute {
	return &pausedRoute{entered: make(chan struct{}), release: make(chan struct{})}
}

func (p *pausedRoute) handler(then func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.entered <- struct{}{}
		<-p.release
		then(w, r)
	}
}

// endDuring sends GET path with c's cookies, ends the session with end once
// the handler has read it, lets the handler go on and returns its response
// (body read and closed) and body.
func (p *pausedRoute) endDuring(t *testing.T, c *http.Client, srv *httptest.Server, path string, end func()) (*http.Response, string) {
	t.Helper()
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{resp, string(body), err}
	}()
	<-p.entered
	end()
	p.release <- struct{}{}
	r := <-done
	if r.err != nil {
		t.Fatalf("GET %s: %v", path, r.err)
	}
	return r.resp, r.body
}

// validSessionCookie reports whether resp sets a session cookie that a
// browser would keep and send: a value, and no expiry in the past.
func validSessionCookie(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.HostCookieName && c.Value != "" && c.MaxAge >= 0 &&
			(c.Expires.IsZero() || c.Expires.After(time.Now())) {
			return true
		}
	}
	return false
}

// whoamiWith is GET /whoami with a copy of a session cookie, sent as a
// thief sends it (whatever the responses set).
func whoamiWith(t *testing.T, srv *httptest.Server, cookie string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: sessionkit.HostCookieName, Value: cookie})
	client := &http.Client{Transport: srv.Client().Transport, Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestEndedSessionStaysEndedOnASecondCommit: a handler that saves its
// session itself (Manager.Commit) and lets the middleware save it again,
// as scs does for a modified session. When the session was revoked while
// the request ran, neither save may bring it back.
func TestEndedSessionStaysEndedOnASecondCommit(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/put-commit"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "thief")
		if _, _, err := kit.Manager.Commit(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	owner, thief := device(t, srv), device(t, srv)
	mustGet(t, owner, srv, "/login?user=ada", "ok")
	mustGet(t, thief, srv, "/login?user=ada", "ok")
	stolen := cookieValue(t, thief, srv, sessionkit.HostCookieName)

	resp, body := p.endDuring(t, thief, srv, "/put-commit", func() {
		mustGet(t, owner, srv, "/revoke-others", "1")
	})
	if resp.StatusCode != http.StatusOK || body != "done" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	if validSessionCookie(resp) {
		t.Errorf("the running request's response sets a session cookie that looks valid")
	}
	if user := whoamiWith(t, srv, stolen); user != "" {
		t.Errorf("the revoked cookie is %q's session again", user)
	}
	if list := listSessions(t, owner, srv); len(list) != 1 {
		t.Errorf("%d sessions listed, want the owner's alone: the revoked one came back", len(list))
	}
}

// TestEndedSessionExpiryOnlyTouch: under an idle timeout, a request that
// changed nothing writes only its session's expiry. When the session was
// revoked while the request ran, that write finds no row: the response
// must not refresh the cookie as if the session went on.
func TestEndedSessionExpiryOnlyTouch(t *testing.T) {
	t.Parallel()
	// An idle timeout of 2s touches every 200ms: a request that runs
	// longer writes the expiry alone.
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{"SESSION_IDLE_TIMEOUT": "2s"}))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/read"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, kit.UserID(r.Context()))
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	owner, phone := device(t, srv), device(t, srv)
	mustGet(t, owner, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")

	before := kit.Stats().TouchesWritten
	resp, body := p.endDuring(t, phone, srv, "/read", func() {
		mustGet(t, owner, srv, "/revoke-others", "1")
	})
	if resp.StatusCode != http.StatusOK || body != "ada" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	if kit.Stats().TouchesWritten == before {
		t.Fatal("the request did not write the expiry alone; the test needs it to")
	}
	if validSessionCookie(resp) {
		t.Errorf("the running request's response sets a session cookie that looks valid")
	}
	mustGet(t, phone, srv, "/whoami", "")
	if list := listSessions(t, owner, srv); len(list) != 1 {
		t.Errorf("%d sessions listed, want the owner's alone", len(list))
	}
}

// TestLoginAfterAnEndedCommit: a handler saves its session (Manager.Commit),
// which finds it revoked meanwhile, and then logs the user in again (Login,
// a new token). The new session is the user's: the response must hand its
// cookie to the browser, not expire it.
func TestLoginAfterAnEndedCommit(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/commit-login"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "before")
		if _, _, err := kit.Manager.Commit(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := kit.Login(r.Context(), "ada"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	owner, phone := device(t, srv), device(t, srv)
	mustGet(t, owner, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")

	resp, body := p.endDuring(t, phone, srv, "/commit-login", func() {
		mustGet(t, owner, srv, "/revoke-others", "1")
	})
	if resp.StatusCode != http.StatusOK || body != "done" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	if !validSessionCookie(resp) {
		t.Errorf("the response of a Login does not set the new session's cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	mustGet(t, phone, srv, "/whoami", "ada")
	if list := listSessions(t, owner, srv); len(list) != 2 {
		t.Errorf("%d sessions listed, want the owner's and the new login's", len(list))
	}
}

// TestRenewTokenOfAnEndedSession: a handler renews its session's token
// (scs's RenewToken, as on a change of privilege, with no Login) while the
// session is revoked. The renewed token carries the revoked session's data,
// its user included: it must not be a logged-in session.
func TestRenewTokenOfAnEndedSession(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/renew"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	owner, thief := device(t, srv), device(t, srv)
	mustGet(t, owner, srv, "/login?user=ada", "ok")
	mustGet(t, thief, srv, "/login?user=ada", "ok")

	resp, body := p.endDuring(t, thief, srv, "/renew", func() {
		mustGet(t, owner, srv, "/revoke-others", "1")
	})
	if resp.StatusCode != http.StatusOK || body != "done" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.HostCookieName && c.Value != "" {
			if user := whoamiWith(t, srv, c.Value); user != "" {
				t.Errorf("the renewed token of the revoked session is %q's session", user)
			}
		}
	}
	if list := listSessions(t, owner, srv); len(list) != 1 {
		t.Errorf("%d sessions listed, want the owner's alone", len(list))
	}
}

// TestRevocationBetweenRenewTokenAndCommit: a handler renews its session's
// token, and the owner revokes the session (on another replica, by each
// means, by ID as listed before the renewal began) after RenewToken
// deleted the old token and before the request saves the new one. The new
// token must not be a session: the renewal is written only while the old
// session is still there. (A logout sent with the old token meanwhile finds
// no session: the session is moving to its new token, which the renewing
// request's client receives.)
func TestRevocationBetweenRenewTokenAndCommit(t *testing.T) {
	t.Parallel()
	a, b, kitA, _ := replicas(t, nil)
	for _, how := range []string{"revoke-others", "revoke-all", "revoke-id"} {
		t.Run(how, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			// A route of its own on kit A's server: RenewToken, then wait.
			renew := kitA.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := kitA.Manager.RenewToken(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				entered <- struct{}{}
				<-release
				kitA.Manager.Put(r.Context(), "message", "after renewal")
				io.WriteString(w, "done")
			}))
			srv, _ := serve(t, renew)
			user := "renew-" + how
			owner, thief := device(t, b), device(t, a)
			mustGet(t, owner, b, "/login?user="+user, "ok")
			mustGet(t, thief, a, "/login?user="+user, "ok")
			stolen := cookieOf(t, thief, a)
			listed := listSessions(t, owner, b)

			done := make(chan *http.Response, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
				req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					done <- nil
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done <- resp
			}()
			<-entered
			switch how {
			case "revoke-others", "revoke-all":
				get(t, owner, b, "/"+how)
			case "revoke-id":
				// The session is under way to its new token: its row has
				// expired, so Revoke may say there is no such session,
				// but it ends the renewal.
				for _, s := range listed {
					if !s.Current {
						get(t, owner, b, "/revoke?id="+s.ID)
					}
				}
			}
			release <- struct{}{}
			resp := <-done
			if resp == nil {
				return
			}
			for _, c := range append(resp.Cookies(), stolen) {
				if c.Name != stolen.Name || c.Value == "" {
					continue
				}
				for _, s := range []*httptest.Server{a, b} {
					if user := whoamiWith(t, s, c.Value); user != "" {
						t.Errorf("after %s, a token of the renewing request is %q's session on a replica", how, user)
					}
				}
			}
		})
	}
}

// cookieOf returns the session cookie c holds for srv.
func cookieOf(t *testing.T, c *http.Client, srv *httptest.Server) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionkit.HostCookieName {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}
