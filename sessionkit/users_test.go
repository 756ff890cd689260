package sessionkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// userRoutes are sessionRoutes plus the sessions of a user, as a service
// would offer them: /login?user= logs in with kit.Login, /sessions lists
// the user's sessions as JSON, /revoke?id= ends one, /revoke-others all
// others, /revoke-all all of them.
func userRoutes(kit *sessionkit.Kit) map[string]http.HandlerFunc {
	routes := sessionRoutes(kit)
	fail := func(w http.ResponseWriter, err error) {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, sessionkit.ErrNoSession):
			code = http.StatusNotFound
		case errors.Is(err, sessionkit.ErrNotLoggedIn):
			code = http.StatusUnauthorized
		}
		http.Error(w, err.Error(), code)
	}
	maps.Copy(routes, map[string]http.HandlerFunc{
		"/login": func(w http.ResponseWriter, r *http.Request) {
			if err := kit.Login(r.Context(), r.URL.Query().Get("user")); err != nil {
				fail(w, err)
				return
			}
			io.WriteString(w, "ok")
		},
		"/whoami": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, kit.UserID(r.Context()))
		},
		"/sessions": func(w http.ResponseWriter, r *http.Request) {
			list, err := kit.Sessions(r.Context(), kit.UserID(r.Context()))
			if err != nil {
				fail(w, err)
				return
			}
			json.NewEncoder(w).Encode(list)
		},
		"/revoke": func(w http.ResponseWriter, r *http.Request) {
			if err := kit.Revoke(r.Context(), kit.UserID(r.Context()), r.URL.Query().Get("id")); err != nil {
				fail(w, err)
				return
			}
			io.WriteString(w, "ok")
		},
		"/revoke-others": func(w http.ResponseWriter, r *http.Request) {
			n, err := kit.RevokeOthers(r.Context())
			if err != nil {
				fail(w, err)
				return
			}
			fmt.Fprint(w, n)
		},
		"/revoke-all": func(w http.ResponseWriter, r *http.Request) {
			n, err := kit.RevokeAll(r.Context(), kit.UserID(r.Context()))
			if err != nil {
				fail(w, err)
				return
			}
			kit.Manager.Put(r.Context(), "message", "after the revoke") // must not bring the session back
			fmt.Fprint(w, n)
		},
	})
	return routes
}

// device is a browser: a client with a cookie jar of its own, for the test
// servers (which share httptest's certificate).
func device(t *testing.T, srv *httptest.Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: srv.Client().Transport, Jar: jar, Timeout: 20 * time.Second}
	return c
}

// replicas starts two kits on one database, each behind its own HTTPS
// server (a chi one and a ServeMux one), as two replicas of one service.
func replicas(t *testing.T, extra map[string]string) (a, b *httptest.Server, kitA, kitB *sessionkit.Kit) {
	t.Helper()
	environ := mysqlEnv(t, extra)
	kitA, _ = startKit(t, environ)
	kitB, _ = startKit(t, environ)
	a, _ = serve(t, handlerFor(t, kitA, "chi", userRoutes(kitA)))
	b, _ = serve(t, handlerFor(t, kitB, "servemux", userRoutes(kitB)))
	return a, b, kitA, kitB
}

// listSessions is GET /sessions, decoded.
func listSessions(t *testing.T, c *http.Client, srv *httptest.Server) []sessionkit.Session {
	t.Helper()
	resp, body := get(t, c, srv, "/sessions")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sessions: %d %s", resp.StatusCode, body)
	}
	var list []sessionkit.Session
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /sessions: %v: %s", err, body)
	}
	return list
}

