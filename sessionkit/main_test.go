package sessionkit_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) {
	// scs.New starts a memstore cleanup goroutine that cannot be stopped
	// without a data race (scs v2.9.0); every Kit has one.
	os.Exit(mysqltest.Main(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")))
}
