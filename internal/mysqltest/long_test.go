package mysqltest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// envLongChild makes TestALongTest call Long, in the child test binary of
// TestLongRunsOnlyUnderTheSwitch.
const envLongChild = "MYSQLTEST_LONG_CHILD"

// TestALongTest is a long test for TestLongRunsOnlyUnderTheSwitch to run in
// a child test binary; elsewhere it does nothing.
func TestALongTest(t *testing.T) {
	if os.Getenv(envLongChild) != "1" {
		return
	}
	Long(t)
	t.Log("the long test ran")
}

// TestLongRunsOnlyUnderTheSwitch runs a long test under each value of
// SESSIONKIT_TEST_LONG: it runs under 1, is skipped with how to run it
// under nothing or 0, and fails under any other value.
func TestLongRunsOnlyUnderTheSwitch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		fails bool
		want  string
	}{
		{"", false, "--- SKIP: TestALongTest"},
		{"0", false, "--- SKIP: TestALongTest"},
		{"1", false, "the long test ran"},
		{"yes", true, EnvLong + `="yes": want 1`},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestALongTest$", "-test.v")
		for _, kv := range os.Environ() {
			if name, _, _ := strings.Cut(kv, "="); name != EnvLong {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, envLongChild+"=1", EnvLong+"="+tc.value)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if failed := err != nil; failed != tc.fails || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s=%q: failed %v, want %v, and output with %q:\n%s", EnvLong, tc.value, failed, tc.fails, tc.want, out)
		}
		if tc.want == "--- SKIP: TestALongTest" && !strings.Contains(string(out), EnvLong+"=1 go test ./...") {
			t.Errorf("%s=%q: the skip does not say how to run the test:\n%s", EnvLong, tc.value, out)
		}
	}
}
