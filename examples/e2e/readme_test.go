package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// TestREADMEQuickStart runs the README's quick start without Docker: the
// example is started with the environment of the README's go run line (on
// a test database), and the README's curl lines are run as written, in
// order, against it. Each must answer the status its comment starts with,
// or 200, and / and /get must print what their comments say.
func TestREADMEQuickStart(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	runLine, curls := quickStart(t, string(readme))

	env := []string{"SESSION_MYSQL_DSN=" + mysqltest.DSN(t)}
	for _, kv := range shellAssignments(t, runLine) {
		if !strings.HasPrefix(kv, "SESSION_MYSQL_DSN=") {
			env = append(env, kv)
		}
	}
	p := launch(t, examples[0], env...)
	p.waitListening(t)
	port := p.URL[strings.LastIndexByte(p.URL, ':')+1:]

	dir := t.TempDir() // holds the cookie jar file
	statusRe := regexp.MustCompile(`^(\d{3})\b`)
	for _, line := range curls {
		command, comment, _ := strings.Cut(line, "#")
		command = strings.ReplaceAll(strings.TrimSpace(command), "localhost:4000", "localhost:"+port)
		// Print the status after the body, on a line of its own; use no
		// proxy and no ~/.curlrc of the machine's.
		cmd := exec.Command("sh", "-c", command+` -s -S --noproxy '*' -w '\n%{http_code}'`)
		cmd.Dir = dir
		cmd.Env = append(inheritedEnv(), "CURL_HOME="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
		text := strings.TrimRight(string(out), "\n")
		body, status := "", text
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			body, status = text[:i], text[i+1:]
		}
		t.Logf("%s: %s", command, status)
		want := "200"
		if m := statusRe.FindStringSubmatch(strings.TrimSpace(comment)); m != nil {
			want = m[1]
		}
		if status != want {
			t.Fatalf("%s: status %s, the README says %s; output:\n%s", command, status, want, body)
		}
		// The comments on / and /get quote what the server prints.
		if strings.HasSuffix(command, "/") || strings.HasSuffix(command, "/get") {
			for _, sentence := range sentences(comment) {
				if !strings.Contains(body, sentence) {
					t.Errorf("%s: the README says %q, the server printed:\n%s", command, sentence, body)
				}
			}
		}
	}
}

// sentences splits a README comment into its sentences, each with its
// final punctuation.
func sentences(comment string) []string {
	var out []string
	for _, s := range strings.SplitAfter(strings.TrimSpace(comment), ". ") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// quickStart returns the README's "go run ./examples/chi" line and its curl
// lines.
func quickStart(t *testing.T, readme string) (runLine string, curls []string) {
	t.Helper()
	_, section, ok := strings.Cut(readme, "## Quick start")
	if !ok {
		t.Fatal("README has no Quick start section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	for _, line := range strings.Split(section, "\n") {
		switch {
		case strings.Contains(line, "go run ./examples/chi"):
			runLine = line
		case strings.HasPrefix(line, "curl "):
			curls = append(curls, line)
		}
	}
	if runLine == "" || len(curls) == 0 {
		t.Fatal("the README's Quick start has no go run ./examples/chi line or no curl lines")
	}
	return runLine, curls
}

// shellAssignments returns the NAME=value words in front of a command line,
// with single quotes removed.
func shellAssignments(t *testing.T, line string) []string {
	t.Helper()
	var out []string
	assignment := regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=('[^']*'|\S*)\s*`)
	for {
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			break
		}
		out = append(out, m[1]+"="+strings.Trim(m[2], "'"))
		line = line[len(m[0]):]
	}
	if !strings.HasPrefix(line, "go run") {
		t.Fatalf("README: cannot read the environment of %q", line)
	}
	return out
}
