package sessionkit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Requests that renew, log out, log in and revoke, alone or next to another
// tab's request, when nobody revoked the session they keep: each must
// leave the browser as the handler meant, whatever the store does to keep
// revoked sessions ended.

// userRows counts the table's rows bound to user, expired ones too.
func userRows(t *testing.T, db *sql.DB, user string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE user_id = ?", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkGet is get that reports, without stopping the test, a status other
// than 200 or a body other than want.
func checkGet(t *testing.T, c *http.Client, srv *httptest.Server, path, want, what string) {
	t.Helper()
	resp, body := get(t, c, srv, path)
	if resp.StatusCode != http.StatusOK || body != want {
		t.Errorf("%s: GET %s: %d %q, want 200 %q", what, path, resp.StatusCode, body, want)
	}
}

// TestRenewTokenThenRevokeOthersKeepsThisSession: a password change as
// OWASP describes it renews the session's token (Manager.RenewToken) and
// logs the user out everywhere else (RevokeOthers), in one request. The
// device that changed the password must stay logged in, and the count must
// be the other device's session.
func TestRenewTokenThenRevokeOthersKeepsThisSession(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	routes["/change-password"] = func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, err := kit.RevokeOthers(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	laptop, phone := device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")

	checkGet(t, laptop, srv, "/change-password", "1", "the password change")
	checkGet(t, laptop, srv, "/whoami", "ada", "the device that changed the password")
	checkGet(t, phone, srv, "/whoami", "", "the other device")
}

// TestDoubleSubmittedRenewTokenLogin: a login form submitted twice (a
// double click) sends two requests with the same cookie; each handler logs
// the user in as scs's README does it (RenewToken, then Put) or with
// Kit.Login. The second request's RenewToken runs after the first one's and
// before the first one saves. Nobody revoked anything: the browser must
// end up logged in.
func TestDoubleSubmittedRenewTokenLogin(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"RenewToken", "Kit.Login"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			kit, _ := startKit(t, mysqlEnv(t, nil))
			routes := userRoutes(kit)
			firstRenewed, firstGoOn := make(chan struct{}), make(chan struct{})
			secondFound := make(chan struct{})
			login := func(ctx context.Context) error {
				if how == "Kit.Login" {
					return kit.Login(ctx, "ada")
				}
				if err := kit.Manager.RenewToken(ctx); err != nil {
					return err
				}
				kit.Manager.Put(ctx, sessionmysql.UserKey, "ada")
				return nil
			}
			routes["/submit"] = func(w http.ResponseWriter, r *http.Request) {
				first := r.URL.Query().Get("n") == "1"
				if first {
					<-secondFound // both requests have loaded the session
				} else {
					close(secondFound)
					<-firstRenewed
				}
				if err := login(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				if first {
					close(firstRenewed)
					<-firstGoOn
				}
				io.WriteString(w, "ok")
			}
			srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
			browser := device(t, srv)
			mustGet(t, browser, srv, "/put?v=cart", "ok") // an anonymous session

			done := make(chan string, 2)
			go func() {
				_, body := get(t, browser, srv, "/submit?n=1")
				done <- body
			}()
			go func() {
				_, body := get(t, browser, srv, "/submit?n=2")
				done <- body
			}()
			<-secondFound
			// The second request saves first, then the first one.
			if body := <-done; body != "ok" {
				t.Fatalf("the second submit: %q", body)
			}
			close(firstGoOn)
			if body := <-done; body != "ok" {
				t.Fatalf("the first submit: %q", body)
			}
			checkGet(t, browser, srv, "/whoami", "ada", "after a double-submitted login")
		})
	}
}

// TestReadOnlyRequestDuringLoginInAnotherTab: under an idle timeout every
// request saves its session, and a request that changed nothing is
// coalesced to no write at all. When such a request, sent with the old
// cookie, ends after a Login in another tab of the same browser, its
// response must not hand the browser the old cookie back: nobody revoked
// anything, and the browser must stay logged in.
func TestReadOnlyRequestDuringLoginInAnotherTab(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{"SESSION_IDLE_TIMEOUT": "20m"}))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/read"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, kit.UserID(r.Context()))
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	browser := device(t, srv)
	mustGet(t, browser, srv, "/login?user=ada", "ok")

	old := cookieValue(t, browser, srv, sessionkit.HostCookieName)
	resp, body := p.endDuring(t, browser, srv, "/read", func() {
		mustGet(t, browser, srv, "/login?user=ada", "ok") // the other tab
	})
	if resp.StatusCode != http.StatusOK || body != "ada" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionkit.HostCookieName && c.Value == old && validSessionCookie(resp) {
			t.Errorf("the read's response sets the cookie of the session the login replaced")
		}
	}
	checkGet(t, browser, srv, "/whoami", "ada", "after the other tab's login")
}

