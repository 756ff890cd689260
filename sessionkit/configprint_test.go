package sessionkit_test

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"sessionkit.dev/sessionkit"
)

// TestConfigPrintsNoSecret prints and logs a Config whose DSN has a known
// password and which holds a known key, in every common way, and looks for
// either in the output: as text, in hex, in base64, or as the key's bytes.
func TestConfigPrintsNoSecret(t *testing.T) {
	t.Parallel()
	const password = "hunter2secret"
	key := bytes.Repeat([]byte{0xfe, 0x01, 0x7a, 0x33}, 8)
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{
		"SESSION_MYSQL_DSN":       "app:" + password + "@tcp(db.internal:3306)/app",
		"SESSION_ENCRYPTION_KEYS": base64.StdEncoding.EncodeToString(key),
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		password, hex.EncodeToString([]byte(password)), base64.StdEncoding.EncodeToString([]byte(password))[:12],
		base64.StdEncoding.EncodeToString(key)[:12], base64.URLEncoding.EncodeToString(key)[:12],
		hex.EncodeToString(key)[:12], strings.Trim(fmt.Sprint(key[:6]), "[]"), fmt.Sprintf("%X", key[:6]),
	}
	// A service's own configuration, with the kit's inside.
	type appConfig struct {
		Addr    string
		Session sessionkit.Config
	}
	type embedded struct {
		sessionkit.Config
		Addr string
	}
	app := appConfig{":8080", cfg}
	logged := func(handler func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(handler(&buf)).Info("config", args...)
		return buf.String()
	}
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	jsonLog := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
	marshal := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		return string(b)
	}
	text2 := func(v encoding.TextMarshaler) string {
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	type printed struct{ how, out string }
	var cases []printed
	// Every verb, of the Config, a pointer to it, a struct that holds it, a
	// struct that embeds it, and its secret fields alone. (The formats are
	// variables: vet would refuse %d of a struct.)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []struct {
			what string
			v    any
		}{
			{"", cfg}, {"of a pointer", &cfg}, {"of a struct holding it", app}, {"of a struct embedding it", embedded{cfg, ":8080"}},
			{"of the DSN", cfg.MySQLDSN}, {"of the keys", cfg.EncryptionKeys},
		} {
			cases = append(cases, printed{strings.TrimSpace(verb + " " + v.what), fmt.Sprintf(verb, v.v)})
		}
	}
	for _, tc := range append(cases, []printed{
		{"Println", fmt.Sprintln(cfg)},
		{"json.Marshal", marshal(cfg)},
		{"json.Marshal of a pointer", marshal(&cfg)},
		{"json.Marshal of a struct holding it", marshal(app)},
		{"json.Marshal of a struct embedding it", marshal(embedded{cfg, ":8080"})},
		{"MarshalText of the DSN", text2(cfg.MySQLDSN)},
		{"MarshalText of the keys", text2(cfg.EncryptionKeys)},
		{"slog text, Any", logged(text, slog.Any("cfg", cfg))},
		{"slog text, key and value", logged(text, "cfg", cfg)},
		{"slog text, a struct holding it", logged(text, "app", app)},
		{"slog text, group", logged(text, slog.Group("cfg", "dsn", cfg.MySQLDSN, "keys", cfg.EncryptionKeys))},
		{"slog JSON, Any", logged(jsonLog, slog.Any("cfg", cfg))},
		{"slog JSON, pointer", logged(jsonLog, slog.Any("cfg", &cfg))},
		{"slog JSON, a struct holding it", logged(jsonLog, "app", app)},
		{"slog JSON, group", logged(jsonLog, slog.Group("cfg", "dsn", cfg.MySQLDSN, "keys", cfg.EncryptionKeys))},
		{"LogValue of the DSN", cfg.MySQLDSN.LogValue().String()},
		{"LogValue of the keys", cfg.EncryptionKeys.LogValue().String()},
		{"String of the DSN", cfg.MySQLDSN.String()},
		{"String of the keys", cfg.EncryptionKeys.String()},
	}...) {
		for _, s := range secrets {
			if strings.Contains(tc.out, s) {
				t.Errorf("%s shows a secret (%q):\n%s", tc.how, s, tc.out)
			}
		}
		// Not hidden by showing nothing: where the DSN connects, and how
		// many keys there are, show in every readable form.
		if strings.Contains(tc.how, "%x") || strings.Contains(tc.how, "%X") {
			continue
		}
		if !strings.Contains(tc.how, "keys") && !strings.Contains(tc.out, "db.internal:3306") {
			t.Errorf("%s does not show the DSN's address:\n%s", tc.how, tc.out)
		}
		if !strings.Contains(tc.how, "DSN") && !strings.Contains(tc.out, "1 encryption key, not shown") {
			t.Errorf("%s does not show the number of keys:\n%s", tc.how, tc.out)
		}
	}
	if got, want := cfg.MySQLDSN.String(), "app:xxxxx@tcp(db.internal:3306)/app"; got != want {
		t.Errorf("DSN.String() = %q, want %q", got, want)
	}
	if got := string(cfg.MySQLDSN); !strings.Contains(got, password) {
		t.Errorf("string(DSN) = %q: the DSN itself has lost its password", got)
	}
}

// TestSecretFieldsHaveRedactingTypes keeps the rule for fields added later:
// a setting whose variable names a DSN, key, password, secret or token
// value has a type that decides how it prints in fmt (Formatter), in
// encoders such as encoding/json (TextMarshaler) and in log/slog
// (LogValuer).
func TestSecretFieldsHaveRedactingTypes(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[sessionkit.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if !secretName(name) {
			continue
		}
		for _, iface := range []reflect.Type{reflect.TypeFor[fmt.Formatter](), reflect.TypeFor[encoding.TextMarshaler](), reflect.TypeFor[slog.LogValuer]()} {
			if !f.Type.Implements(iface) {
				t.Errorf("%s (%s) is a secret but its type %v is no %v", f.Name, name, f.Type, iface)
			}
		}
	}
	for _, name := range []string{"SESSION_MYSQL_DSN", "SESSION_ENCRYPTION_KEYS"} {
		if !secretName(name) {
			t.Errorf("secretName(%q) = false", name)
		}
	}
}

// secretName reports whether a variable's name says that its value is or
// holds a secret.
func secretName(name string) bool {
	for _, word := range []string{"DSN", "KEYS", "KEY", "PASSWORD", "SECRET", "CREDENTIAL"} {
		for part := range strings.SplitSeq(name, "_") {
			if part == word {
				return true
			}
		}
	}
	return false
}