// currentID is the ID of the session c has on srv.
func currentID(t *testing.T, c *http.Client, srv *httptest.Server) string {
	t.Helper()
	for _, s := range listSessions(t, c, srv) {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no session in the list is the current one")
	return ""
}

// TestRevokeAcrossReplicas logs devices in through two replicas and ends
// their sessions through the other one: each revoked session has no data on
// its next request, other users' sessions and the current one stay.
func TestRevokeAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b, _, kitB := replicas(t, nil)
	laptop, phone, tablet, bob := device(t, a), device(t, a), device(t, a), device(t, a)

	mustGet(t, laptop, a, "/login?user=ada", "ok")
	mustGet(t, phone, b, "/login?user=ada", "ok")
	mustGet(t, phone, b, "/put?v=phone+data", "ok")
	mustGet(t, bob, a, "/login?user=bob", "ok")

	list := listSessions(t, laptop, b)
	if len(list) != 2 {
		t.Fatalf("ada has %d sessions, want 2: %+v", len(list), list)
	}
	current := 0
	for _, s := range list {
		if s.Current {
			current++
		}
		if s.Created.IsZero() || s.LastSeen.IsZero() || s.IP != "127.0.0.1" || !strings.HasPrefix(s.UserAgent, "Go-http-client") {
			t.Errorf("session without its metadata: %+v", s)
		}
	}
	if current != 1 {
		t.Errorf("%d sessions are marked current, want 1: %+v", current, list)
	}
	phoneID, bobID := currentID(t, phone, a), currentID(t, bob, b)

	// Another user's session: nothing happens, and the answer says so.
	resp, body := get(t, laptop, a, "/revoke?id="+url.QueryEscape(bobID))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no such session") {
		t.Errorf("revoking bob's session as ada: %d %q, want 404 no such session", resp.StatusCode, body)
	}
	mustGet(t, bob, b, "/whoami", "bob")

	// One session, through the replica the phone did not use last.
	mustGet(t, laptop, a, "/revoke?id="+url.QueryEscape(phoneID), "ok")
	mustGet(t, phone, b, "/get", "")
	mustGet(t, phone, a, "/whoami", "")
	mustGet(t, laptop, b, "/whoami", "ada")

	// Everywhere else.
	mustGet(t, phone, b, "/login?user=ada", "ok")
	mustGet(t, tablet, a, "/login?user=ada", "ok")
	mustGet(t, laptop, b, "/revoke-others", "2")
	mustGet(t, phone, a, "/whoami", "")
	mustGet(t, tablet, b, "/whoami", "")
	mustGet(t, laptop, a, "/whoami", "ada")
	mustGet(t, bob, a, "/whoami", "bob")
	if list := listSessions(t, laptop, a); len(list) != 1 || !list[0].Current {
		t.Errorf("after revoke-others ada has %+v, want the current session only", list)
	}

	// Everywhere, with no request: a password change, say.
	n, err := kitB.RevokeAll(context.Background(), "ada")
	if err != nil || n != 1 {
		t.Fatalf("RevokeAll(ada) = %d, %v; want 1", n, err)
	}
	mustGet(t, laptop, a, "/whoami", "")
	mustGet(t, bob, b, "/whoami", "bob")
}

// TestLoginRenewsTheToken checks that Login gives the session a new token,
// keeps its values, and that the cookie from before no longer works.
func TestLoginRenewsTheToken(t *testing.T) {
	t.Parallel()
	a, b, _, _ := replicas(t, nil)
	browser := device(t, a)
	mustGet(t, browser, a, "/put?v=cart", "ok")
	before := cookieValue(t, browser, a, sessionkit.HostCookieName)
	mustGet(t, browser, a, "/login?user=ada", "ok")
	after := cookieValue(t, browser, a, sessionkit.HostCookieName)
	if before == "" || after == "" || after == before {
		t.Fatalf("cookie before login %q, after %q: want a new token", before, after)
	}
	mustGet(t, browser, b, "/get", "cart")
	mustGet(t, browser, b, "/whoami", "ada")

	// An attacker who planted or saw the cookie from before gets nothing.
	attacker := device(t, a)
	u, _ := url.Parse(a.URL)
	attacker.Jar.SetCookies(u, []*http.Cookie{{Name: sessionkit.HostCookieName, Value: before}})
	mustGet(t, attacker, b, "/whoami", "")
	mustGet(t, attacker, a, "/get", "")
}