// TestRenewalSurvivesCleanup: a handler renews its session's token (scs's
// RenewToken, as on a change of privilege) and, before the request saves,
// the cleanup of another replica (or sessionkit cleanup) deletes expired
// rows. Nobody revoked the session: the renewed one must be saved.
func TestRenewalSurvivesCleanup(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	cfg := sessionmysql.DefaultConfig()
	cfg.CleanupInterval = 0
	other, err := sessionmysql.NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	routes := userRoutes(kit)
	for _, how := range []string{"renew", "logout-with-message"} {
		routes["/"+how] = func(w http.ResponseWriter, r *http.Request) {
			var err error
			if how == "renew" {
				err = kit.Manager.RenewToken(r.Context())
			} else {
				err = kit.Manager.Destroy(r.Context())
				kit.Manager.Put(r.Context(), "message", "logged out")
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			// Another replica's cleanup pass runs now.
			if _, err := other.DeleteExpired(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		}
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))

	t.Run("renew", func(t *testing.T) {
		browser := device(t, srv)
		mustGet(t, browser, srv, "/login?user=ada", "ok")
		mustGet(t, browser, srv, "/renew", "ok")
		checkGet(t, browser, srv, "/whoami", "ada", "after a renewal during a cleanup")
	})
	t.Run("logout-with-message", func(t *testing.T) {
		browser := device(t, srv)
		mustGet(t, browser, srv, "/login?user=bob", "ok")
		mustGet(t, browser, srv, "/logout-with-message", "ok")
		checkGet(t, browser, srv, "/get", "logged out", "the message put after a logout, during a cleanup")
		checkGet(t, browser, srv, "/whoami", "", "after the logout")
	})
}

// TestRevokeOthersCountsASessionEndedDuringItsRenewal: the phone's request
// renews its token (RenewToken, not a login) while the laptop logs out
// everywhere else. The phone's session ends (its renewal is not saved), so
// the answer must count it: "1 ended", not "0 ended".
func TestRevokeOthersCountsASessionEndedDuringItsRenewal(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	entered, release := make(chan struct{}), make(chan struct{})
	routes["/renew"] = func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		entered <- struct{}{}
		<-release
		io.WriteString(w, "ok")
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	laptop, phone := device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")

	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, phone, srv, "/renew")
	}()
	<-entered
	_, count := get(t, laptop, srv, "/revoke-others")
	release <- struct{}{}
	<-done
	if user := strings.TrimSpace(func() string { _, b := get(t, phone, srv, "/whoami"); return b }()); user != "" {
		t.Fatalf("the phone is still %q's session; the test needs it ended", user)
	}
	if count != "1" {
		t.Errorf("RevokeOthers ended the phone's session and answered %q, want 1", count)
	}
}

// TestRevokeOfAnExpiredSessionSaysNoSession: a session that expired (its
// idle timeout passed, cleanup has not run yet) has ended: revoking it by
// the ID listed while it was live must answer ErrNoSession, as Revoke's
// contract says, not report that it ended it.
func TestRevokeOfAnExpiredSessionSaysNoSession(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_CLEANUP_INTERVAL": "0"})
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, _ := serve(t, handlerFor(t, kit, "chi", userRoutes(kit)))
	laptop, phone := device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, phone, srv, "/login?user=ada", "ok")
	phoneID := currentID(t, phone, srv)

	// The phone's session expires.
	rows, err := db.Query("SELECT token FROM sessions WHERE user_id = 'ada'")
	if err != nil {
		t.Fatal(err)
	}
	var phoneToken string
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		if sessionmysql.SessionID(tok) == phoneID {
			phoneToken = tok
		}
	}
	rows.Close()
	if _, err := db.Exec("UPDATE sessions SET expiry = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE token = ?", phoneToken); err != nil {
		t.Fatal(err)
	}
	checkGet(t, phone, srv, "/whoami", "", "the expired session")

	err = kit.Revoke(context.Background(), "ada", phoneID)
	if !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Revoke of an expired session: %v, want ErrNoSession", err)
	}
}

