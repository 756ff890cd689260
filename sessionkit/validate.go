package sessionkit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-sql-driver/mysql"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Validate reports every invalid setting of c as a *ConfigError, naming
// each by its environment variable. New calls it; LoadConfig already has.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate is Validate, and returns the DSN as parseDSN read it too, or nil
// with the memory store.
func (c Config) validate() (*mysql.Config, error) {
	problems, dsn := c.check(true, nil, nil)
	return dsn, problemsError(problems)
}

func problemsError(problems []*VarError) error {
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems}
}

// check returns a VarError for each invalid setting, and the DSN as
// parseDSN read it if it is valid. raw holds the values as given in the
// environment, shown in errors in place of the parsed ones; variables in
// failed did not parse and are not checked again. requireDSN is false for
// NewWithDB, which brings its own pool.
func (c Config) check(requireDSN bool, raw map[string]string, failed map[string]bool) (problems []*VarError, dsn *mysql.Config) {
	bad := func(name, value string, format string, args ...any) {
		if failed[name] {
			return
		}
		if v, ok := raw[name]; ok && v != "" {
			value = v
		}
		problems = append(problems, &VarError{Var: name, Value: displayValue(name, value), Err: fmt.Errorf(format, args...)})
	}
	ok := func(name string) bool { return !failed[name] }

	switch c.Store {
	case StoreMySQL:
		if requireDSN {
			var err error
			if c.MySQLDSN == "" {
				bad("SESSION_MYSQL_DSN", "", "required with SESSION_STORE=mysql")
			} else if dsn, err = parseDSN(string(c.MySQLDSN)); err != nil {
				bad("SESSION_MYSQL_DSN", string(c.MySQLDSN), "%w", err)
			}
		}
	case StoreMemory:
	default:
		bad("SESSION_STORE", string(c.Store), "want mysql or memory")
	}
	if err := checkTableName(c.Table); err != nil {
		bad("SESSION_TABLE", c.Table, "%w", err)
	}

	if c.Lifetime <= 0 {
		bad("SESSION_LIFETIME", c.Lifetime.String(), "must be positive")
	}
	if c.IdleTimeout < 0 {
		bad("SESSION_IDLE_TIMEOUT", c.IdleTimeout.String(), "must not be negative (0 turns it off)")
	} else if ok("SESSION_LIFETIME") && c.Lifetime > 0 && c.IdleTimeout > c.Lifetime {
		bad("SESSION_IDLE_TIMEOUT", c.IdleTimeout.String(), "must not be longer than SESSION_LIFETIME (%v)", c.Lifetime)
	}
	if c.CleanupInterval < 0 {
		bad("SESSION_CLEANUP_INTERVAL", c.CleanupInterval.String(), "must not be negative (0 turns cleanup off)")
	}
	if c.CleanupBatchSize < 1 {
		bad("SESSION_CLEANUP_BATCH", strconv.Itoa(c.CleanupBatchSize), "must be at least 1")
	}

	c.checkCookieNames(bad, ok)
	if c.CookieDomain != "" {
		if err := (&http.Cookie{Name: "n", Domain: c.CookieDomain}).Valid(); err != nil {
			bad("SESSION_COOKIE_DOMAIN", c.CookieDomain, "not a valid cookie domain")
		}
	}
	if err := (&http.Cookie{Name: "n", Path: c.CookiePath}).Valid(); err != nil {
		bad("SESSION_COOKIE_PATH", c.CookiePath, "not a valid cookie path (no ';' or control characters)")
	}
	switch c.CookieSameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteDefaultMode:
	case http.SameSiteNoneMode:
		if !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
			bad("SESSION_COOKIE_SAME_SITE", "none", "needs SESSION_COOKIE_SECURE=true: browsers reject SameSite=None cookies without Secure")
		}
	default:
		bad("SESSION_COOKIE_SAME_SITE", sameSiteName(c.CookieSameSite), "want lax, strict, none or default")
	}
	if c.CookiePartitioned && !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
		bad("SESSION_COOKIE_PARTITIONED", "true", "needs SESSION_COOKIE_SECURE=true: browsers reject Partitioned cookies without Secure")
	}

	if c.DBMaxOpenConns < 0 {
		bad("SESSION_DB_MAX_OPEN_CONNS", strconv.Itoa(c.DBMaxOpenConns), "must not be negative (0 means no limit)")
	}
	if c.DBMaxIdleConns < 0 {
		bad("SESSION_DB_MAX_IDLE_CONNS", strconv.Itoa(c.DBMaxIdleConns), "must not be negative (0 keeps no idle connections)")
	}
	if c.DBConnMaxLifetime < 0 {
		bad("SESSION_DB_CONN_MAX_LIFETIME", c.DBConnMaxLifetime.String(), "must not be negative (0 means no limit)")
	}
	if c.DBQueryTimeout < 0 {
		bad("SESSION_DB_QUERY_TIMEOUT", c.DBQueryTimeout.String(), "must not be negative (0 means no limit)")
	}
	if c.DBMaxInflight < 0 {
		bad("SESSION_DB_MAX_INFLIGHT", strconv.Itoa(c.DBMaxInflight), "must not be negative (0 turns batching off)")
	}
	if c.UpgradePlainTokens && !c.HashToken && ok("SESSION_HASH_TOKEN") {
		bad("SESSION_UPGRADE_PLAIN_TOKENS", "true", "needs SESSION_HASH_TOKEN=true: plain tokens are upgraded to their hashes")
	}
	if err := sessionmysql.CheckEncryptionKeys(c.EncryptionKeys); err != nil {
		bad("SESSION_ENCRYPTION_KEYS", "", "%w", err)
	}
	if c.RequireEncryption && len(c.EncryptionKeys) == 0 && ok("SESSION_ENCRYPTION_KEYS") {
		bad("SESSION_REQUIRE_ENCRYPTION", "true", "needs SESSION_ENCRYPTION_KEYS: it refuses every session that is not encrypted")
	}
	return problems, dsn
}

// checkTableName applies the store's rule, without the store's prefix: the
// caller names the variable.
func checkTableName(name string) error {
	if err := sessionmysql.ValidateTableName(name); err != nil {
		return errors.New("want name or db.name, each 1 to 64 letters, digits, '_' or '$'")
	}
	return nil
}
