package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqltest"
)

// TestMain stops the private servers and the cluster mysqltest may have
// started. scs.New starts a memstore cleanup goroutine that cannot be
// stopped; goleak ignores it.
func TestMain(m *testing.M) {
	os.Exit(mysqltest.Main(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")))
}