// reloginKey holds the user a request shape logs in again.
type reloginKey struct{}

// TestRequestShapesLeaveTheSessionAsMeant: one request of a logged-in
// browser runs a sequence of session calls that handlers make, with no
// other request running. Each must leave the browser logged in or out as
// the calls say, keep the values put, and leave no row behind but the
// session's.
func TestRequestShapesLeaveTheSessionAsMeant(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_CLEANUP_INTERVAL": "0"})
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	m := kit.Manager
	put := func(ctx context.Context) error { m.Put(ctx, "message", "put"); return nil }
	commit := func(ctx context.Context) error { _, _, err := m.Commit(ctx); return err }
	login := func(ctx context.Context) error { return kit.Login(ctx, ctx.Value(reloginKey{}).(string)) }
	revokeAll := func(ctx context.Context) error { _, err := kit.RevokeAll(ctx, kit.UserID(ctx)); return err }
	revokeOthers := func(ctx context.Context) error { _, err := kit.RevokeOthers(ctx); return err }
	removeUser := func(ctx context.Context) error { m.Remove(ctx, sessionmysql.UserKey); return nil }
	revokeOwn := func(ctx context.Context) error {
		list, err := kit.Sessions(ctx, kit.UserID(ctx))
		if err != nil {
			return err
		}
		for _, s := range list {
			if s.Current {
				return kit.Revoke(ctx, kit.UserID(ctx), s.ID)
			}
		}
		return errors.New("no current session listed")
	}
	type step = func(context.Context) error
	cases := []struct {
		name      string
		steps     []step
		loggedIn  bool   // still logged in as the browser's user
		relogged  bool   // logged in again, as the browser's user + "-again"
		message   string // what /get answers after
		rowsAfter int    // rows in the table for this browser after
	}{
		{"renew-twice", []step{m.RenewToken, m.RenewToken}, true, false, "before", 1},
		{"renew-put-renew", []step{m.RenewToken, put, m.RenewToken}, true, false, "put", 1},
		{"put-commit-renew", []step{put, commit, m.RenewToken}, true, false, "put", 1},
		{"renew-commit-renew", []step{m.RenewToken, commit, m.RenewToken}, true, false, "before", 1},
		{"renew-commit-put", []step{m.RenewToken, commit, put}, true, false, "put", 1},
		{"commit-commit", []step{put, commit, commit}, true, false, "put", 1},
		{"destroy", []step{m.Destroy}, false, false, "", 0},
		{"destroy-put", []step{m.Destroy, put}, false, false, "put", 1},
		{"destroy-destroy", []step{m.Destroy, m.Destroy}, false, false, "", 0},
		{"destroy-login", []step{m.Destroy, login}, false, true, "", 1},
		{"destroy-renew-put", []step{m.Destroy, m.RenewToken, put}, false, false, "put", 1},
		{"renew-destroy", []step{m.RenewToken, m.Destroy}, false, false, "", 0},
		{"put-commit-destroy", []step{put, commit, m.Destroy}, false, false, "", 0},
		{"login-twice", []step{login, login}, false, true, "before", 1},
		{"login-destroy", []step{login, m.Destroy}, false, false, "", 0},
		{"login-revoke-others", []step{login, revokeOthers}, false, true, "before", 1},
		{"renew-remove-user", []step{m.RenewToken, removeUser}, false, false, "before", 1},
		{"revoke-all-put", []step{revokeAll, put}, false, false, "put", 1},
		{"revoke-all-login", []step{revokeAll, login}, false, true, "", 1},
		{"renew-login", []step{m.RenewToken, login}, false, true, "before", 1},
		{"login-renew", []step{login, m.RenewToken}, false, true, "before", 1},
		{"revoke-own-by-id", []step{revokeOwn}, false, false, "", 0},
		{"revoke-own-by-id-put", []step{revokeOwn, put}, false, false, "put", 1},
	}
	routes := userRoutes(kit)
	routes["/shape"] = func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		ctx := context.WithValue(r.Context(), reloginKey{}, "u-"+name+"-again")
		for _, c := range cases {
			if c.name != name {
				continue
			}
			for i, s := range c.steps {
				if err := s(ctx); err != nil {
					http.Error(w, fmt.Sprintf("step %d: %v", i+1, err), http.StatusInternalServerError)
					return
				}
			}
		}
		io.WriteString(w, "ok")
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	var total int
	count := func() int {
		if err := db.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&total); err != nil {
			t.Fatal(err)
		}
		return total
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user := "u-" + c.name
			browser := device(t, srv)
			mustGet(t, browser, srv, "/login?user="+user, "ok")
			mustGet(t, browser, srv, "/put?v=before", "ok")
			before := count()
			checkGet(t, browser, srv, "/shape?name="+c.name, "ok", "the request")
			want := ""
			switch {
			case c.relogged:
				want = user + "-again"
			case c.loggedIn:
				want = user
			}
			rowsNow := count() - before + 1
			checkGet(t, browser, srv, "/whoami", want, "the user after")
			checkGet(t, browser, srv, "/get", c.message, "the message after")
			if rowsNow != c.rowsAfter {
				t.Errorf("%d rows of this browser in the table after the request, want %d", rowsNow, c.rowsAfter)
			}
		})
	}
}

