package sessionkit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/go-sql-driver/mysql"
)

// StoreKind selects where sessions are kept.
type StoreKind string

// The stores SESSION_STORE selects.
const (
	// StoreMySQL keeps sessions in a MySQL or MariaDB table, shared by every
	// replica and kept across restarts.
	StoreMySQL StoreKind = "mysql"
	// StoreMemory keeps sessions in the process's memory (scs's memstore):
	// for development only, since sessions are lost on restart and not
	// shared between replicas.
	StoreMemory StoreKind = "memory"
)

// Config is everything the kit needs, read from SESSION_* environment
// variables by LoadConfig. Each field's env tag names its variable and its
// envDefault tag its default; the README's table is checked against them.
//
// A Config built by hand should start from DefaultConfig, since the zero
// value is not valid (its Lifetime is zero). Numbers and durations follow
// the rule of "Configuration rules" in docs/kit.md: zero turns a setting
// off, and a negative value is an error.
type Config struct {
	// MySQLDSN is the go-sql-driver DSN of the database, required with the
	// mysql store. The kit sets parseTime=true, loc=UTC and the session
	// time_zone '+00:00' on its own pool; a DSN that sets them otherwise is
	// refused. It prints with its password masked (see DSN), so a Config
	// can be logged.
	MySQLDSN DSN `env:"SESSION_MYSQL_DSN"`

	// Store is StoreMySQL or StoreMemory.
	Store StoreKind `env:"SESSION_STORE" envDefault:"mysql"`

	// Table is the session table, "name" or "db.name".
	Table string `env:"SESSION_TABLE" envDefault:"sessions"`

	// CreateTable makes New create the recommended table when it is
	// missing, instead of failing.
	CreateTable bool `env:"SESSION_CREATE_TABLE" envDefault:"false"`

	// Lifetime is the absolute lifetime of a session.
	Lifetime time.Duration `env:"SESSION_LIFETIME" envDefault:"24h"`

	// IdleTimeout, when positive, ends a session that has seen no request
	// for that long. Zero turns it off.
	IdleTimeout time.Duration `env:"SESSION_IDLE_TIMEOUT" envDefault:"0"`

	// CleanupInterval is how often expired sessions are deleted; zero turns
	// the background cleanup off.
	CleanupInterval time.Duration `env:"SESSION_CLEANUP_INTERVAL" envDefault:"5m"`

	// CleanupBatchSize is the most rows one cleanup statement deletes.
	CleanupBatchSize int `env:"SESSION_CLEANUP_BATCH" envDefault:"1000"`

	// HashToken stores the SHA-256 of each token instead of the token
	// (scs's HashTokenInStore), so that a leaked table holds no usable
	// session cookies. Each row then carries a 4-byte header that marks it
	// as stored under a hash (see mysql.Config.HashedTokens).
	HashToken bool `env:"SESSION_HASH_TOKEN" envDefault:"true"`
	// UpgradePlainTokens keeps the sessions of a table whose rows are
	// stored under plain tokens (by scs's mysqlstore, or with
	// SESSION_HASH_TOKEN=false) once HashToken is on: a request whose
	// cookie's session is stored under the plain token has its row moved to
	// the hash on first use (see mysql.Config.UpgradePlainTokens and the
	// README's "Upgrading"). It needs HashToken, and a table the operator
	// has marked as one of plain tokens (mysql.PlainTokensComment): New
	// fails on any other, saying how to mark it. While it is on, a request
	// with an unknown cookie costs two lookups instead of one, so turn it
	// off once `sessionkit upgrade-tokens` has run.
	UpgradePlainTokens bool `env:"SESSION_UPGRADE_PLAIN_TOKENS" envDefault:"false"`
	// EncryptionKeys encrypts session data at rest with AES-256-GCM when
	// not empty: a comma-separated list of keys, each the base64 of 32
	// random bytes (openssl rand -base64 32). The first encrypts, all
	// decrypt: rotate by putting a new key first, and drop the old one once
	// SESSION_LIFETIME has passed. Errors never show the keys. See
	// mysql.Config.EncryptionKeys. The memory store ignores it.
	EncryptionKeys EncryptionKeys `env:"SESSION_ENCRYPTION_KEYS"`
	// RequireEncryption refuses every stored session that is not encrypted:
	// it is no session, logged and counted (Stats().UnreadableSessions), so
	// that someone who can write to the table but holds no key cannot make
	// one. It needs EncryptionKeys. Turn it on once every session is
	// encrypted: SESSION_LIFETIME after every replica runs with the keys.
	// See mysql.Config.RequireEncryption.
	RequireEncryption bool `env:"SESSION_REQUIRE_ENCRYPTION" envDefault:"false"`

	// CookieName is the name of the session cookie. Empty, the default,
	// picks "__Host-session" where the cookie's attributes allow the
	// __Host- prefix (Secure, Path "/", no Domain: the defaults) and
	// "session" otherwise; see SessionCookieName. A name with the __Host-
	// or __Secure- prefix whose attributes browsers would reject is an
	// error.
	CookieName string `env:"SESSION_COOKIE_NAME"`
	// CookieLegacyName names the cookie that held the session before an
	// upgrade changed its name, such as "session" before the default
	// became "__Host-session": while it is set, the middleware adopts the
	// session of a request that carries it and not CookieName's (the
	// session is kept and moves to the new cookie, and the old cookie is
	// expired). Empty, the default, and "none" adopt no cookie: set it for
	// the upgrade window only, since a sibling subdomain can plant a cookie
	// of a name without the __Host- prefix in a visitor's browser. See
	// LegacyCookieName.
	CookieLegacyName string `env:"SESSION_COOKIE_LEGACY_NAME"`
	// CookieDomain is the cookie's Domain attribute; empty means the host
	// that set it.
	CookieDomain string `env:"SESSION_COOKIE_DOMAIN"`
	// CookiePath is the cookie's Path attribute.
	CookiePath string `env:"SESSION_COOKIE_PATH" envDefault:"/"`
	// CookieSecure sets the Secure attribute. Browsers accept Secure
	// cookies from http://localhost, so it can stay on in development.
	CookieSecure bool `env:"SESSION_COOKIE_SECURE" envDefault:"true"`
	// CookieHTTPOnly sets the HttpOnly attribute.
	CookieHTTPOnly bool `env:"SESSION_COOKIE_HTTP_ONLY" envDefault:"true"`
	// CookieSameSite is the SameSite attribute; http.SameSiteDefaultMode
	// ("default") sends none.
	CookieSameSite http.SameSite `env:"SESSION_COOKIE_SAME_SITE" envDefault:"lax"`
	// CookiePersist gives the cookie Expires and Max-Age, so that it
	// outlives the browser session.
	CookiePersist bool `env:"SESSION_COOKIE_PERSIST" envDefault:"true"`
	// CookiePartitioned sets the Partitioned attribute (CHIPS); it needs
	// CookieSecure.
	CookiePartitioned bool `env:"SESSION_COOKIE_PARTITIONED" envDefault:"false"`

	// DBMaxOpenConns is the most open connections of the kit's pool; zero
	// means no limit.
	DBMaxOpenConns int `env:"SESSION_DB_MAX_OPEN_CONNS" envDefault:"25"`
	// DBMaxIdleConns is the most idle connections the pool keeps; zero
	// keeps none.
	DBMaxIdleConns int `env:"SESSION_DB_MAX_IDLE_CONNS" envDefault:"25"`
	// DBConnMaxLifetime is how long a connection is reused at most; zero
	// means forever.
	DBConnMaxLifetime time.Duration `env:"SESSION_DB_CONN_MAX_LIFETIME" envDefault:"5m"`
	// DBQueryTimeout bounds every store query, so that a stuck database
	// cannot hold requests forever; zero means no bound beyond the
	// request's context. New also sets it, rounded up to whole seconds, as
	// innodb_lock_wait_timeout on its pool (unless the DSN sets that), so
	// that the server abandons a write whose request has already failed
	// instead of applying it when the lock is released.
	DBQueryTimeout time.Duration `env:"SESSION_DB_QUERY_TIMEOUT" envDefault:"5s"`
	// DBMaxInflight is how many session reads, and separately how many
	// session writes, run at once as statements; requests that arrive while
	// that many run are batched into the next statement of their kind (the
	// store's MaxInflight). Zero turns batching off: every request has a
	// statement of its own.
	DBMaxInflight int `env:"SESSION_DB_MAX_INFLIGHT" envDefault:"4"`

	// TrustedProxies are the reverse proxies, as CIDR prefixes
	// ("10.0.0.0/8") or single addresses, whose forwarding headers the kit
	// believes: X-Forwarded-Proto when it tells a request that came over
	// HTTPS from one that came over plain HTTP (see
	// Kit.SecureCookieOverHTTP), and X-Forwarded-For or Forwarded for the
	// client's address it records with a user's session (see Kit.Sessions).
	// Empty, the default, believes no one.
	TrustedProxies []netip.Prefix `env:"SESSION_TRUSTED_PROXIES"`

	// RecordIP records the client's address with each session bound to a
	// user (see Kit.Login), for the user's list of sessions; false records
	// none.
	RecordIP bool `env:"SESSION_RECORD_IP" envDefault:"true"`
	// RecordUserAgent records the browser's User-Agent header, cut to 255
	// bytes, with each session bound to a user; false records none.
	RecordUserAgent bool `env:"SESSION_RECORD_USER_AGENT" envDefault:"true"`

	// Logger receives store errors, cleanup errors and warnings
	// (slog.Default() if nil). It has no environment variable.
	Logger *slog.Logger `env:"-"`
}

