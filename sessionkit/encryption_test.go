package sessionkit_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// base64Key returns a random key as SESSION_ENCRYPTION_KEYS takes it.
func base64Key(t *testing.T, n int) string {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestConfigEncryptionKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := base64Key(t, 32), base64Key(t, 32)
	short := base64Key(t, 16)
	for _, tc := range []struct {
		name, keys, want string
	}{
		{"not base64", k1 + ",not*base64!," + k2, "SESSION_ENCRYPTION_KEYS: key 2 of 3: not base64"},
		{"short", short, "SESSION_ENCRYPTION_KEYS: key 1 of 1: 16 bytes, want 32"},
		{"duplicate", k1 + "," + k2 + ", " + k1, "SESSION_ENCRYPTION_KEYS: key 3 of 3: the same as key 1"},
		{"empty entry", k1 + ",,", "SESSION_ENCRYPTION_KEYS: key 2 of 3: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_ENCRYPTION_KEYS": tc.keys})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfigFrom: %v; want %q", err, tc.want)
			}
			for _, secret := range []string{k1, k2, short, tc.keys} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a key: %v", err)
				}
			}
			var ve *sessionkit.VarError
			if !errors.As(err, &ve) || ve.Var != "SESSION_ENCRYPTION_KEYS" || ve.Value != "" {
				t.Errorf("VarError = %+v; want SESSION_ENCRYPTION_KEYS with no value shown", ve)
			}
		})
	}

	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory",
		"SESSION_ENCRYPTION_KEYS": k1 + ", " + strings.TrimRight(k2, "=")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.EncryptionKeys) != 2 || len(cfg.EncryptionKeys[0]) != 32 || len(cfg.EncryptionKeys[1]) != 32 {
		t.Fatalf("EncryptionKeys = %d keys; want 2 of 32 bytes", len(cfg.EncryptionKeys))
	}
	raw, _ := base64.StdEncoding.DecodeString(k1)
	for _, printed := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if !strings.Contains(printed, "2 encryption keys, not shown") || strings.Contains(printed, fmt.Sprint(raw)) {
			t.Errorf("a printed Config shows the keys, or not their number: %s", printed)
		}
	}

	// A Config built by hand is checked the same way.
	cfg.EncryptionKeys = sessionkit.EncryptionKeys{raw, raw}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "SESSION_ENCRYPTION_KEYS: key 2 of 2: the same as key 1") {
		t.Errorf("Validate with a duplicate key: %v", err)
	}

	_, err = sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory",
		"SESSION_HASH_TOKEN": "false", "SESSION_UPGRADE_PLAIN_TOKENS": "true"})
	if err == nil || !strings.Contains(err.Error(), `SESSION_UPGRADE_PLAIN_TOKENS "true": needs SESSION_HASH_TOKEN=true`) {
		t.Errorf("SESSION_UPGRADE_PLAIN_TOKENS without hashing: %v", err)
	}
}

// TestKitEncryptsAtRest: through the middleware, a session is stored
// encrypted and bound to its hashed token, and read back.
func TestKitEncryptsAtRest(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_ENCRYPTION_KEYS": base64Key(t, 32)})
	kit, _ := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put?v=the-secret-value", "ok")
	mustGet(t, client, srv, "/get", "the-secret-value")

	var data []byte
	if err := db.QueryRow("SELECT data FROM sessions").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0x00, 's', 'k', 0x03}) || bytes.Contains(data, []byte("the-secret-value")) {
		t.Fatalf("stored % x...; want a header for a hashed token and encrypted data", data[:min(len(data), 8)])
	}

	// The same table read without the key: no session, no error.
	plainEnv := map[string]string{"SESSION_MYSQL_DSN": environ["SESSION_MYSQL_DSN"], "SESSION_DB_QUERY_TIMEOUT": "2s"}
	keyless, logs := startKit(t, plainEnv)
	keylessSrv, _ := serve(t, handlerFor(t, keyless, "chi", sessionRoutes(keyless)))
	req := mustRequest(t, keylessSrv.URL+"/get", kit.Manager.Cookie.Name, cookieValue(t, client, srv, kit.Manager.Cookie.Name))
	resp, body := do(t, keylessSrv.Client(), req)
	if resp.StatusCode != 200 || body != "" {
		t.Fatalf("GET /get without the key: %d %q; want 200 and no session", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "cannot be read") {
		t.Errorf("the unreadable session was not logged:\n%s", logs)
	}
	if st := keyless.Stats(); st.UnreadableSessions != 1 {
		t.Errorf("UnreadableSessions = %d; want 1", st.UnreadableSessions)
	}
}