// TestIterateDoesNotBringBackARevokedSession: an administrator's page
// changes every session (scs's Manager.Iterate, each session saved with
// Manager.Commit, as scs's README shows), and one of them is revoked (its
// owner logs out everywhere) after Iterate read the sessions and before it
// saves that one. The revoked session must stay ended.
//
// With SESSION_HASH_TOKEN on (the default), scs's Iterate hands Commit the
// stored hash as if it were the token, and Commit stores the session under
// the hash of that: a row that no cookie finds. The test runs with hashing
// off, where Iterate works as scs means it to.
func TestIterateDoesNotBringBackARevokedSession(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{"SESSION_HASH_TOKEN": "false"}))
	routes := userRoutes(kit)
	reached, revoked := make(chan struct{}), make(chan struct{})
	routes["/admin/flag-all"] = func(w http.ResponseWriter, r *http.Request) {
		err := kit.Manager.Iterate(r.Context(), func(ctx context.Context) error {
			if kit.Manager.GetString(ctx, sessionmysql.UserKey) == "victim" &&
				kit.Manager.GetString(ctx, "message") == "phone" {
				close(reached)
				<-revoked
			}
			kit.Manager.Put(ctx, "flag", true)
			_, _, err := kit.Manager.Commit(ctx)
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	laptop, phone, admin := device(t, srv), device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=victim", "ok")
	mustGet(t, phone, srv, "/login?user=victim", "ok")
	mustGet(t, phone, srv, "/put?v=phone", "ok")
	stolen := cookieValue(t, phone, srv, sessionkit.HostCookieName)

	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, admin, srv, "/admin/flag-all")
	}()
	<-reached
	mustGet(t, laptop, srv, "/revoke-others", "1")
	close(revoked)
	<-done
	if user := whoamiWith(t, srv, stolen); user != "" {
		t.Errorf("the revoked phone's cookie is %q's session again after Iterate saved it", user)
	}
}

// TestIterateUnderHashedTokensKeepsOneRowPerSession: with
// SESSION_HASH_TOKEN on (the default), an administrator's page that
// changes every session with scs's Manager.Iterate and Manager.Commit
// must change the sessions, not add a row bound to each user that no
// cookie finds (and that the user's device list shows as another device).
func TestIterateUnderHashedTokensKeepsOneRowPerSession(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	routes["/admin/flag-all"] = func(w http.ResponseWriter, r *http.Request) {
		err := kit.Manager.Iterate(r.Context(), func(ctx context.Context) error {
			kit.Manager.Put(ctx, "message", "flagged")
			_, _, err := kit.Manager.Commit(ctx)
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	laptop, admin := device(t, srv), device(t, srv)
	mustGet(t, laptop, srv, "/login?user=ada", "ok")
	mustGet(t, admin, srv, "/admin/flag-all", "ok")
	checkGet(t, laptop, srv, "/get", "flagged", "the laptop's session after Iterate changed it")
	if list := listSessions(t, laptop, srv); len(list) != 1 {
		t.Errorf("ada has %d sessions listed after Iterate, want 1", len(list))
	}
}
