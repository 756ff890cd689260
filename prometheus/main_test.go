package sessionkitprom_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqltest"
)

// TestMain stops the private database servers the tests started and checks
// that no goroutine is left behind. scs.New starts a memstore cleanup
// goroutine that cannot be stopped (scs v2.9.0); every Kit has one.
func TestMain(m *testing.M) {
	os.Exit(mysqltest.Main(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")))
}
