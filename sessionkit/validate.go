package sessionkit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Validate reports every invalid setting of c as a *ConfigError, naming
// each by its environment variable. New calls it; LoadConfig already has.
func (c Config) Validate() error {
	return problemsError(c.check(true, nil, nil))
}

func problemsError(problems []*VarError) error {
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems}
}

// check returns a VarError for each invalid setting. raw holds the values as
// given in the environment, shown in errors in place of the parsed ones;
// variables in failed did not parse and are not checked again. requireDSN is
// false for NewWithDB, which brings its own pool.
func (c Config) check(requireDSN bool, raw map[string]string, failed map[string]bool) []*VarError {
	var problems []*VarError
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
			if c.MySQLDSN == "" {
				bad("SESSION_MYSQL_DSN", "", "required with SESSION_STORE=mysql")
			} else if err := checkDSN(c.MySQLDSN); err != nil {
				bad("SESSION_MYSQL_DSN", c.MySQLDSN, "%w", err)
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

	if c.CookieName != "" {
		if err := (&http.Cookie{Name: c.CookieName, Value: "v"}).Valid(); err != nil {
			bad("SESSION_COOKIE_NAME", c.CookieName, "not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~)")
		} else if why := c.prefixProblem(ok); why != "" {
			bad("SESSION_COOKIE_NAME", c.CookieName, "%s", why)
		}
	}
	if l := c.CookieLegacyName; l != "" && l != "none" {
		if err := (&http.Cookie{Name: l, Value: "v"}).Valid(); err != nil {
			bad("SESSION_COOKIE_LEGACY_NAME", l, "not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~), or none")
		}
	}
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
	return problems
}

// prefixProblem says why browsers would reject a cookie named CookieName
// with c's attributes, or returns "". Browsers match the __Host- and
// __Secure- prefixes in any letter case. ok tells whether a variable parsed.
func (c Config) prefixProblem(ok func(string) bool) string {
	name := strings.ToLower(c.CookieName)
	var needs []string
	switch {
	case strings.HasPrefix(name, "__host-"):
		if !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
			needs = append(needs, "SESSION_COOKIE_SECURE=true")
		}
		if c.CookiePath != "/" {
			needs = append(needs, "SESSION_COOKIE_PATH=/")
		}
		if c.CookieDomain != "" {
			needs = append(needs, "no SESSION_COOKIE_DOMAIN")
		}
	case strings.HasPrefix(name, "__secure-"):
		if !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
			needs = append(needs, "SESSION_COOKIE_SECURE=true")
		}
	}
	if len(needs) == 0 {
		return ""
	}
	return "browsers reject this prefix without " + strings.Join(needs, ", ") + ": change those, or the name"
}

// checkTableName applies the store's rule, without the store's prefix: the
// caller names the variable.
func checkTableName(name string) error {
	if err := sessionmysql.ValidateTableName(name); err != nil {
		return errors.New("want name or db.name, each 1 to 64 letters, digits, '_' or '$'")
	}
	return nil
}

// checkDSN parses dsn with the driver and refuses settings that contradict
// what the kit sets on its pool. Its errors never contain the password.
func checkDSN(dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if problem := urlDSNProblem(dsn, cfg, err); problem != "" {
		return errors.New(problem)
	}
	if err != nil {
		if problem := bareAddressProblem(dsn); problem != "" {
			return errors.New(scrubPassword(problem, dsn))
		}
		return fmt.Errorf("not a valid go-sql-driver DSN (%s): %s", dsnShape, scrubPassword(err.Error(), dsn))
	}
	var problems []string
	if !knownNetwork(cfg.Net) {
		// Never name the network: it may be the password (see knownNetwork).
		problems = append(problems, "the network before the address must be tcp, tcp4, tcp6 or unix: "+
			"is the '@' after the password missing? (a network registered with mysql.RegisterDialContext needs NewWithDB)")
	}
	if dsnParamIsFalse(dsn, "parseTime") {
		problems = append(problems, "parseTime=false: sessionkit needs parseTime=true (omit it; the kit sets it)")
	}
	if cfg.Loc != time.UTC {
		problems = append(problems, fmt.Sprintf("loc=%s: sessionkit needs loc=UTC (omit it; the kit sets it)", cfg.Loc))
	}
	for k, v := range cfg.Params {
		if strings.EqualFold(k, "time_zone") && !isUTCZone(v) {
			problems = append(problems, fmt.Sprintf("%s=%s: sessionkit needs the session time zone '+00:00' (omit it; the kit sets it)", k, v))
		}
	}
	if len(problems) > 0 {
		return errors.New(scrubPassword(strings.Join(problems, "; "), dsn))
	}
	return nil
}

// dsnParamIsFalse reports whether the DSN's parameters set name to a false
// value, which ParseDSN does not tell apart from leaving it out.
func dsnParamIsFalse(dsn, name string) bool {
	slash := strings.LastIndexByte(dsn, '/')
	_, params, found := strings.Cut(dsn[slash+1:], "?")
	if !found {
		return false
	}
	for p := range strings.SplitSeq(params, "&") {
		if k, v, _ := strings.Cut(p, "="); k == name {
			switch v {
			case "0", "false", "FALSE", "False":
				return true
			}
		}
	}
	return false
}

// isUTCZone reports whether a time_zone value, as the driver would send it
// in SET time_zone=..., is UTC.
func isUTCZone(v string) bool {
	v = strings.Trim(strings.TrimSpace(v), `'"`)
	switch strings.ToUpper(v) {
	case "+00:00", "+0:00", "-00:00", "UTC":
		return true
	}
	return false
}
