package mysql

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) {
	code := mysqltest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
