package mysql

import (
	"os"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

func TestMain(m *testing.M) { os.Exit(mysqltest.Main(m)) }
