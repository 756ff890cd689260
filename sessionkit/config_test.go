package sessionkit_test

import (
	"database/sql"
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

const testDSN = "app:hunter2secret@tcp(db.internal:3306)/app"

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": testDSN})
	if err != nil {
		t.Fatal(err)
	}
	want := sessionkit.Config{
		MySQLDSN:          testDSN,
		Store:             sessionkit.StoreMySQL,
		Table:             "sessions",
		Lifetime:          24 * time.Hour,
		CleanupInterval:   5 * time.Minute,
		CleanupBatchSize:  1000,
		HashToken:         true,
		CookiePath:        "/",
		CookieSecure:      true,
		CookieHTTPOnly:    true,
		CookieSameSite:    http.SameSiteLaxMode,
		CookiePersist:     true,
		DBMaxOpenConns:    25,
		DBMaxIdleConns:    25,
		DBConnMaxLifetime: 5 * time.Minute,
		DBQueryTimeout:    5 * time.Second,
		DBMaxInflight:     4,
		RecordIP:          true,
		RecordUserAgent:   true,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	def := sessionkit.DefaultConfig()
	want.MySQLDSN = ""
	if !reflect.DeepEqual(def, want) {
		t.Errorf("DefaultConfig:\n got %+v\nwant %+v", def, want)
	}
}

func TestLoadConfigParsesEveryVariable(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{
		"SESSION_MYSQL_DSN":            testDSN + "?parseTime=true&loc=UTC",
		"SESSION_STORE":                "MySQL",
		"SESSION_TABLE":                "app.web_sessions",
		"SESSION_CREATE_TABLE":         "1",
		"SESSION_LIFETIME":             "90m",
		"SESSION_IDLE_TIMEOUT":         "20m",
		"SESSION_CLEANUP_INTERVAL":     "0",
		"SESSION_CLEANUP_BATCH":        "50",
		"SESSION_HASH_TOKEN":           "FALSE",
		"SESSION_COOKIE_NAME":          "__Secure-sid",
		"SESSION_COOKIE_LEGACY_NAME":   "sid",
		"SESSION_COOKIE_DOMAIN":        "example.com",
		"SESSION_COOKIE_PATH":          "/app",
		"SESSION_COOKIE_SECURE":        "true",
		"SESSION_COOKIE_HTTP_ONLY":     "0",
		"SESSION_COOKIE_SAME_SITE":     "None",
		"SESSION_COOKIE_PERSIST":       "false",
		"SESSION_COOKIE_PARTITIONED":   "True",
		"SESSION_DB_MAX_OPEN_CONNS":    "0",
		"SESSION_DB_MAX_IDLE_CONNS":    "3",
		"SESSION_DB_CONN_MAX_LIFETIME": "1h30m",
		"SESSION_DB_QUERY_TIMEOUT":     "250ms",
		"SESSION_DB_MAX_INFLIGHT":      "0",
		"SESSION_TRUSTED_PROXIES":      "10.0.0.0/8, 192.168.1.10,fd00::/8,",
		"SESSION_RECORD_IP":            "false",
		"SESSION_RECORD_USER_AGENT":    "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := sessionkit.Config{
		MySQLDSN:          testDSN + "?parseTime=true&loc=UTC",
		Store:             sessionkit.StoreMySQL,
		Table:             "app.web_sessions",
		CreateTable:       true,
		Lifetime:          90 * time.Minute,
		IdleTimeout:       20 * time.Minute,
		CleanupBatchSize:  50,
		CookieName:        "__Secure-sid",
		CookieLegacyName:  "sid",
		CookieDomain:      "example.com",
		CookiePath:        "/app",
		CookieSecure:      true,
		CookieSameSite:    http.SameSiteNoneMode,
		CookiePartitioned: true,
		DBMaxIdleConns:    3,
		DBConnMaxLifetime: 90 * time.Minute,
		DBQueryTimeout:    250 * time.Millisecond,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"),
			netip.MustParsePrefix("fd00::/8")},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("\n got %+v\nwant %+v", cfg, want)
	}
}

