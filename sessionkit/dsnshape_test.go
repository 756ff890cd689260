package sessionkit_test

import (
	"strings"
	"testing"

	"sessionkit.dev/sessionkit"
)

// TestDSNOfAnotherShapeSaysHowToWriteIt checks that a URL, or an address
// without its tcp(...), is refused with the DSN it means, in the driver's
// shape, with the user's own host, port, database and parameters and the
// password masked.
func TestDSNOfAnotherShapeSaysHowToWriteIt(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"mysql://app:hunter2secret@localhost:3306/app": `SESSION_MYSQL_DSN "mysql://app:xxxxx@localhost:3306/app": ` +
			`a URL, not a go-sql-driver DSN: write it as app:xxxxx@tcp(localhost:3306)/app (user:password@tcp(host:port)/dbname?param=value)`,
		"mysql://db.internal/app?tls=true&charset=utf8mb4": `SESSION_MYSQL_DSN "mysql://db.internal/app?tls=true&charset=utf8mb4": ` +
			`a URL, not a go-sql-driver DSN: write it as tcp(db.internal)/app?tls=true&charset=utf8mb4 (user:password@tcp(host:port)/dbname?param=value)`,
		"mariadb://app@[::1]:3307/app": `SESSION_MYSQL_DSN "mariadb://app@[::1]:3307/app": ` +
			`a URL, not a go-sql-driver DSN: write it as app@tcp([::1]:3307)/app (user:password@tcp(host:port)/dbname?param=value)`,
		"mysql+pymysql://app:hunter2%40secret@db:3306/app": `SESSION_MYSQL_DSN "mysql+pymysql://app:xxxxx@db:3306/app": ` +
			`a URL, not a go-sql-driver DSN: write it as app:xxxxx@tcp(db:3306)/app (user:password@tcp(host:port)/dbname?param=value)`,
		"jdbc:mysql://db:3306/app": `SESSION_MYSQL_DSN "jdbc:mysql://db:3306/app": ` +
			`a URL, not a go-sql-driver DSN: write it as tcp(db:3306)/app (user:password@tcp(host:port)/dbname?param=value)`,
		// The driver would read "mysql" as the user, "//app:..." as the password.
		"mysql://app:hunter2secret@tcp(db:3306)/app": `SESSION_MYSQL_DSN "mysql:xxxxx@tcp(db:3306)/app": ` +
			`a URL, not a go-sql-driver DSN: the driver would log in as the user "mysql"; drop "mysql://" and write user:password@tcp(db:3306)/app`,
		// A password with an unescaped '/' makes the URL ambiguous.
		"mysql://app:hunter2/secret@db/app": `SESSION_MYSQL_DSN "mysql://app:xxxxx@db/app": ` +
			`a URL, not a go-sql-driver DSN, which reads user:password@tcp(host:port)/dbname?param=value`,
		"app:hunter2secret@db.example:3306/app?tls=true": `SESSION_MYSQL_DSN "app:xxxxx@db.example:3306/app?tls=true": ` +
			`the address must be wrapped in tcp(...): write app:xxxxx@tcp(db.example:3306)/app?tls=true`,
		"app@localhost/app": `SESSION_MYSQL_DSN "app@localhost/app": ` +
			`the address must be wrapped in tcp(...): write app@tcp(localhost)/app`,
	} {
		_, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": dsn})
		if err == nil {
			t.Errorf("%s: accepted", dsn)
			continue
		}
		if got := strings.TrimPrefix(err.Error(), "sessionkit: "); got != want {
			t.Errorf("%s:\n got %s\nwant %s", dsn, got, want)
		}
	}
}

// TestDSNThatOnlyLooksLikeAURL checks that a DSN whose user and password
// merely start like a URL's scheme is not refused as one.
func TestDSNThatOnlyLooksLikeAURL(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"http:pw@tcp(db:3306)/app",
		"mysql:pw//x@tcp(db:3306)/app",
	} {
		if _, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": dsn}); err != nil {
			t.Errorf("%s: %v", dsn, err)
		}
	}
}
