package sessionkit_test

import (
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// TestCookieNameDefault checks which name the kit picks when
// SESSION_COOKIE_NAME is empty, and which legacy cookie it adopts: none
// unless SESSION_COOKIE_LEGACY_NAME names one.
func TestCookieNameDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env          map[string]string
		name, legacy string
	}{
		{nil, "__Host-session", ""},
		{map[string]string{"SESSION_COOKIE_LEGACY_NAME": "session"}, "__Host-session", "session"},
		{map[string]string{"SESSION_COOKIE_SECURE": "false"}, "session", ""},
		{map[string]string{"SESSION_COOKIE_PATH": "/app"}, "session", ""},
		{map[string]string{"SESSION_COOKIE_DOMAIN": "example.com"}, "session", ""},
		{map[string]string{"SESSION_COOKIE_NAME": "sid"}, "sid", ""},
		{map[string]string{"SESSION_COOKIE_NAME": "__Host-sid", "SESSION_COOKIE_LEGACY_NAME": "sid"}, "__Host-sid", "sid"},
		{map[string]string{"SESSION_COOKIE_LEGACY_NAME": "none"}, "__Host-session", ""},
	}
	for _, tt := range tests {
		env := map[string]string{"SESSION_STORE": "memory"}
		for k, v := range tt.env {
			env[k] = v
		}
		cfg, err := sessionkit.LoadConfigFrom(env)
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		if got := cfg.SessionCookieName(); got != tt.name {
			t.Errorf("%v: SessionCookieName %q, want %q", tt.env, got, tt.name)
		}
		if got := cfg.LegacyCookieName(); got != tt.legacy {
			t.Errorf("%v: LegacyCookieName %q, want %q", tt.env, got, tt.legacy)
		}
	}
}

// TestCookiePrefixRefused checks that a prefixed name whose attributes
// browsers would reject is a configuration error naming what to change.
func TestCookiePrefixRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SESSION_COOKIE_NAME": "__Host-sid", "SESSION_COOKIE_SECURE": "false"}, []string{"SESSION_COOKIE_SECURE=true"}},
		{map[string]string{"SESSION_COOKIE_NAME": "__host-sid", "SESSION_COOKIE_PATH": "/app"}, []string{"SESSION_COOKIE_PATH=/"}},
		{map[string]string{"SESSION_COOKIE_NAME": "__Host-sid", "SESSION_COOKIE_DOMAIN": "example.com", "SESSION_COOKIE_SECURE": "0"},
			[]string{"no SESSION_COOKIE_DOMAIN", "SESSION_COOKIE_SECURE=true"}},
		{map[string]string{"SESSION_COOKIE_NAME": "__SECURE-sid", "SESSION_COOKIE_SECURE": "false"}, []string{"SESSION_COOKIE_SECURE=true"}},
		{map[string]string{"SESSION_COOKIE_LEGACY_NAME": "bad name"}, []string{`SESSION_COOKIE_LEGACY_NAME "bad name": not a valid cookie name`}},
		// The legacy name must not be the session cookie's own.
		{map[string]string{"SESSION_COOKIE_LEGACY_NAME": "__Host-session"}, []string{`SESSION_COOKIE_LEGACY_NAME "__Host-session": the session cookie's own name`}},
		{map[string]string{"SESSION_COOKIE_SECURE": "false", "SESSION_COOKIE_LEGACY_NAME": "session"}, []string{`SESSION_COOKIE_LEGACY_NAME "session": the session cookie's own name`}},
		{map[string]string{"SESSION_COOKIE_NAME": "sid", "SESSION_COOKIE_LEGACY_NAME": "sid"}, []string{`SESSION_COOKIE_LEGACY_NAME "sid": the session cookie's own name`}},
	}
	for _, tt := range tests {
		env := map[string]string{"SESSION_STORE": "memory"}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := sessionkit.LoadConfigFrom(env)
		if err == nil {
			t.Errorf("%v: no error", tt.env)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", tt.env, err, w)
			}
		}
	}
	// Allowed: the prefixes with the attributes they need.
	for _, env := range []map[string]string{
		{"SESSION_STORE": "memory", "SESSION_COOKIE_NAME": "__Host-sid"},
		{"SESSION_STORE": "memory", "SESSION_COOKIE_NAME": "__Secure-sid", "SESSION_COOKIE_PATH": "/app", "SESSION_COOKIE_DOMAIN": "example.com"},
	} {
		if _, err := sessionkit.LoadConfigFrom(env); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
}

