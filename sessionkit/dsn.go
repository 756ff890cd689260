package sessionkit

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// This file holds SESSION_MYSQL_DSN's type, which never prints the
// password, the one reading of it (parseDSN: the driver parses, the kit
// checks what it parsed), the settings New adds to it for its own pool, and
// how the password is kept out of every error and log line.

// DSN is a go-sql-driver/mysql data source name,
// user:password@tcp(host:3306)/dbname?param=value (SESSION_MYSQL_DSN).
//
// It prints with its password masked as xxxxx (see the README's
// Troubleshooting for what is masked in a DSN the driver cannot read) in
// every way Go commonly prints a value: fmt's verbs, encoding/json and the
// other encoders that use MarshalText, and log/slog. So a Config, or a
// struct that holds one, can be printed or logged whole. string(d) is the
// DSN itself.
type DSN string

// String is the DSN with its password masked.
func (d DSN) String() string { return redactDSN(string(d)) }

// Format prints String for every verb and flag of package fmt, %#v and %x
// included.
func (d DSN) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), d.String()) }

// MarshalText is String, for encoding/json and other encoders.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LogValue is String, for log/slog.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// parseDSN reads dsn with the driver and checks what it read: a network
// the kit can dial, and nothing that contradicts what the kit sets on its
// pool (parseTime, loc, the session time zone). Its errors never contain
// the password.
func parseDSN(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if problem := urlDSNProblem(dsn, cfg, err); problem != "" {
		return nil, errors.New(problem)
	}
	if err != nil {
		if problem := bareAddressProblem(dsn); problem != "" {
			return nil, errors.New(scrubPassword(problem, dsn))
		}
		return nil, fmt.Errorf("not a valid go-sql-driver DSN (%s): %s", dsnShape, scrubPassword(err.Error(), dsn))
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
		return nil, errors.New(scrubPassword(strings.Join(problems, "; "), dsn))
	}
	return cfg, nil
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

// poolConnector returns the connector of New's own pool: dsn, as parseDSN
// returned it, with parseTime=true, loc=UTC and the session time zone
// '+00:00', innodb_lock_wait_timeout from cfg.DBQueryTimeout unless the DSN
// sets it, the extra system variables, and cfg.Logger for the driver's log
// lines. dsn itself is left as it is.
func poolConnector(cfg Config, dsn *mysql.Config, extra map[string]string) (driver.Connector, error) {
	c := dsn.Clone()
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	for k := range c.Params {
		if strings.EqualFold(k, "time_zone") {
			delete(c.Params, k) // parseDSN has checked that it says UTC
		}
	}
	c.Params["time_zone"] = "'+00:00'"
	// A write that waits for a row lock longer than the query timeout
	// has already failed for its request; let the server give up on it
	// too, rather than apply it once the lock is free.
	if !dsnSets(c, "innodb_lock_wait_timeout") && cfg.DBQueryTimeout > 0 {
		c.Params["innodb_lock_wait_timeout"] = strconv.Itoa(int((cfg.DBQueryTimeout + time.Second - 1) / time.Second))
	}
	maps.Copy(c.Params, extra)
	// The driver's own lines go through the kit's logger, as JSON or text
	// like every other line, not plainly on stderr.
	c.Logger = DriverLogger(loggerOf(cfg))
	connector, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: SESSION_MYSQL_DSN: %s", scrubPassword(err.Error(), string(cfg.MySQLDSN)))
	}
	return connector, nil
}

// databaseOf names the database of dsn for errors and log lines, without the
// password.
func databaseOf(dsn *mysql.Config) string {
	return fmt.Sprintf("MySQL %s(%s)/%s as %q", dsn.Net, dsn.Addr, dsn.DBName, dsn.User)
}

// dsnSets reports whether the DSN sets the system variable name.
func dsnSets(dsn *mysql.Config, name string) bool {
	for k := range dsn.Params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// knownNetwork reports whether the kit accepts a DSN's network. Any other
// name is either a mistake that puts the password where the driver reads a
// network ("user:password(host:3306)/db", the '@' missing: the driver then
// dials the network "user:password" and says so in its error), or a network
// registered with mysql.RegisterDialContext, which needs NewWithDB.
func knownNetwork(name string) bool {
	switch name {
	case "tcp", "tcp4", "tcp6", "unix":
		return true
	}
	return false
}

const passwordMask = "xxxxx"

// dsnSecret returns the bounds, dsn[lo:hi], of the part of a DSN that is or
// may be a password; lo == hi when there is none.
//
// In a DSN the kit accepts, that is the driver's password: between the
// first ':' and the last '@' before the last '/'. In any other string the
// writer's intent is unknown, so more is treated as secret:
//
//   - when the driver reads a network the kit refuses, everything from the
//     first ':' to the end of that network (or to the last '@', if further),
//     since "user:password(host)/db" lacks only its '@'; without a ':', the
//     network itself;
//   - when the driver cannot parse it and it is a URL
//     (mysql://user:password@host:port/db), the URL's password (see
//     urlSecret);
//   - when the driver cannot parse it otherwise, everything from the first
//     ':' to the last '@' before the last '/' (or else the last '@' of all,
//     since the password may hold the last '/'), or, without such an '@', to
//     the end.
func dsnSecret(dsn string) (lo, hi int) {
	head := dsn // [user[:password]@][net[(addr)]]
	if slash := strings.LastIndexByte(dsn, '/'); slash >= 0 {
		head = dsn[:slash]
	}
	at := strings.LastIndexByte(head, '@')
	colon := strings.IndexByte(dsn, ':')
	lastAt := strings.LastIndexByte(dsn, '@')

	cfg, err := mysql.ParseDSN(dsn)
	if err == nil {
		netStart, netEnd := at+1, len(head)
		if i := strings.IndexByte(head[netStart:], '('); i >= 0 {
			netEnd = netStart + i
		}
		if knownNetwork(cfg.Net) {
			if at < 0 || colon < 0 || colon > at {
				return 0, 0 // no password
			}
			return colon + 1, at
		}
		if colon < 0 || colon >= netEnd {
			return netStart, netEnd
		}
		return colon + 1, max(netEnd, lastAt)
	}

	if lo, hi, ok := urlSecret(dsn); ok {
		return lo, hi
	}
	if colon < 0 {
		return 0, 0
	}
	if at < 0 {
		at = lastAt
	}
	if at > colon {
		return colon + 1, at
	}
	return colon + 1, len(dsn)
}

// redactDSN masks the password of a DSN (see dsnSecret) for error messages
// and logs.
func redactDSN(dsn string) string {
	lo, hi := dsnSecret(dsn)
	if lo == hi {
		return dsn
	}
	return dsn[:lo] + passwordMask + dsn[hi:]
}

// scrubPassword removes the DSN's password (see dsnSecret) from a driver
// error message. If a fragment of it is still there (a malformed DSN can
// make the driver quote part of the password as a database name), the
// detail is withheld.
func scrubPassword(msg, dsn string) string {
	lo, hi := dsnSecret(dsn)
	pw := dsn[lo:hi]
	if pw == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, pw, passwordMask)
	n := min(len(pw), 4)
	for i := 0; i+n <= len(pw); i++ {
		if strings.Contains(msg, pw[i:i+n]) {
			return "details withheld: they would show part of the password"
		}
	}
	return msg
}

// displayValue is a variable's value as errors may show it.
func displayValue(name, value string) string {
	if isSecret(name) {
		return ""
	}
	if name == "SESSION_MYSQL_DSN" {
		return redactDSN(value)
	}
	return value
}
