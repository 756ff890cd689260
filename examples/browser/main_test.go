// Package browser tests the example servers in a real browser: Chromium,
// headless, driven from Go with chromedp. Each test builds an example into
// a binary, starts it against a real MySQL or MariaDB database
// (internal/mysqltest, as the e2e tests do) with the default configuration,
// Secure cookie included, and opens it at http://localhost in one or two
// browsers. Each browser is a Chromium process of its own with a fresh
// profile, as two people's devices would be.
//
// It is a module of its own so that chromedp stays out of the go.mod that
// sessionkit's users download. Its tests are long tests (mysqltest.Long),
// skipped unless SESSIONKIT_TEST_LONG=1; run them with
//
//	cd examples/browser && SESSIONKIT_TEST_LONG=1 go test ./...
//
// The browser is SESSIONKIT_TEST_CHROMIUM, or else chromium,
// chromium-browser, google-chrome or google-chrome-stable on PATH
// (apt-get install chromium). Without one the tests skip, and the package
// then fails once, saying so, as the database tests do without a server,
// unless SESSIONKIT_TEST_SKIP_BROWSER=1 says that skipping them is meant.
// The database follows mysqltest's rules (SESSIONKIT_TEST_DSN, a private
// mariadbd, SESSIONKIT_TEST_REQUIRE_DB). SESSIONKIT_TEST_SCREENSHOTS=dir
// saves a screenshot of each example's sessions page in dir.
//
// The browsers reach nothing beyond this machine: host names other than
// localhost resolve to nothing, and Chromium's background services
// (updates, sync, QUIC, pings) are off.
package browser

import (
	"fmt"
	"os"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) {
	code := mysqltest.Main(m)
	removeBinaries()
	if n := browserSkips.Load(); n > 0 && os.Getenv(envSkipBrowser) != "1" {
		fmt.Fprintf(os.Stderr, noBrowserMessage, n)
		code = 1
	}
	os.Exit(code)
}
