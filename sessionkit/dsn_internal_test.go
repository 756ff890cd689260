package sessionkit

import "testing"

// TestRedactDSN shows what is masked: the driver's password in a DSN the
// kit accepts, and more of a DSN it refuses, where the password may sit
// elsewhere.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"app:pw@tcp(db:3306)/app?loc=UTC":   "app:xxxxx@tcp(db:3306)/app?loc=UTC",
		"app:p@ss/w:rd@unix(/run/my.sock)/": "app:xxxxx@unix(/run/my.sock)/",
		"app@tcp(db:3306)/app":              "app@tcp(db:3306)/app",
		"tcp(db:3306)/app":                  "tcp(db:3306)/app",
		"/app":                              "/app",
		// The '@' is missing: the driver reads "app:pw" as the network.
		"app:pw(db:3306)/app?loc=Local": "app:xxxxx(db:3306)/app?loc=Local",
		// A network the kit refuses may hold the end of a password.
		"app:p@ss@word(db)/app": "app:xxxxx(db)/app",
		"pw(db)/app":            "xxxxx(db)/app",
		// The driver cannot parse these.
		"app:pw@db:3306":         "app:xxxxx@db:3306",
		"app:pw@tcp(db:3306/app": "app:xxxxx@tcp(db:3306/app",
		"app:hunt/er2@tcp(db)":   "app:xxxxx@tcp(db)",
		"app:pw":                 "app:xxxxx",
		"app:pw/app":             "app:xxxxx", // a '/' may be part of the password
		"app:pw(db:3306":         "app:xxxxx",
		"no password here":       "no password here",
		// URLs: the URL's password, or a port that is not a number.
		"mysql://app:pw@db:3306/app": "mysql://app:xxxxx@db:3306/app",
		"mysql://app:p@w/d@db/app":   "mysql://app:xxxxx@db/app",
		"mysql://app@db:3306/app":    "mysql://app@db:3306/app",
		"mysql://db:3306/app":        "mysql://db:3306/app",
		"mysql://app:pw/app":         "mysql://app:xxxxx/app",
		"jdbc:mysql://app:pw@db/app": "jdbc:mysql://app:xxxxx@db/app",
		"mysql://app:pw@tcp(db)/app": "mysql:xxxxx@tcp(db)/app", // the driver's reading: user "mysql"
	} {
		if got := redactDSN(dsn); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}
