package sessionkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// visit serves one request from remote with the given headers (and the
// session cookie, if any), and returns the session cookie it was left with.
func visit(t *testing.T, h http.Handler, path, remote, cookie string, header map[string]string) string {
	t.Helper()
	r := httptest.NewRequest("GET", "https://app.example.com"+path, nil)
	r.RemoteAddr = remote
	for name, v := range header {
		r.Header.Set(name, v)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: sessionkit.HostCookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s from %s: %d %s", path, remote, w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionkit.HostCookieName {
			return c.Value
		}
	}
	return cookie
}

// onlySession is the one session of user.
func onlySession(t *testing.T, kit *sessionkit.Kit, user string) sessionkit.Session {
	t.Helper()
	list, err := kit.Sessions(context.Background(), user)
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions(%s) = %+v, %v; want one", user, list, err)
	}
	return list[0]
}

// TestSessionMetadata checks what is recorded with a user's session: the
// peer's address, a forwarded one only from a trusted proxy, and the user
// agent as valid UTF-8, cut to 255 bytes; a read over a minute after the last one records
// the address it came from.
func TestSessionMetadata(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_TRUSTED_PROXIES": "10.0.0.0/8"})
	kit, _ := startKit(t, environ)
	h := handlerFor(t, kit, "servemux", userRoutes(kit))

	long := strings.Repeat("é", 300) // 600 bytes
	for _, tc := range []struct {
		user, remote string
		header       map[string]string
		ip, agent    string
	}{
		{"direct", "198.51.100.7:5000", map[string]string{"User-Agent": "Laptop Browser/1.0"}, "198.51.100.7", "Laptop Browser/1.0"},
		{"spoofer", "198.51.100.8:5000", map[string]string{"X-Forwarded-For": "203.0.113.66", "Forwarded": "for=203.0.113.67"}, "198.51.100.8", ""},
		{"proxied", "10.0.0.5:443", map[string]string{"X-Forwarded-For": "1.1.1.1, 203.0.113.9, 10.0.0.6"}, "203.0.113.9", ""},
		{"forwarded", "10.0.0.5:443", map[string]string{"Forwarded": `for="[2001:db8::9]:4711"`}, "2001:db8::9", ""},
		{"talkative", "[2001:db8::7]:5000", map[string]string{"User-Agent": long}, "2001:db8::7", long[:254]},
		{"latin1", "198.51.100.9:5000", map[string]string{"User-Agent": "Mozilla/5.0 (caf\xe9)"}, "198.51.100.9", "Mozilla/5.0 (caf\uFFFD)"},
	} {
		visit(t, h, "/login?user="+tc.user, tc.remote, "", tc.header)
		s := onlySession(t, kit, tc.user)
		if s.IP != tc.ip {
			t.Errorf("%s: IP %q, want %q", tc.user, s.IP, tc.ip)
		}
		if tc.agent != "" && s.UserAgent != tc.agent {
			t.Errorf("%s: user agent %q (%d bytes), want %q", tc.user, s.UserAgent, len(s.UserAgent), tc.agent)
		}
		if !utf8.ValidString(s.UserAgent) || len(s.UserAgent) > 255 {
			t.Errorf("%s: user agent of %d bytes stored", tc.user, len(s.UserAgent))
		}
	}

	// The same session, used from another network over a minute later.
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	cookie := visit(t, h, "/login?user=mover", "198.51.100.20:5000", "", nil)
	if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE WHERE user_id = 'mover'"); err != nil {
		t.Fatal(err)
	}
	visit(t, h, "/whoami", "192.0.2.30:5000", cookie, nil)
	if s := onlySession(t, kit, "mover"); s.IP != "192.0.2.30" {
		t.Errorf("after a read from another address: IP %q, want 192.0.2.30", s.IP)
	}
}

// TestRecordSwitchesStoreNothing turns SESSION_RECORD_IP and
// SESSION_RECORD_USER_AGENT off: no address or user agent reaches the
// table, on a login or a later read, while times are still recorded.
func TestRecordSwitchesStoreNothing(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_RECORD_IP": "false", "SESSION_RECORD_USER_AGENT": "false",
		"SESSION_TRUSTED_PROXIES": "10.0.0.0/8"})
	kit, _ := startKit(t, environ)
	h := handlerFor(t, kit, "chi", userRoutes(kit))
	header := map[string]string{"User-Agent": "Laptop Browser/1.0", "X-Forwarded-For": "203.0.113.9"}
	cookie := visit(t, h, "/login?user=ada", "10.0.0.5:443", "", header)
	visit(t, h, "/put?v=x", "198.51.100.7:5000", cookie, header)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE"); err != nil {
		t.Fatal(err)
	}
	visit(t, h, "/whoami", "198.51.100.7:5000", cookie, header)

	s := onlySession(t, kit, "ada")
	if s.IP != "" || s.UserAgent != "" || s.Created.IsZero() || s.LastSeen.IsZero() {
		t.Errorf("session %+v; want times and no address or user agent", s)
	}
	var recorded int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE ip IS NOT NULL OR user_agent IS NOT NULL").Scan(&recorded); err != nil || recorded != 0 {
		t.Errorf("%d rows hold an address or a user agent (%v), want none", recorded, err)
	}
}
