package mysqltest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// envPretendNoServer makes this package's test binary find no server
// binary, as on a machine without one.
const envPretendNoServer = "MYSQLTEST_PRETEND_NO_SERVER"

// TestNeedsADatabase is a database test for TestNoServerFailsThePackage to
// run in a test binary that finds no server; elsewhere it does nothing.
func TestNeedsADatabase(t *testing.T) {
	if os.Getenv(envPretendNoServer) != "1" {
		return
	}
	DSN(t)
}

// TestNoServerFailsThePackage runs this package's test binary as on a
// machine without a database server: a database test skips, and the
// package fails with the instructions, unless SESSIONKIT_TEST_SKIP_DB=1;
// under SESSIONKIT_TEST_REQUIRE_DB=1 the test itself fails.
func TestNoServerFailsThePackage(t *testing.T) {
	t.Parallel()
	run := func(env ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsADatabase$", "-test.v")
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			if name != EnvDSN && name != EnvRequireDB && name != EnvSkipDB {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, append(env, envPretendNoServer+"=1")...)
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		return string(out), code
	}

	out, code := run()
	if code == 0 || !strings.Contains(out, "--- SKIP: TestNeedsADatabase") ||
		!strings.Contains(out, "1 database tests of this package were skipped") ||
		!strings.Contains(out, "apt-get install mariadb-server") || !strings.Contains(out, EnvDSN+"=") ||
		!strings.Contains(out, EnvSkipDB+"=1") {
		t.Errorf("without a server: exit code %d, want a failure with the instructions:\n%s", code, out)
	}

	out, code = run(EnvSkipDB + "=1")
	if code != 0 || !strings.Contains(out, "--- SKIP: TestNeedsADatabase") || strings.Contains(out, "were skipped") {
		t.Errorf("without a server, %s=1: exit code %d, want the test skipped and the package passing:\n%s", EnvSkipDB, code, out)
	}

	out, code = run(EnvRequireDB + "=1")
	if code == 0 || !strings.Contains(out, "--- FAIL: TestNeedsADatabase") {
		t.Errorf("without a server, %s=1: exit code %d, want the test failing:\n%s", EnvRequireDB, code, out)
	}
}
