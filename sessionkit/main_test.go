package sessionkit_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) {
	code := mysqltest.Main(m)
	if code == 0 {
		// scs.New starts a memstore cleanup goroutine that cannot be
		// stopped without a data race (scs v2.9.0); every Kit has one.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup")); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
