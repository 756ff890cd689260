package sessionkit_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
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
	_ = sql.ErrNoRows
}
