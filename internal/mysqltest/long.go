package mysqltest

import (
	"os"
	"testing"
)

// EnvLong turns the long tests on: the Galera cluster, the browsers, the
// soak. The README's test command, go test ./..., leaves them out so that it
// takes a minute or so on two cores; .ci/run sets EnvLong=1 and runs
// everything.
const EnvLong = "SESSIONKIT_TEST_LONG"

// Long marks t as a long test: it runs only under SESSIONKIT_TEST_LONG=1 and
// is skipped otherwise, with a message saying how to run it. Any other value
// than 1, 0 or nothing fails t, so that a mistyped switch does not pass for
// a run of the long tests.
func Long(t testing.TB) {
	t.Helper()
	switch v := os.Getenv(EnvLong); v {
	case "1":
	case "", "0":
		t.Skip("mysqltest: a long test, left out of go test ./...; run it with " + EnvLong +
			"=1 go test ./... (.ci/run does)")
	default:
		t.Fatalf("mysqltest: %s=%q: want 1 to run the long tests, or 0 or nothing to leave them out", EnvLong, v)
	}
}
