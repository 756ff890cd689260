package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedCommandLinesWork reads the command lines in README.md and
// docs/*.md that run this command from a checkout. A go build of
// ./cmd/sessionkit must name its output with -o: without it, go build
// writes ./sessionkit, and at the root of the checkout that is the
// directory of the package sessionkit, so the build fails. Each
// "go run ./cmd/sessionkit COMMAND" must name a command there is.
func TestDocumentedCommandLinesWork(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../../README.md"}, files...)
	goBuild := regexp.MustCompile(`go build\b[^&|;#]*\./cmd/sessionkit\b`)
	goRun := regexp.MustCompile(`go run \./cmd/sessionkit(?:\s+([a-z][a-z-]*))?`)
	found := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(file, "../../")
		for i, line := range strings.Split(string(text), "\n") {
			for _, m := range goBuild.FindAllString(line, -1) {
				found++
				if !strings.Contains(m, " -o ") {
					t.Errorf("%s:%d: %q writes ./sessionkit, which at the root of a checkout is a directory, so the build fails; "+
						"write go run ./cmd/sessionkit COMMAND, or go build -o with another name", name, i+1, m)
				}
			}
			for _, m := range goRun.FindAllStringSubmatch(line, -1) {
				found++
				if m[1] != "" && m[1] != "help" && findCommand(m[1]) == nil {
					t.Errorf("%s:%d: %q: sessionkit has no command %q", name, i+1, m[0], m[1])
				}
			}
		}
	}
	if found == 0 {
		t.Error("README.md and docs/*.md show no way to run the command from a checkout (go run ./cmd/sessionkit COMMAND)")
	}
}
