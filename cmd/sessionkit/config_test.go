package main

import (
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"sessionkit.dev/sessionkit"
)

func randomKey(t *testing.T) string {
	t.Helper()
	var b [32]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func TestConfigShowsEveryVariableAndNoSecret(t *testing.T) {
	t.Parallel()
	const password = "Sup3r-Secret-pw"
	key1, key2 := randomKey(t), randomKey(t)
	env := map[string]string{
		"SESSION_MYSQL_DSN":        "app:" + password + "@tcp(db.internal:3306)/app?tls=true",
		"SESSION_ENCRYPTION_KEYS":  key1 + "," + key2,
		"SESSION_TABLE":            "app_sessions",
		"SESSION_LIFETIME":         "1440m",
		"SESSION_COOKIE_SAME_SITE": "Strict",
		"SESSION_TRUSTED_PROXIES":  "10.0.0.0/8, 192.168.1.10",
		"SESSION_API_SECRET":       "not-for-sessionkit-" + password,
	}
	r := runCommand(t, env, "config")
	r.want(t, 0, []string{
		"SESSION_MYSQL_DSN=app:xxxxx@tcp(db.internal:3306)/app?tls=true",
		"SESSION_ENCRYPTION_KEYS=(redacted)",
		"SESSION_LIFETIME=24h0m0s",
		"SESSION_COOKIE_SAME_SITE=strict",
		"SESSION_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.10/32",
		"the session cookie is named __Host-session",
		"set but not read by sessionkit: SESSION_API_SECRET",
	}, nil)
	for _, secret := range []string{password, key1, key2, key1[:12], key2[:12]} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the output shows the secret %q\n%v", secret, r)
		}
	}

	// Every variable, once, with where its value came from.
	fromEnv := map[string]bool{"SESSION_MYSQL_DSN": true, "SESSION_ENCRYPTION_KEYS": true, "SESSION_TABLE": true,
		"SESSION_LIFETIME": true, "SESSION_COOKIE_SAME_SITE": true, "SESSION_TRUSTED_PROXIES": true}
	typ := reflect.TypeFor[sessionkit.Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		source := "default"
		if fromEnv[name] {
			source = "environment"
		}
		line := regexp.MustCompile(`(?m)^` + name + `=.*# ` + source + `$`)
		if n := len(line.FindAllString(r.stdout, -1)); n != 1 {
			t.Errorf("%d lines of %s from the %s, want 1\n%v", n, name, source, r)
		}
	}
}

func TestConfigErrorsShowNoSecret(t *testing.T) {
	t.Parallel()
	const password = "Sup3r-Secret-pw"
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	r := runCommand(t, map[string]string{
		"SESSION_MYSQL_DSN":       "app:" + password + "@tcp(db:3306)/app?parseTime=false",
		"SESSION_ENCRYPTION_KEYS": randomKey(t) + "," + short,
	}, "config")
	r.want(t, 2, nil, []string{"SESSION_ENCRYPTION_KEYS", "key 2 of 2", "SESSION_MYSQL_DSN", "parseTime=false"})
	for _, secret := range []string{password, short} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the output shows the secret %q\n%v", secret, r)
		}
	}
}

func TestSecretVariablesAreRedactedByName(t *testing.T) {
	for name, secret := range map[string]bool{
		"SESSION_ENCRYPTION_KEYS": true, "SESSION_SIGNING_KEY": true, "SESSION_DB_PASSWORD": true,
		"SESSION_CLIENT_SECRET": true, "SESSION_TABLE": false, "SESSION_MYSQL_DSN": false,
	} {
		if got := secretVar(name); got != secret {
			t.Errorf("secretVar(%s) = %v, want %v", name, got, secret)
		}
		v := reflect.ValueOf("a value that must not show")
		if shown := displaySetting(name, v); secret && shown != redacted {
			t.Errorf("displaySetting(%s) = %q, want %q", name, shown, redacted)
		}
	}
}