// LoadConfig reads the configuration from the process environment; see
// LoadConfigFrom.
func LoadConfig() (Config, error) {
	return LoadConfigFrom(processEnv())
}

// processEnv is the process environment as a map.
func processEnv() map[string]string {
	environ := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			environ[k] = v
		}
	}
	return environ
}

// LoadConfigFrom reads the configuration from environ, a map of variable
// names to values, and validates it. Unset variables, and variables set to
// the empty string, take their defaults. Durations use Go syntax ("90m",
// "24h"), booleans are true, false, 1 or 0, and SESSION_COOKIE_SAME_SITE is
// lax, strict, none or default, in any letter case.
//
// The error, a *ConfigError, names every bad variable with its value (a
// DSN's password is never shown), not just the first.
func LoadConfigFrom(environ map[string]string) (Config, error) {
	cfg, _, err := loadConfigFrom(environ)
	return cfg, err
}

// loadConfigFrom is LoadConfigFrom, and returns the DSN as parseDSN read
// it too (nil with the memory store), so that FromEnv reads it once.
func loadConfigFrom(environ map[string]string) (Config, *mysql.Config, error) {
	if environ == nil {
		environ = map[string]string{} // env would read the process environment
	}
	cfg, err := parseEnv(environ)
	var problems []*VarError
	failed := map[string]bool{}
	if err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			agg.Errors = []error{err}
		}
		for _, e := range agg.Errors {
			p := varErrorFromEnv(e, environ)
			failed[p.Var] = true
			problems = append(problems, p)
		}
	}
	more, dsn := cfg.check(true, environ, failed)
	problems = append(problems, more...)
	if len(problems) > 0 {
		order := varOrder()
		slices.SortStableFunc(problems, func(a, b *VarError) int { return order[a.Var] - order[b.Var] })
		return Config{}, nil, &ConfigError{Problems: problems}
	}
	return cfg, dsn, nil
}

