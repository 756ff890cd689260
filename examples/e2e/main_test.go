// Package e2e tests the example servers end to end: each example is built
// into a real binary, started as a process against a real MySQL or MariaDB
// database from internal/mysqltest, and driven over HTTP with a cookie jar,
// as a user following the README would. It also checks that
// docker-compose.yml agrees with the README.
package e2e

import (
	"os"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) {
	code := mysqltest.Main(m)
	removeBinaries()
	os.Exit(code)
}