// TestLegacyCookieAdopted upgrades a service from the cookie "session" to
// the default "__Host-session" on one table, with
// SESSION_COOKIE_LEGACY_NAME=session for the upgrade window: a user whose
// browser holds only the old cookie keeps the session, gets the new cookie
// with the same token, and loses the old one; the move writes no row.
func TestLegacyCookieAdopted(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.DSN(t)
	env := func(extra map[string]string) map[string]string {
		e := map[string]string{"SESSION_MYSQL_DSN": dsn, "SESSION_CREATE_TABLE": "true", "SESSION_DB_QUERY_TIMEOUT": "2s"}
		for k, v := range extra {
			e[k] = v
		}
		return e
	}
	before, _ := startKit(t, env(map[string]string{"SESSION_COOKIE_NAME": "session"}))
	after, _ := startKit(t, env(map[string]string{"SESSION_COOKIE_LEGACY_NAME": "session"}))
	if got := after.Manager.Cookie.Name; got != sessionkit.HostCookieName {
		t.Fatalf("default cookie name %q, want %q", got, sessionkit.HostCookieName)
	}
	oldSrv := httptest.NewServer(handlerFor(t, before, "chi", sessionRoutes(before)))
	defer oldSrv.Close()
	newSrv := httptest.NewServer(handlerFor(t, after, "servemux", sessionRoutes(after)))
	defer newSrv.Close()

	resp, err := http.Get(oldSrv.URL + "/put?v=kept")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	old := sessionCookie(t, resp, "session")
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := tableRows(t, db)

	// The first request after the upgrade carries only the old cookie.
	req, _ := http.NewRequest("GET", newSrv.URL+"/get", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: old.Value})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "kept" {
		t.Fatalf("GET /get with the old cookie: %q, want the session's value", body)
	}
	var gotNew, expiredOld bool
	for _, c := range resp.Cookies() {
		switch {
		case c.Name == sessionkit.HostCookieName:
			gotNew = true
			if c.Value != old.Value || !c.Secure || c.Path != "/" || c.Domain != "" {
				t.Errorf("new cookie %s: want the same token, Secure, Path=/ and no Domain", c.String())
			}
		case c.Name == "session":
			expiredOld = c.MaxAge < 0
		}
	}
	if !gotNew || !expiredOld {
		t.Errorf("Set-Cookie %q: want the new cookie and the old one expired", resp.Header.Values("Set-Cookie"))
	}
	if now := tableRows(t, db); now != rows {
		t.Errorf("moving the session to the new cookie changed the table:\n%s\nwas\n%s", now, rows)
	}

	// From then on the new cookie alone carries the session.
	req, _ = http.NewRequest("GET", newSrv.URL+"/get", nil)
	req.AddCookie(&http.Cookie{Name: sessionkit.HostCookieName, Value: old.Value})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "kept" || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("GET /get with the new cookie: %q, Set-Cookie %q; want the value and no cookie", body, resp.Header.Values("Set-Cookie"))
	}

	// A request with both is served from the new one; the old is expired.
	req, _ = http.NewRequest("GET", newSrv.URL+"/get", nil)
	req.AddCookie(&http.Cookie{Name: sessionkit.HostCookieName, Value: old.Value})
	req.AddCookie(&http.Cookie{Name: "session", Value: "planted-by-a-sibling-subdomain-0000000000000"})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "kept" {
		t.Errorf("GET /get with both cookies: %q, want the new cookie's session", body)
	}
	if sc := strings.Join(resp.Header.Values("Set-Cookie"), "\n"); !strings.Contains(sc, "session=; Path=/; Max-Age=0") {
		t.Errorf("Set-Cookie %q: want the old cookie expired", sc)
	}

	// With adoption off, after the upgrade window, the old cookie is
	// ignored, and left alone.
	for _, legacy := range []string{"", "none"} {
		strict, _ := startKit(t, env(map[string]string{"SESSION_COOKIE_LEGACY_NAME": legacy}))
		strictSrv := httptest.NewServer(handlerFor(t, strict, "chi", sessionRoutes(strict)))
		defer strictSrv.Close()
		req, _ = http.NewRequest("GET", strictSrv.URL+"/get", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: old.Value})
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "" || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("SESSION_COOKIE_LEGACY_NAME=%q: GET /get with the old cookie read %q, Set-Cookie %q; want nothing",
				legacy, body, resp.Header.Values("Set-Cookie"))
		}
	}
}

// tableRows lists every row of the sessions table, in full.
func tableRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT token, HEX(data), expiry FROM sessions ORDER BY token")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var token, data, expiry string
		if err := rows.Scan(&token, &data, &expiry); err != nil {
			t.Fatal(err)
		}
		b.WriteString(token + " " + data + " " + expiry + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPlantedLegacyCookieIgnoredByDefault plays a sibling subdomain that
// sets "session=<its own logged-in token>; Domain=example.com" in a
// victim's browser: a kit with the default configuration must not serve
// the victim the attacker's session, nor move it to the session cookie.
func TestPlantedLegacyCookieIgnoredByDefault(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	srv, attacker := serve(t, handlerFor(t, kit, "servemux", sessionRoutes(kit)))
	mustGet(t, attacker, srv, "/put?v=the+attacker's+account", "ok")
	token := cookieValue(t, attacker, srv, sessionkit.HostCookieName)
	if token == "" {
		t.Fatal("the attacker got no session cookie")
	}

	// The victim's browser: no cookie of its own but the planted one.
	victim := &http.Client{Transport: attacker.Transport, Timeout: attacker.Timeout}
	req, _ := http.NewRequest("GET", srv.URL+"/get", nil)
	req.AddCookie(&http.Cookie{Name: sessionkit.PlainCookieName, Value: token})
	resp, err := victim.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "" {
		t.Errorf("the victim was served the planted session: %q", body)
	}
	for _, c := range resp.Cookies() {
		if c.Value == token {
			t.Errorf("the response hands the victim the planted token: %s", c)
		}
	}
}
