package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryCommand checks that the list of commands in
// docs/operations.md has a line for each command, with its arguments, and
// that the page runs the command from a checkout with go run, which works
// in the repository's root, where go build's output would collide with the
// directory sessionkit.
func TestDocsListEveryCommand(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	for _, c := range commands() {
		line := "\nsessionkit " + c.name + " "
		if c.args != "" {
			line = "\nsessionkit " + c.name + " " + c.args + " "
		}
		if !strings.Contains(text, line) {
			t.Errorf("docs/operations.md lists no %q", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(text, "go run ./cmd/sessionkit ") {
		t.Error("docs/operations.md does not say to run the command with go run ./cmd/sessionkit")
	}
}