// TestRevokeOwnSessionLogsOut revokes the request's own session and
// everything of its user from a request: the response expires the cookie,
// and what the handler put afterwards is not saved.
func TestRevokeOwnSessionLogsOut(t *testing.T) {
	t.Parallel()
	a, b, _, _ := replicas(t, nil)
	browser, other := device(t, a), device(t, b)
	mustGet(t, browser, a, "/login?user=ada", "ok")
	resp := mustGet(t, browser, b, "/revoke?id="+url.QueryEscape(currentID(t, browser, a)), "ok")
	if !expiresCookie(resp) {
		t.Errorf("revoking the current session did not expire its cookie: %v", resp.Header["Set-Cookie"])
	}
	mustGet(t, browser, a, "/whoami", "")

	mustGet(t, browser, a, "/login?user=ada", "ok")
	mustGet(t, other, b, "/login?user=ada", "ok")
	old := cookieValue(t, browser, a, sessionkit.HostCookieName)
	// The handler puts a value after RevokeAll: that makes a new, anonymous
	// session, and does not bring the old one back.
	mustGet(t, browser, b, "/revoke-all", "2")
	if now := cookieValue(t, browser, a, sessionkit.HostCookieName); now == "" || now == old {
		t.Errorf("RevokeAll in the user's own request left its cookie %q (was %q)", now, old)
	}
	mustGet(t, browser, a, "/whoami", "")
	mustGet(t, browser, a, "/get", "after the revoke")
	reuse := device(t, a)
	u, _ := url.Parse(a.URL)
	reuse.Jar.SetCookies(u, []*http.Cookie{{Name: sessionkit.HostCookieName, Value: old}})
	mustGet(t, reuse, a, "/whoami", "")
	mustGet(t, reuse, a, "/get", "")
	mustGet(t, other, a, "/whoami", "")
}