// varOrder numbers the variables in the order of Config's fields.
func varOrder() map[string]int {
	t := reflect.TypeFor[Config]()
	order := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		order[name] = i
	}
	return order
}

// DefaultConfig returns the configuration of an empty environment: every
// default, and no DSN.
func DefaultConfig() Config {
	cfg, _ := parseEnv(map[string]string{}) // the defaults always parse
	return cfg
}

// parseEnv fills a Config from environ and the tags, without validation.
func parseEnv(environ map[string]string) (Config, error) {
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{
		Environment: environ,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[bool]():           parseBool,
			reflect.TypeFor[int]():            parseInt,
			reflect.TypeFor[time.Duration]():  parseDuration,
			reflect.TypeFor[http.SameSite]():  parseSameSite,
			reflect.TypeFor[StoreKind]():      parseStoreKind,
			reflect.TypeFor[[]netip.Prefix](): parsePrefixes,
			reflect.TypeFor[EncryptionKeys](): parseEncryptionKeys,
		},
	})
	return cfg, err
}

// varErrorFromEnv turns one of env's errors into a VarError naming the
// variable of the field and its raw value.
func varErrorFromEnv(err error, environ map[string]string) *VarError {
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return &VarError{Var: name, Value: displayValue(name, environ[name]), Err: pe.Err}
		}
	}
	return &VarError{Var: "SESSION_*", Err: err}
}

