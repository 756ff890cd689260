package sessionkit

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Many tools take a database as a URL (mysql://app:secret@db:3306/app);
// go-sql-driver takes a DSN of another shape (app:secret@tcp(db:3306)/app)
// and reads a URL as something else: "default addr for network
// 'db:3306' unknown", or a login as the user "mysql". This file recognises
// a URL where a DSN belongs, and an address without its tcp(...), and says
// how to write them.

// dsnShape is the general shape of a go-sql-driver DSN, for error messages.
const dsnShape = "user:password@tcp(host:port)/dbname?param=value"

// urlScheme matches the scheme of a URL: "mysql://", "mariadb://",
// "mysql+pymysql://", and "jdbc:mysql://".
var urlScheme = regexp.MustCompile(`^(?:jdbc:)?[A-Za-z][A-Za-z0-9+.-]*://`)

// urlDSNProblem returns what to say about dsn when it is a URL, given the
// driver's reading of it (cfg, err), or "" when it is not one. What it says
// never holds the URL's password, nor, where the driver reads a password,
// any of that: only the scheme and what follows the driver's password.
func urlDSNProblem(dsn string, cfg *mysql.Config, err error) string {
	scheme := urlScheme.FindString(dsn)
	if scheme == "" {
		return ""
	}
	if err == nil && knownNetwork(cfg.Net) {
		if cfg.User+"://" != scheme || !strings.HasPrefix(cfg.Passwd, "//") {
			return "" // a DSN that merely starts like a URL
		}
		// The driver reads the scheme as the user and the rest, up to the
		// last '@', as the password: show only what follows it.
		rest := dsn[strings.LastIndexByte(dsn[:strings.LastIndexByte(dsn, '/')], '@')+1:]
		return "a URL, not a go-sql-driver DSN: the driver would log in as the user " + `"` + cfg.User + `"` +
			"; drop " + `"` + scheme + `"` + " and write user:password@" + rest
	}
	if rewritten, ok := dsnFromURL(dsn); ok {
		// Should the URL be misread after all, no part of its password shows.
		return scrubPassword("a URL, not a go-sql-driver DSN: write it as "+rewritten+" ("+dsnShape+")", dsn)
	}
	return "a URL, not a go-sql-driver DSN, which reads " + dsnShape
}

// hostPort matches what the driver takes for a network's name when the
// address lacks its tcp(...): a host name or address, with or without a
// port.
var hostPort = regexp.MustCompile(`^[A-Za-z0-9.\-]+(?::[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]+)?$`)

// bareAddressProblem returns what to say about a DSN the driver refused
// because its address is not wrapped in tcp(...) (app:pw@db:3306/app), or
// "". The rewritten DSN keeps the user and what follows the address, and
// masks the password.
func bareAddressProblem(dsn string) string {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return ""
	}
	at := strings.LastIndexByte(dsn[:slash], '@')
	if at < 0 {
		return ""
	}
	addr := dsn[at+1 : slash]
	if addr == "tcp" || addr == "unix" || !hostPort.MatchString(addr) || knownNetwork(addr) {
		return ""
	}
	user := redactDSN(dsn[:at+1]) // "app:xxxxx@" or "app@"
	return "the address must be wrapped in tcp(...): write " + user + "tcp(" + addr + ")" + dsn[slash:]
}

// dsnFromURL rewrites a URL such as mysql://app:secret@db:3306/app?tls=true
// as the DSN it means, with the password masked:
// app:xxxxx@tcp(db:3306)/app?tls=true. It reports false for a URL it cannot
// read with certainty, such as one whose password holds an unescaped '/'.
func dsnFromURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimPrefix(raw, "jdbc:"))
	if err != nil || u.Opaque != "" || u.Fragment != "" || u.Host == "" {
		return "", false
	}
	db := strings.TrimPrefix(u.Path, "/")
	if strings.ContainsAny(db, "/@") || strings.ContainsAny(u.Host, "@/()") {
		return "", false
	}
	var b strings.Builder
	if u.User != nil {
		name := u.User.Username()
		if strings.ContainsAny(name, ":@/()") {
			return "", false
		}
		b.WriteString(name)
		if _, set := u.User.Password(); set {
			b.WriteString(":" + passwordMask)
		}
		b.WriteString("@")
	}
	b.WriteString("tcp(" + u.Host + ")/" + db)
	if u.RawQuery != "" {
		b.WriteString("?" + u.RawQuery)
	}
	return b.String(), true
}

// urlSecret returns the bounds of the password of a URL, raw[lo:hi], in the
// way of dsnSecret: between the first ':' after the scheme and the last '@';
// without an '@', a port that is not a number, which may be a password
// whose '@' is missing. It reports false when raw is not a URL.
func urlSecret(raw string) (lo, hi int, ok bool) {
	scheme := urlScheme.FindString(raw)
	if scheme == "" {
		return 0, 0, false
	}
	start := len(scheme)
	rest := raw[start:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		colon := strings.IndexByte(rest[:at], ':')
		if colon < 0 {
			return 0, 0, true
		}
		return start + colon + 1, start + at, true
	}
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	}
	colon := strings.LastIndexByte(authority, ':')
	if colon < 0 || strings.Trim(authority[colon+1:], "0123456789") == "" {
		return 0, 0, true
	}
	return start + colon + 1, start + len(authority), true
}