func expiresCookie(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.HostCookieName && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestUserCallsNeedARequestAndAUser checks the errors that say what is
// wrong with a call.
func TestUserCallsNeedARequestAndAUser(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"mysql", "memory"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			environ := map[string]string{"SESSION_STORE": "memory"}
			if store == "mysql" {
				environ = mysqlEnv(t, nil)
			}
			kit, _ := startKit(t, environ)
			ctx := context.Background()
			if err := kit.Login(ctx, "ada"); !errors.Is(err, sessionkit.ErrNoRequest) {
				t.Errorf("Login without a request = %v, want ErrNoRequest", err)
			}
			if _, err := kit.RevokeOthers(ctx); !errors.Is(err, sessionkit.ErrNoRequest) {
				t.Errorf("RevokeOthers without a request = %v, want ErrNoRequest", err)
			}
			if id := kit.UserID(ctx); id != "" {
				t.Errorf("UserID without a request = %q", id)
			}
			for _, bad := range []string{"", strings.Repeat("x", 256), "ada ", "\xff"} {
				if _, err := kit.Sessions(ctx, bad); !errors.Is(err, sessionmysql.ErrUserID) {
					t.Errorf("Sessions(%q) = %v; want the store's ErrUserID", bad, err)
				}
				if _, err := kit.RevokeAll(ctx, bad); !errors.Is(err, sessionmysql.ErrUserID) {
					t.Errorf("RevokeAll(%q) = %v; want the store's ErrUserID", bad, err)
				}
			}
			if list, err := kit.Sessions(ctx, "nobody"); err != nil || len(list) != 0 {
				t.Errorf("Sessions(nobody) = %v, %v", list, err)
			}
			if err := kit.Revoke(ctx, "nobody", "no-such-id"); !errors.Is(err, sessionkit.ErrNoSession) {
				t.Errorf("Revoke of an unknown ID = %v, want ErrNoSession", err)
			}

			srv, client := serve(t, kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var err error
				switch r.URL.Path {
				case "/others":
					_, err = kit.RevokeOthers(r.Context())
				case "/login":
					err = kit.Login(r.Context(), r.URL.Query().Get("user"))
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
				}
			})))
			if resp, body := get(t, client, srv, "/others"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not logged in") {
				t.Errorf("RevokeOthers when not logged in: %d %q", resp.StatusCode, body)
			}
			if resp, body := get(t, client, srv, "/login?user="+strings.Repeat("x", 256)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "want 1 to 255 bytes") {
				t.Errorf("Login with a 256-byte user ID: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestUserSessionsWithTheMemoryStore checks that the calls work on the
// memory store too, without times, addresses or user agents.
func TestUserSessionsWithTheMemoryStore(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	srv, _ := serve(t, handlerFor(t, kit, "servemux", userRoutes(kit)))
	laptop, phone, bob := device(t, srv), device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")
	mustGet(t, bob, srv, "/login?user=bob", "ok")
	list := listSessions(t, laptop, srv)
	if len(list) != 2 || (list[0].Current == list[1].Current) || list[0].IP != "" || !list[0].LastSeen.IsZero() {
		t.Fatalf("ada's sessions: %+v; want two, one current, without metadata", list)
	}
	if resp, _ := get(t, laptop, srv, "/revoke?id="+url.QueryEscape(currentID(t, bob, srv))); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoking bob's session as ada: %d, want 404", resp.StatusCode)
	}
	mustGet(t, laptop, srv, "/revoke-others", "1")
	mustGet(t, phone, srv, "/whoami", "")
	mustGet(t, laptop, srv, "/whoami", "ada")
	mustGet(t, bob, srv, "/whoami", "bob")
	if n, err := kit.RevokeAll(context.Background(), "bob"); err != nil || n != 1 {
		t.Errorf("RevokeAll(bob) = %d, %v", n, err)
	}
	mustGet(t, bob, srv, "/whoami", "")
}

// TestSessionsIgnoresRowsOfMysqlstore writes sessions with scs's
// mysqlstore beside the kit's, as replicas of the old version do in a
// rolling deploy: rows without the user columns set are not listed, and
// listing and revoking go on.
func TestSessionsIgnoresRowsOfMysqlstore(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	srv, _ := serve(t, handlerFor(t, kit, "chi", userRoutes(kit)))
	laptop, phone := device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")

	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	old := mysqlstore.NewWithCleanupInterval(db, 0)
	expiry := time.Now().Add(24 * time.Hour)
	for token, values := range map[string]map[string]any{
		"Oldoldoldoldoldoldoldoldoldoldoldoldoldold1": {sessionmysql.UserKey: "ada", "n": 1},
		"Oldoldoldoldoldoldoldoldoldoldoldoldoldold2": {"cart": 3},
	} {
		data, err := scs.GobCodec{}.Encode(expiry, values)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Commit(token, data, expiry); err != nil {
			t.Fatal(err)
		}
	}
	if list := listSessions(t, laptop, srv); len(list) != 2 {
		t.Fatalf("ada's sessions beside mysqlstore's rows: %+v; want the laptop's and the phone's", list)
	}
	mustGet(t, laptop, srv, "/revoke-others", "1")
	mustGet(t, phone, srv, "/whoami", "")
	if list := listSessions(t, laptop, srv); len(list) != 1 || !list[0].Current {
		t.Errorf("after revoke-others: %+v; want the laptop's", list)
	}
}

// TestUserCallsOnThePreviousTable starts on the table of the previous
// version: sessions work, the log shows the ALTER TABLE once, the user
// calls fail with it, and after the ALTER and a restart they work.
func TestUserCallsOnThePreviousTable(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.DSN(t)
	db := mysqltest.Open(t, dsn)
	if _, err := db.Exec("CREATE TABLE sessions (token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY, " +
		"data MEDIUMBLOB NOT NULL, expiry DATETIME(6) NOT NULL, INDEX sessions_expiry_idx (expiry))"); err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"SESSION_MYSQL_DSN": dsn, "SESSION_DB_QUERY_TIMEOUT": "2s"}
	kit, logs := startKit(t, environ)
	if n := strings.Count(logs.String(), "ADD COLUMN user_id"); n != 1 {
		t.Errorf("the start-up log shows the ALTER TABLE %d times, want once:\n%s", n, logs)
	}
	srv, client := serve(t, handlerFor(t, kit, "servemux", userRoutes(kit)))
	mustGet(t, client, srv, "/put?v=still+works", "ok")
	mustGet(t, client, srv, "/get", "still works")
	resp, body := get(t, client, srv, "/login?user=ada")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "ALTER TABLE `sessions`") || !strings.Contains(body, "restart") {
		t.Errorf("Login on the previous table: %d %q; want the ALTER TABLE to run", resp.StatusCode, body)
	}
	mustGet(t, client, srv, "/whoami", "")

	ctx := context.Background()
	_, err := kit.Sessions(ctx, "ada")
	var missing *sessionmysql.UsersMissingError
	if !errors.Is(err, sessionkit.ErrNoUsers) || !errors.As(err, &missing) {
		t.Fatalf("Sessions on the previous table = %v; want ErrNoUsers", err)
	}
	if _, err := kit.RevokeAll(ctx, "ada"); !errors.Is(err, sessionkit.ErrNoUsers) {
		t.Errorf("RevokeAll = %v; want ErrNoUsers", err)
	}
	if err := kit.Revoke(ctx, "ada", "x"); !errors.Is(err, sessionkit.ErrNoUsers) {
		t.Errorf("Revoke = %v; want ErrNoUsers", err)
	}

	if _, err := db.Exec(missing.AlterStatement); err != nil {
		t.Fatalf("the ALTER TABLE in the error: %v", err)
	}
	if err := kit.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	restarted, logs := startKit(t, environ)
	if strings.Contains(logs.String(), "ADD COLUMN") {
		t.Errorf("after the ALTER the log still asks for it:\n%s", logs)
	}
	srv, client = serve(t, handlerFor(t, restarted, "chi", userRoutes(restarted)))
	mustGet(t, client, srv, "/put?v=kept", "ok")
	mustGet(t, client, srv, "/login?user=ada", "ok")
	mustGet(t, client, srv, "/get", "kept")
	if list := listSessions(t, client, srv); len(list) != 1 || !list[0].Current {
		t.Errorf("sessions after the ALTER: %+v", list)
	}
}