func parseBool(s string) (any, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return nil, errors.New("want true, false, 1 or 0")
}

func parseInt(s string) (any, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, errors.New("not a whole number")
	}
	return n, nil
}

func parseDuration(s string) (any, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, errors.New("not a duration: use Go syntax such as 90m or 24h")
	}
	return d, nil
}

func parseSameSite(s string) (any, error) {
	switch strings.ToLower(s) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	case "default":
		return http.SameSiteDefaultMode, nil
	}
	return nil, errors.New("want lax, strict, none or default")
}

func parseStoreKind(s string) (any, error) {
	switch k := StoreKind(strings.ToLower(s)); k {
	case StoreMySQL, StoreMemory:
		return k, nil
	}
	return nil, errors.New("want mysql or memory")
}

// parsePrefixes reads a comma-separated list of CIDR prefixes and single
// addresses, such as "10.0.0.0/8, 192.168.1.10, fd00::/8".
func parsePrefixes(s string) (any, error) {
	var prefixes []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			addr, aerr := netip.ParseAddr(entry)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR prefix such as 10.0.0.0/8 nor an address: want a comma-separated list of them", entry)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

// sameSiteName is the SESSION_COOKIE_SAME_SITE spelling of a mode.
func sameSiteName(m http.SameSite) string {
	switch m {
	case http.SameSiteLaxMode:
		return "lax"
	case http.SameSiteStrictMode:
		return "strict"
	case http.SameSiteNoneMode:
		return "none"
	case http.SameSiteDefaultMode:
		return "default"
	}
	return strconv.Itoa(int(m))
}

// VarError is one bad setting: the variable, its value as given (with a
// DSN's password masked, and SESSION_ENCRYPTION_KEYS's never shown) and
// what is wrong with it.
type VarError struct {
	Var   string // the environment variable, such as SESSION_LIFETIME
	Value string // its value as given; a DSN's password is masked; empty for a secret
	Err   error  // what is wrong with it
}

// Error reads like `SESSION_LIFETIME "-5m": must be positive`, or, for a
// variable whose value is secret, `SESSION_ENCRYPTION_KEYS: key 2 of 3: ...`.
func (e *VarError) Error() string {
	if isSecret(e.Var) {
		return fmt.Sprintf("%s: %v", e.Var, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Var, e.Value, e.Err)
}

// Unwrap returns the underlying problem.
func (e *VarError) Unwrap() error { return e.Err }

// ConfigError lists every bad setting found in one pass, so that a
// deployment can be fixed in one go. Use errors.As to reach the VarErrors.
type ConfigError struct {
	Problems []*VarError
}

// Error names every bad variable with its value.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "sessionkit: " + e.Problems[0].Error()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return fmt.Sprintf("sessionkit: %d invalid settings: %s", len(e.Problems), strings.Join(parts, "; "))
}

// Unwrap returns the VarErrors, for errors.As and errors.Is.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
