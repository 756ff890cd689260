package bench

import (
	"os"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// TestMain stops the private server mysqltest may have started.
func TestMain(m *testing.M) { os.Exit(mysqltest.Main(m)) }
