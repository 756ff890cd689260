package e2e

import (
	"database/sql"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
)

// TestREADMEQuickStart runs the README's quick start without Docker: the
// example is started with the environment of the README's go run line (on
// a test database), and the README's curl lines are run as written, in
// order, against it. Each must answer the status its comment starts with,
// or 200, and / and /get must print what their comments say. A line whose
// comment claims a status must show it (curl -i): curl prints no status of
// its own.
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
			if !slices.Contains(strings.Fields(command), "-i") {
				t.Errorf("%s: the README says %s, which curl shows only with -i", command, want)
			}
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

// TestDocsDatabaseSetup runs the database setup of docs/database.md, the
// SQL given to "sudo mariadb", as root on a private server that skips name
// resolution as Debian's MariaDB does, and logs in with the DSN of the
// page's go run line (at the private server's port): the account matches a
// TCP connection to 127.0.0.1, and may create the session table. An
// account at 'localhost', as the README once had it, would not.
func TestDocsDatabaseSetup(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../../docs/database.md")
	if err != nil {
		t.Fatal(err)
	}
	runLine := ""
	for line := range strings.SplitSeq(string(page), "\n") {
		if strings.Contains(line, "go run ./examples/chi") {
			runLine = line
		}
	}
	if runLine == "" {
		t.Fatal("docs/database.md has no go run ./examples/chi line")
	}
	_, setup, ok := strings.Cut(string(page), "sudo mariadb <<'SQL'\n")
	if !ok {
		t.Fatal("docs/database.md has no sudo mariadb <<'SQL' block")
	}
	setup, _, ok = strings.Cut(setup, "\nSQL\n")
	if !ok {
		t.Fatal("the SQL block of docs/database.md has no end")
	}

	srv := mysqltest.NewServer(t)
	root := mysqltest.Open(t, srv.Config().FormatDSN())
	for stmt := range strings.SplitSeq(setup, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			if _, err := root.Exec(stmt); err != nil {
				t.Fatalf("docs/database.md: %s: %v", stmt, err)
			}
		}
	}

	var dsn string
	for _, kv := range shellAssignments(t, runLine) {
		if v, ok := strings.CutPrefix(kv, "SESSION_MYSQL_DSN="); ok {
			dsn = v
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("the DSN of docs/database.md %q: %v", dsn, err)
	}
	if host, _, _ := strings.Cut(cfg.Addr, ":"); host != "127.0.0.1" {
		t.Errorf("the DSN of docs/database.md reaches %s, want 127.0.0.1 (localhost may resolve to ::1)", cfg.Addr)
	}
	cfg.Addr = srv.Config().Addr
	app := mysqltest.Open(t, cfg.FormatDSN())
	var user string
	if err := app.QueryRow("SELECT CURRENT_USER()").Scan(&user); err != nil {
		t.Fatalf("logging in with the DSN of docs/database.md: %v", err)
	}
	if _, err := app.Exec("CREATE TABLE sessions_check (id INT)"); err != nil {
		t.Errorf("the account of docs/database.md cannot create a table: %v", err)
	}
	t.Logf("the DSN of docs/database.md logs in as %s", user)

	// The server is like Debian's: an account at localhost does not match.
	if _, err := root.Exec("CREATE USER 'old'@'localhost' IDENTIFIED BY 'secret'"); err != nil {
		t.Fatal(err)
	}
	old := cfg.Clone()
	old.User = "old"
	if err := loginError(old); err == nil {
		t.Error("'old'@'localhost' logged in over TCP: the server resolves names, and the test proves nothing")
	}
}

// loginError opens one connection with cfg and returns the error.
func loginError(cfg *mysql.Config) error {
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Ping()
}
