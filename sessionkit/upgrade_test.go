package sessionkit_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// mustRequest returns a GET of url that carries one cookie.
func mustRequest(t *testing.T, url, cookie, value string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: cookie, Value: value})
	return req
}

// do sends req and returns the response (body read and closed) and body.
func do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// plainSession stores a session holding message under a new plain token
// with scs's mysqlstore, as a service did before hashing was turned on,
// and returns the token.
func plainSession(t *testing.T, db *sql.DB, message string) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	deadline := time.Now().Add(time.Hour)
	data, err := scs.GobCodec{}.Encode(deadline, map[string]any{"message": message})
	if err != nil {
		t.Fatal(err)
	}
	if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(token, data, deadline); err != nil {
		t.Fatal(err)
	}
	return token
}

func hasRow(t *testing.T, db *sql.DB, token string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE CAST(token AS BINARY) = CAST(? AS BINARY)", token).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// plainTokenEnv is mysqlEnv with SESSION_UPGRADE_PLAIN_TOKENS on, on a
// table marked as one of plain tokens, as the operator marks it before
// turning the switch on.
func plainTokenEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	environ := mysqlEnv(t, extra)
	environ["SESSION_UPGRADE_PLAIN_TOKENS"] = "true"
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	store := sessionmysql.NewWithCleanupInterval(db, 0)
	defer store.Close()
	if err := store.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	markPlainTokens(t, db)
	return environ
}

// markPlainTokens marks the session table as one of plain tokens.
func markPlainTokens(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec("ALTER TABLE sessions COMMENT = '" + sessionmysql.PlainTokensComment + "'"); err != nil {
		t.Fatal(err)
	}
}

// TestKitUpgradesPlainTokenCookie: with SESSION_UPGRADE_PLAIN_TOKENS, a
// request whose cookie holds a plain token of scs's mysqlstore keeps its
// session, which moves to the token's hash, with and without encryption,
// under the kit's cookie name and under the legacy one it adopts.
func TestKitUpgradesPlainTokenCookie(t *testing.T) {
	t.Parallel()
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			extra := map[string]string{"SESSION_COOKIE_LEGACY_NAME": "session"}
			if encrypted {
				extra["SESSION_ENCRYPTION_KEYS"] = base64Key(t, 32)
			}
			environ := plainTokenEnv(t, extra)
			kit, _ := startKit(t, environ)
			db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
			srv, _ := serve(t, handlerFor(t, kit, "servemux", sessionRoutes(kit)))
			client := srv.Client()

			names := []string{kit.Manager.Cookie.Name}
			if cfg := configOf(t, environ); cfg.LegacyCookieName() != "" {
				names = append(names, cfg.LegacyCookieName())
			}
			for _, name := range names {
				plain := plainSession(t, db, "kept from before, cookie "+name)
				resp, body := do(t, client, mustRequest(t, srv.URL+"/get", name, plain))
				if resp.StatusCode != http.StatusOK || body != "kept from before, cookie "+name {
					t.Fatalf("cookie %s: GET /get with a plain token: %d %q; want the stored session", name, resp.StatusCode, body)
				}
				if hasRow(t, db, plain) || !hasRow(t, db, sessionmysql.HashToken(plain)) {
					t.Fatalf("cookie %s: the session was not moved to the token's hash", name)
				}
				// The next request finds it by the hash alone.
				_, body = do(t, client, mustRequest(t, srv.URL+"/get", kit.Manager.Cookie.Name, plain))
				if body != "kept from before, cookie "+name {
					t.Fatalf("cookie %s: the second request read %q", name, body)
				}
			}
			if st := kit.Stats(); st.TokensUpgraded != int64(len(names)) {
				t.Errorf("TokensUpgraded = %d; want %d", st.TokensUpgraded, len(names))
			}
		})
	}
}

// TestKitUpgradeRefusesStoredHash: someone with a copy of the table who sends
// a stored hash as the cookie gets a new, empty session; the owner keeps
// theirs.
func TestKitUpgradeRefusesStoredHash(t *testing.T) {
	t.Parallel()
	environ := plainTokenEnv(t, nil)
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, victim := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, victim, srv, "/put?v=the-victims-data", "ok")
	stored := storedTokens(t, db)
	if len(stored) != 1 {
		t.Fatalf("%d rows; want 1", len(stored))
	}
	resp, body := do(t, srv.Client(), mustRequest(t, srv.URL+"/get", kit.Manager.Cookie.Name, stored[0]))
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("GET /get with a stored hash as the cookie: %d %q; want 200 and nothing", resp.StatusCode, body)
	}
	if got := storedTokens(t, db); len(got) != 1 || got[0] != stored[0] {
		t.Fatalf("rows %v; want the victim's alone, where it was", got)
	}
	mustGet(t, victim, srv, "/get", "the-victims-data")
}