// TestKitAndStoreShareTheUserIDRule: Login refuses an ID that ends in a
// space with the store's ErrUserID, and a session whose mysql.UserKey value
// a handler put by hand breaks the rule is bound to no user in the kit
// (UserID) as in the store (no row of that user), instead of the kit and
// the store each going by a rule of its own.
func TestKitAndStoreShareTheUserIDRule(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	routes := userRoutes(kit)
	routes["/bind-by-hand"] = func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), sessionmysql.UserKey, r.URL.Query().Get("user"))
		io.WriteString(w, "ok")
	}
	srv, _ := serve(t, handlerFor(t, kit, "servemux", routes))
	c := device(t, srv)
	if resp, body := get(t, c, srv, "/login?user="+url.QueryEscape("ada ")); resp.StatusCode == http.StatusOK ||
		!strings.Contains(body, sessionmysql.ErrUserID.Error()) {
		t.Errorf("Login(%q): %d %q; want the store's ErrUserID", "ada ", resp.StatusCode, body)
	}
	mustGet(t, c, srv, "/bind-by-hand?user="+url.QueryEscape("ada "), "ok")
	mustGet(t, c, srv, "/whoami", "")
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	var bound int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL").Scan(&bound); err != nil || bound != 0 {
		t.Errorf("%d rows bound to a user (%v); want none", bound, err)
	}
}