func TestSameSiteValuesInAnyCase(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]http.SameSite{
		"lax": http.SameSiteLaxMode, "STRICT": http.SameSiteStrictMode,
		"nOnE": http.SameSiteNoneMode, "Default": http.SameSiteDefaultMode,
	} {
		cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SAME_SITE": value})
		if err != nil {
			t.Errorf("%s: %v", value, err)
		} else if cfg.CookieSameSite != want {
			t.Errorf("%s: got %v, want %v", value, cfg.CookieSameSite, want)
		}
	}
}

func TestEmptyVariableTakesDefault(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": ""})
	if err != nil || cfg.Lifetime != 24*time.Hour {
		t.Fatalf("got %v, %v; want 24h", cfg.Lifetime, err)
	}
}

// TestLoadConfigRejects checks each invalid setting on its own: the error
// names the variable, shows the value and says what is wrong.
func TestLoadConfigRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		varName string
		wants   []string
	}{
		{"missing DSN", map[string]string{}, "SESSION_MYSQL_DSN", []string{"required"}},
		{"unparsable DSN", map[string]string{"SESSION_MYSQL_DSN": "app:pw@db.internal:3306"}, "SESSION_MYSQL_DSN", []string{"not a valid go-sql-driver DSN"}},
		{"parseTime off", map[string]string{"SESSION_MYSQL_DSN": testDSN + "?parseTime=false"}, "SESSION_MYSQL_DSN", []string{"parseTime=false"}},
		{"local loc", map[string]string{"SESSION_MYSQL_DSN": testDSN + "?loc=Local"}, "SESSION_MYSQL_DSN", []string{"loc=Local", "loc=UTC"}},
		{"other time zone", map[string]string{"SESSION_MYSQL_DSN": testDSN + "?time_zone=%27Europe%2FBerlin%27"}, "SESSION_MYSQL_DSN", []string{"time_zone='Europe/Berlin'", "'+00:00'"}},
		{"unknown store", map[string]string{"SESSION_STORE": "redis"}, "SESSION_STORE", []string{`"redis"`, "mysql or memory"}},
		{"bad table", map[string]string{"SESSION_STORE": "memory", "SESSION_TABLE": "sessions; DROP TABLE users"}, "SESSION_TABLE", []string{"db.name"}},
		{"three-part table", map[string]string{"SESSION_STORE": "memory", "SESSION_TABLE": "a.b.c"}, "SESSION_TABLE", []string{"db.name"}},
		{"zero lifetime", map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": "0"}, "SESSION_LIFETIME", []string{`"0"`, "must be positive"}},
		{"negative lifetime", map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": "-5m"}, "SESSION_LIFETIME", []string{`SESSION_LIFETIME "-5m": must be positive`}},
		{"lifetime without unit", map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": "3600"}, "SESSION_LIFETIME", []string{"Go syntax"}},
		{"negative idle timeout", map[string]string{"SESSION_STORE": "memory", "SESSION_IDLE_TIMEOUT": "-1s"}, "SESSION_IDLE_TIMEOUT", []string{"negative"}},
		{"idle longer than lifetime", map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": "1h", "SESSION_IDLE_TIMEOUT": "2h"}, "SESSION_IDLE_TIMEOUT", []string{"SESSION_LIFETIME"}},
		{"negative cleanup interval", map[string]string{"SESSION_STORE": "memory", "SESSION_CLEANUP_INTERVAL": "-1m"}, "SESSION_CLEANUP_INTERVAL", []string{"negative"}},
		{"zero batch", map[string]string{"SESSION_STORE": "memory", "SESSION_CLEANUP_BATCH": "0"}, "SESSION_CLEANUP_BATCH", []string{"at least 1"}},
		{"batch not a number", map[string]string{"SESSION_STORE": "memory", "SESSION_CLEANUP_BATCH": "many"}, "SESSION_CLEANUP_BATCH", []string{`"many"`}},
		{"yes is not a boolean", map[string]string{"SESSION_STORE": "memory", "SESSION_HASH_TOKEN": "yes"}, "SESSION_HASH_TOKEN", []string{"true, false, 1 or 0"}},
		{"unknown SameSite", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SAME_SITE": "loose"}, "SESSION_COOKIE_SAME_SITE", []string{`"loose"`}},
		{"SameSite=None without Secure", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SAME_SITE": "none", "SESSION_COOKIE_SECURE": "false"}, "SESSION_COOKIE_SAME_SITE", []string{"SESSION_COOKIE_SECURE"}},
		{"Partitioned without Secure", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_PARTITIONED": "true", "SESSION_COOKIE_SECURE": "false"}, "SESSION_COOKIE_PARTITIONED", []string{"SESSION_COOKIE_SECURE"}},
		{"bad cookie name", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_NAME": "my session"}, "SESSION_COOKIE_NAME", []string{"cookie name"}},
		{"bad cookie path", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_PATH": "/a;b"}, "SESSION_COOKIE_PATH", []string{"cookie path"}},
		{"bad cookie domain", map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_DOMAIN": "exa mple.com"}, "SESSION_COOKIE_DOMAIN", []string{"cookie domain"}},
		{"negative open conns", map[string]string{"SESSION_STORE": "memory", "SESSION_DB_MAX_OPEN_CONNS": "-1"}, "SESSION_DB_MAX_OPEN_CONNS", []string{"negative"}},
		{"negative idle conns", map[string]string{"SESSION_STORE": "memory", "SESSION_DB_MAX_IDLE_CONNS": "-2"}, "SESSION_DB_MAX_IDLE_CONNS", []string{"negative"}},
		{"negative conn lifetime", map[string]string{"SESSION_STORE": "memory", "SESSION_DB_CONN_MAX_LIFETIME": "-1s"}, "SESSION_DB_CONN_MAX_LIFETIME", []string{"negative"}},
		{"negative query timeout", map[string]string{"SESSION_STORE": "memory", "SESSION_DB_QUERY_TIMEOUT": "-1s"}, "SESSION_DB_QUERY_TIMEOUT", []string{"negative"}},
		{"negative max inflight", map[string]string{"SESSION_STORE": "memory", "SESSION_DB_MAX_INFLIGHT": "-1"}, "SESSION_DB_MAX_INFLIGHT", []string{`"-1"`, "negative"}},
		{"password in the network's place", map[string]string{"SESSION_MYSQL_DSN": "app:hunter2secret(127.0.0.1:3306)/app"}, "SESSION_MYSQL_DSN", []string{"tcp, tcp4, tcp6 or unix", "'@'", "NewWithDB", `"app:xxxxx(127.0.0.1:3306)/app"`}},
		{"proxy not a prefix", map[string]string{"SESSION_STORE": "memory", "SESSION_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "SESSION_TRUSTED_PROXIES", []string{`"10.0.0.0/8,proxy.internal"`, `"proxy.internal" is neither a CIDR prefix`}},
		{"proxy prefix too long", map[string]string{"SESSION_STORE": "memory", "SESSION_TRUSTED_PROXIES": "10.0.0.0/33"}, "SESSION_TRUSTED_PROXIES", []string{`"10.0.0.0/33"`}},
		{"registered network", map[string]string{"SESSION_MYSQL_DSN": "app:hunter2secret@cloudsql(project:region:db)/app"}, "SESSION_MYSQL_DSN", []string{"mysql.RegisterDialContext needs NewWithDB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sessionkit.LoadConfigFrom(tt.env)
			if err == nil {
				t.Fatal("no error")
			}
			var cerr *sessionkit.ConfigError
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || cerr.Problems[0].Var != tt.varName {
				t.Fatalf("want one problem with %s, got %v", tt.varName, err)
			}
			msg := err.Error()
			for _, want := range append([]string{"sessionkit: " + tt.varName + " "}, tt.wants...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error shows the DSN password: %s", msg)
			}
		})
	}
}

func TestLoadConfigReportsEveryBadVariableAtOnce(t *testing.T) {
	t.Parallel()
	_, err := sessionkit.LoadConfigFrom(map[string]string{
		"SESSION_LIFETIME":         "forever",
		"SESSION_IDLE_TIMEOUT":     "-1m",
		"SESSION_CLEANUP_BATCH":    "0",
		"SESSION_COOKIE_SAME_SITE": "sideways",
		"SESSION_HASH_TOKEN":       "maybe",
	})
	var cerr *sessionkit.ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("want a *ConfigError, got %v", err)
	}
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.Var)
	}
	want := []string{"SESSION_MYSQL_DSN", "SESSION_LIFETIME", "SESSION_IDLE_TIMEOUT", "SESSION_CLEANUP_BATCH",
		"SESSION_HASH_TOKEN", "SESSION_COOKIE_SAME_SITE"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems for %v, want %v\n%v", got, want, err)
	}
	for _, v := range []string{`"forever"`, `"-1m"`, `"0"`, `"sideways"`, `"maybe"`} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error does not show %s: %v", v, err)
		}
	}
}

// TestDSNErrorsNeverShowThePassword feeds malformed DSNs whose password is
// "hunter2secret" and checks that no error shows any of it.
func TestDSNErrorsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"app:hunter2secret@db.internal:3306",
		"app:hunter2secret@tcp(db.internal:3306/app",
		"app:hunter2secret@tcp(db.internal:3306)/app?parseTime=maybe",
		"app:hunter2secret@tcp(db.internal:3306)/app?loc=Mars%2FOlympus",
		"app:hunter2secret@tcp(db.internal:3306)/app?loc=Local&time_zone=%27%2B01:00%27",
		"app:hunter2secret",
		"app:hunter2secret@unix",
		"app:hunt/er2secret@tcp(x)",
		"app:hunter2secret@tcp(x)/%zz",
		// Without the '@' the driver reads "app:hunter2secret" as the
		// network, and would dial it.
		"app:hunter2secret(127.0.0.1:3306)/app",
		"app:hunter2secret(127.0.0.1:3306)/app?loc=Local",
		"app:hunter2secret(127.0.0.1:3306)/app?parseTime=false&time_zone=%27%2B01:00%27",
		"app:hunter2secret/app",
		"app:hunter2secret(127.0.0.1:3306)/",
		"app:hunter2secret(127.0.0.1:3306",
		"app@x:hunter2secret(127.0.0.1)/app",
		"app:hunt@er2secret(127.0.0.1)/app",
		"app:hunter2secret@cloudsql(project:db)/app?loc=Local",
		"hunter2secret(127.0.0.1)/app",
	} {
		_, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": dsn})
		if err == nil {
			t.Errorf("%s: no error", dsn)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "hunter") || strings.Contains(msg, "secret") || strings.Contains(msg, "2sec") {
			t.Errorf("error shows the password: %s", msg)
		}
	}
}

// TestTableNameRuleMatchesStore checks that LoadConfig accepts exactly the
// table names the store accepts.
func TestTableNameRuleMatchesStore(t *testing.T) {
	t.Parallel()
	connector, err := mysql.NewConnector(mysql.NewConfig()) // never connects
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	for _, name := range []string{"sessions", "app.sessions", "s$1", "_", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "a.b.c", ".sessions", "app.", "ses-sions", "ses sions", "`x`", "名前", ""} {
		_, cfgErr := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_TABLE": name})
		storeCfg := sessionmysql.DefaultConfig()
		storeCfg.Table, storeCfg.CleanupInterval = name, 0
		store, storeErr := sessionmysql.NewWithConfig(db, storeCfg)
		if store != nil {
			store.Close()
		}
		if name == "" {
			continue // empty means the default to both
		}
		if (cfgErr == nil) != (storeErr == nil) {
			t.Errorf("table %q: config says %v, store says %v", name, cfgErr, storeErr)
		}
	}
}

// FuzzLoadConfig checks that no environment makes LoadConfig panic, that
// every rejected one gets an error naming a SESSION_ variable, and that no
// error shows the DSN's password, whatever the DSN looks like: with or
// without its '@', parsable or not.
func FuzzLoadConfig(f *testing.F) {
	f.Add(testDSN, "mysql", "sessions", "24h", "0", "5m", "1000", "true", "lax", "session", "/", "25")
	f.Add("", "memory", "a.b", "-5m", "1h", "0", "0", "yes", "none", "a b", "/;", "-1")
	f.Add(testDSN+"?parseTime=false&loc=Local", "MYSQL", "x$", "1ns", "2ns", "-0s", "1e3", "1", "DEFAULT", "", "", "0x10")
	f.Add("app:hunter2secret@tcp(h)/%zz", "memory", "", "90m", "", "", "", "", "", "", "", "")
	f.Add("app:hunter2secret(127.0.0.1:3306)/app?loc=Local", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("app:hunter2secret/app", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("app:hunter2secret(h", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("app@x:hunter2secret@mynet(h)/app?parseTime=0", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("mysql://app:hunter2secret@localhost:3306/app?tls=true", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("mysql://app:hunter2secret@tcp(localhost:3306)/app", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("mysql://hunter2secret@h(x)/app", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("app:hunter2secret@db:3306/app", "", "", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, dsn, store, table, lifetime, idle, cleanup, batch, hash, sameSite, name, path, conns string) {
		environ := map[string]string{
			"SESSION_MYSQL_DSN": dsn, "SESSION_STORE": store, "SESSION_TABLE": table,
			"SESSION_LIFETIME": lifetime, "SESSION_IDLE_TIMEOUT": idle, "SESSION_CLEANUP_INTERVAL": cleanup,
			"SESSION_CLEANUP_BATCH": batch, "SESSION_HASH_TOKEN": hash, "SESSION_COOKIE_SAME_SITE": sameSite,
			"SESSION_COOKIE_NAME": name, "SESSION_COOKIE_PATH": path, "SESSION_DB_MAX_OPEN_CONNS": conns,
		}
		cfg, err := sessionkit.LoadConfigFrom(environ)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("LoadConfig accepted what Validate rejects: %v", verr)
			}
			return
		}
		var cerr *sessionkit.ConfigError
		if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
			t.Fatalf("error is not a *ConfigError with problems: %v", err)
		}
		for _, p := range cerr.Problems {
			if !strings.HasPrefix(p.Var, "SESSION_") || p.Var == "SESSION_*" || !strings.Contains(err.Error(), p.Var) {
				t.Fatalf("problem names no variable: %v", p)
			}
		}
		all := strings.Join([]string{dsn, store, table, lifetime, idle, cleanup, batch, hash, sameSite, name, path, conns}, " ")
		if strings.Count(all, "hunter2") == 1 && hasPassword(dsn, "hunter2") && strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error shows the DSN password: %v", err)
		}
	})
}

// hasPassword reports whether secret is in dsn where it is, or was meant
// as, a password: in the password the driver reads, or right after the
// first ':' where that ':' comes before any '(' and before the last '/' —
// user:password, whether the '@' that should follow is there or not.
func hasPassword(dsn, secret string) bool {
	if cfg, err := mysql.ParseDSN(dsn); err == nil && strings.Contains(cfg.Passwd, secret) {
		return true
	}
	colon := strings.IndexByte(dsn, ':')
	if colon < 0 || !strings.HasPrefix(dsn[colon+1:], secret) {
		return false
	}
	paren, slash := strings.IndexByte(dsn, '('), strings.LastIndexByte(dsn, '/')
	return (paren < 0 || colon < paren) && (slash < 0 || colon < slash)
}
