package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// binary is the sessionkit command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionkit-cmd-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionkit")
	if out, err := exec.Command("go", "build", "-o", binary, "sessionkit.dev/cmd/sessionkit").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the sessionkit command: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := mysqltest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit status %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCommand runs the command with args and only the variables of environ
// (and PATH), and returns what it did.
func runCommand(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range environ {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running sessionkit %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// want fails t unless r exited with code and its stdout and stderr hold
// the given strings.
func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\n%v", r.code, code, r)
		return
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q\n%v", s, r)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q\n%v", s, r)
		}
	}
}