// TestKitDamagedRowIsNewSession: with encryption on, a request whose
// session's row was damaged or cut anywhere answers 200 with a new, empty
// session, never a 500; each read is logged and counted, and the next
// change makes a session under a new token.
func TestKitDamagedRowIsNewSession(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_ENCRYPTION_KEYS": base64Key(t, 32)})
	kit, logs := startKit(t, environ)
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put?v=the-victims-data", "ok")
	cookie := cookieValue(t, client, srv, kit.Manager.Cookie.Name)
	var stored []byte
	if err := db.QueryRow("SELECT data FROM sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}

	var damaged []string
	for i := range stored {
		b := bytes.Clone(stored)
		b[i] ^= 0xFF
		damaged = append(damaged, string(b))
	}
	for n := range len(stored) {
		damaged = append(damaged, string(stored[:n]), string(stored[len(stored)-n:]))
	}
	failed := 0
	for i, d := range damaged {
		if _, err := db.Exec("UPDATE sessions SET data = ?", []byte(d)); err != nil {
			t.Fatal(err)
		}
		resp, body := do(t, srv.Client(), mustRequest(t, srv.URL+"/get", kit.Manager.Cookie.Name, cookie))
		if resp.StatusCode != http.StatusOK || body != "" {
			failed++
			t.Errorf("damaged form %d of %d: GET /get = %d %q; want 200 and a new, empty session", i, len(damaged), resp.StatusCode, body)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d damaged forms of the row did not read as no session", failed, len(damaged))
	}
	if st := kit.Stats(); st.UnreadableSessions != int64(len(damaged)) {
		t.Errorf("UnreadableSessions = %d; want %d", st.UnreadableSessions, len(damaged))
	}
	if !strings.Contains(logs.String(), "cannot be read") {
		t.Errorf("the damaged rows were not logged")
	}
	mustGet(t, client, srv, "/put?v=anew", "ok")
	if got := cookieValue(t, client, srv, kit.Manager.Cookie.Name); got == cookie || got == "" {
		t.Errorf("the new session kept the damaged session's token")
	}
	mustGet(t, client, srv, "/get", "anew")
}

// TestKitRequireEncryptionRefusesForgedRow: someone who can write to the
// table but holds no key writes a row that says "admin" under the hash of
// a token of their own. Without SESSION_REQUIRE_ENCRYPTION it logs them in;
// with it, the row is no session.
func TestKitRequireEncryptionRefusesForgedRow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		require string
		want    string
	}{
		{"false", "admin"},
		{"true", ""},
	} {
		t.Run("SESSION_REQUIRE_ENCRYPTION="+tc.require, func(t *testing.T) {
			t.Parallel()
			environ := mysqlEnv(t, map[string]string{
				"SESSION_ENCRYPTION_KEYS":    base64Key(t, 32),
				"SESSION_REQUIRE_ENCRYPTION": tc.require,
			})
			kit, _ := startKit(t, environ)
			db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
			srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
			mustGet(t, client, srv, "/login?user=ada", "ok")
			mustGet(t, client, srv, "/whoami", "ada")

			token := base64Key(t, 32) // the forger's cookie; any string will do
			deadline := time.Now().Add(time.Hour)
			forged, err := scs.GobCodec{}.Encode(deadline, map[string]any{"user": "admin"})
			if err != nil {
				t.Fatal(err)
			}
			if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(sessionmysql.HashToken(token), forged, deadline); err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, srv.Client(), mustRequest(t, srv.URL+"/whoami", kit.Manager.Cookie.Name, token))
			if resp.StatusCode != http.StatusOK || body != tc.want {
				t.Fatalf("GET /whoami with the forged row's cookie: %d %q; want 200 %q", resp.StatusCode, body, tc.want)
			}
			mustGet(t, client, srv, "/whoami", "ada") // encrypted sessions still read
		})
	}
}

func TestConfigRequireEncryptionNeedsKeys(t *testing.T) {
	t.Parallel()
	_, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_REQUIRE_ENCRYPTION": "true"})
	var ce *sessionkit.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 ||
		err.Error() != `sessionkit: SESSION_REQUIRE_ENCRYPTION "true": needs SESSION_ENCRYPTION_KEYS: it refuses every session that is not encrypted` {
		t.Fatalf("SESSION_REQUIRE_ENCRYPTION without keys: %v", err)
	}
	// A bad key is reported once, as the keys' problem.
	_, err = sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_REQUIRE_ENCRYPTION": "true",
		"SESSION_ENCRYPTION_KEYS": "not*base64"})
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Var != "SESSION_ENCRYPTION_KEYS" {
		t.Fatalf("SESSION_REQUIRE_ENCRYPTION with a bad key: %v", err)
	}
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_REQUIRE_ENCRYPTION": "true",
		"SESSION_ENCRYPTION_KEYS": base64Key(t, 32)})
	if err != nil || !cfg.RequireEncryption {
		t.Fatalf("SESSION_REQUIRE_ENCRYPTION with a key: %+v, %v", cfg.RequireEncryption, err)
	}
}