// TestKitUpgradeRefusesSessionStoredBeforeTheSwitch: a session the kit
// stored with its defaults (hashing on, no encryption, no switch) cannot
// be taken by someone who holds a copy of the table once the switch is
// turned on: a kit with the switch refuses to start on a table nobody
// marked as one of plain tokens, saying how to mark it, and on a marked
// table the stored hash, sent as the cookie, is no session.
func TestKitUpgradeRefusesSessionStoredBeforeTheSwitch(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	before, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, victim := serve(t, handlerFor(t, before, "chi", sessionRoutes(before)))
	mustGet(t, victim, srv, "/put?v=the-victims-data", "ok")
	stored := storedTokens(t, db) // what a copy of the table shows
	if len(stored) != 1 {
		t.Fatalf("%d rows; want 1", len(stored))
	}

	switched := maps.Clone(environ)
	switched["SESSION_UPGRADE_PLAIN_TOKENS"] = "true"
	cfg := configOf(t, switched)
	cfg.Logger = slog.New(slog.DiscardHandler)
	if kit, err := sessionkit.New(context.Background(), cfg); err == nil {
		kit.Shutdown(context.Background())
		t.Fatal("a kit with SESSION_UPGRADE_PLAIN_TOKENS started on a table not marked as one of plain tokens")
	} else if want := "ALTER TABLE `sessions` COMMENT = '" + sessionmysql.PlainTokensComment + "';"; !strings.Contains(err.Error(), "SESSION_UPGRADE_PLAIN_TOKENS") || !strings.Contains(err.Error(), want) {
		t.Fatalf("New on an unmarked table: %v; want the variable and %s", err, want)
	}

	// The table also held sessions of plain tokens, and the operator marks it.
	markPlainTokens(t, db)
	kit, _ := startKit(t, switched)
	switchedSrv, _ := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	resp, body := do(t, switchedSrv.Client(), mustRequest(t, switchedSrv.URL+"/get", kit.Manager.Cookie.Name, stored[0]))
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("GET /get with the stored hash as the cookie: %d %q; want 200 and no session", resp.StatusCode, body)
	}
	if got := storedTokens(t, db); len(got) != 1 || got[0] != stored[0] {
		t.Fatalf("rows %v; want the victim's alone, where it was", got)
	}
	req := mustRequest(t, switchedSrv.URL+"/get", kit.Manager.Cookie.Name, cookieValue(t, victim, srv, before.Manager.Cookie.Name))
	if _, body := do(t, switchedSrv.Client(), req); body != "the-victims-data" {
		t.Fatalf("the victim's own cookie read %q", body)
	}
	if st := kit.Stats(); st.TokensUpgraded != 0 {
		t.Errorf("TokensUpgraded = %d; want 0", st.TokensUpgraded)
	}
}

// TestKitUpgradeConcurrentFirstRequests: a page that fires several requests
// at once with a plain cookie keeps its one session.
func TestKitUpgradeConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	environ := plainTokenEnv(t, nil)
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, _ := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	plain := plainSession(t, db, "one session")
	const requests = 12
	var wg sync.WaitGroup
	bodies := make([]string, requests)
	statuses := make([]int, requests)
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/get", nil)
			req.AddCookie(&http.Cookie{Name: kit.Manager.Cookie.Name, Value: plain})
			resp, err := srv.Client().Do(req)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i], statuses[i] = string(b), resp.StatusCode
		}()
	}
	wg.Wait()
	for i := range requests {
		if statuses[i] != http.StatusOK || bodies[i] != "one session" {
			t.Errorf("request %d: %d %q; want 200 \"one session\"", i, statuses[i], bodies[i])
		}
	}
	if got := storedTokens(t, db); len(got) != 1 || got[0] != sessionmysql.HashToken(plain) {
		t.Errorf("rows %v; want one, under the token's hash", got)
	}
}

// TestKitPlainTokensWithoutUpgrade: without the switch, a plain session is
// not found under hashing, and its row is left as it is.
func TestKitPlainTokensWithoutUpgrade(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, _ := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	plain := plainSession(t, db, "before hashing")
	if _, body := do(t, srv.Client(), mustRequest(t, srv.URL+"/get", kit.Manager.Cookie.Name, plain)); body != "" {
		t.Fatalf("GET /get = %q; want no session", body)
	}
	if !hasRow(t, db, plain) || hasRow(t, db, sessionmysql.HashToken(plain)) {
		t.Fatal("the plain row was moved with the switch off")
	}
	if st := kit.Stats(); st.TokensUpgraded != 0 {
		t.Errorf("TokensUpgraded = %d; want 0", st.TokensUpgraded)
	}
}

// configOf is the Config environ makes.
func configOf(t *testing.T, environ map[string]string) sessionkit.Config {
	t.Helper()
	cfg, err := sessionkit.LoadConfigFrom(environ)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
