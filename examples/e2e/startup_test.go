package e2e

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
)

// TestExampleWaitsForTheDatabase starts each example while its database is
// down and the database a few attempts later: the example logs each
// attempt (number, delay, error, never the password), then listens and
// serves sessions. The application's account is 'app'@'127.0.0.1', as the
// README creates it, on a server that skips name resolution as Debian's
// does.
func TestExampleWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	srv := mysqltest.NewServer(t)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			dsn := appAccount(t, srv, "hunter2secret")
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			started := false
			defer func() {
				if !started {
					srv.Start()
				}
			}()
			p := launch(t, ex, "SESSION_MYSQL_DSN="+dsn, "SESSION_CREATE_TABLE=true", "SESSION_COOKIE_SECURE=false")
			eventually(t, 30*time.Second, func() error {
				if n := len(retryLines(t, p.stderr.String())); n < 3 {
					return fmt.Errorf("%d attempts logged", n)
				}
				return nil
			})
			if p.hasExited() {
				t.Fatal("the example exited while the database was down")
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			started = true
			p.waitListening(t)

			c := newClient(t)
			c.put(p.URL)
			c.expectMessage(p.URL, message)
			logs := p.stderr.String()
			for i, r := range retryLines(t, logs) {
				if r.Attempt != i+1 || r.Delay == "" || !strings.Contains(r.Err, "connection refused") {
					t.Errorf("retry line %d: %+v, want attempt %d, its delay and the error", i, r, i+1)
				}
			}
			if strings.Contains(logs, "hunter2") {
				t.Errorf("the log shows the password:\n%s", logs)
			}
		})
	}
}

// appAccount creates a database and the account 'app'@'127.0.0.1' with
// password on srv, as the README's setup does, and returns its DSN.
func appAccount(t *testing.T, srv *mysqltest.Server, password string) string {
	t.Helper()
	cfg := srv.Database(t)
	root := mysqltest.Open(t, srv.Config().FormatDSN())
	user := "app_" + cfg.DBName[len(cfg.DBName)-6:]
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'127.0.0.1'", cfg.DBName, user),
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	app := mysql.NewConfig()
	app.User, app.Passwd, app.Net, app.Addr, app.DBName = user, password, "tcp", cfg.Addr, cfg.DBName
	return app.FormatDSN()
}

// retryLine is the example's log line for a failed attempt to reach the
// database.
type retryLine struct {
	Msg     string
	Attempt int
	Delay   string
	Err     string
}

func retryLines(t *testing.T, logs string) []retryLine {
	t.Helper()
	var out []retryLine
	for line := range strings.Lines(logs) {
		var r retryLine
		if json.Unmarshal([]byte(line), &r) == nil && strings.Contains(r.Msg, "database not reachable yet") {
			out = append(out, r)
		}
	}
	return out
}

// TestEveryLogLineIsJSON points each example at a server that hangs up
// before the MySQL handshake, which the driver reports in lines of its own:
// every line the example writes is JSON, the driver's too.
func TestEveryLogLineIsJSON(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		addr := hangUpServer(t)
		p := launch(t, ex, "SESSION_MYSQL_DSN=app:hunter2secret@tcp("+addr+")/app")
		eventually(t, 30*time.Second, func() error {
			if !strings.Contains(p.stderr.String(), `"msg":"mysql driver"`) || len(retryLines(t, p.stderr.String())) < 2 {
				return fmt.Errorf("no driver line and two attempts yet")
			}
			return nil
		})
		for line := range strings.Lines(p.stderr.String()) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("not a JSON line: %q", line)
				continue
			}
			if rec["msg"] == "mysql driver" && (rec["driver_source"] == nil || rec["err"] == nil) {
				t.Errorf("driver line without driver_source or err: %q", line)
			}
		}
	})
}

// hangUpServer listens on 127.0.0.1 and closes every connection as soon as
// it is made, until t ends.
func hangUpServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// TestMissingTableStatementCanBePasted starts each example without
// SESSION_CREATE_TABLE on an empty database: it exits 1 after a JSON line
// that says what to do, and the CREATE TABLE statement on stderr as it is,
// which, run as printed, makes the next start succeed.
func TestMissingTableStatementCanBePasted(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		p := launch(t, ex, "SESSION_MYSQL_DSN="+dsn)
		if code := p.waitExit(t, 30*time.Second); code != 1 {
			t.Fatalf("exit code %d without a table, want 1", code)
		}
		var statement []string
		for line := range strings.Lines(p.stderr.String()) {
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "{"):
				var rec struct{ Msg, Table string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("a log line that is not JSON: %q", line)
				} else if strings.HasPrefix(rec.Msg, "exiting") && (!strings.Contains(rec.Msg, "SESSION_CREATE_TABLE=true") || rec.Table != "`sessions`") {
					t.Errorf("the exit line does not say what to do: %q", line)
				}
			case strings.HasPrefix(line, "CREATE TABLE"), statement != nil && line != "":
				statement = append(statement, line)
			}
		}
		if len(statement) < 5 || !strings.HasSuffix(statement[len(statement)-1], ";") {
			t.Fatalf("no CREATE TABLE statement of several lines on stderr:\n%s", p.stderr.String())
		}
		text := strings.Join(statement, "\n")
		if strings.Contains(text, `\n`) {
			t.Errorf("the statement holds escapes:\n%s", text)
		}
		if _, err := mysqltest.Open(t, dsn).Exec(text); err != nil {
			t.Fatalf("running the printed statement: %v\n%s", err, text)
		}
		startExample(t, ex, dsn, "SESSION_CREATE_TABLE=false")
	})
}

// TestCreateTableIsLogged checks that SESSION_CREATE_TABLE=true logs the
// creation of the table on the first start, and nothing on the next.
func TestCreateTableIsLogged(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		for i, want := range []int{1, 0} {
			p := startExample(t, ex, dsn)
			p.stop(t)
			if n := strings.Count(p.stderr.String(), `"msg":"sessionkit: created the session table`); n != want {
				t.Errorf("start %d: %d lines say the table was created, want %d:\n%s", i+1, n, want, p.stderr.String())
			}
		}
	})
}

// countRows counts the rows of the sessions table.
func countRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		t.Fatalf("counting sessions: %v", err)
	}
	return n
}

// TestWrongDatabaseNameIsInTroubleshooting starts the example with a typo
// in the DSN's database name, once as an account that may use only its own
// database (MySQL's error 1044) and once as root (1049): it exits 1 at
// once, without waiting out the 30s for a database that is not up yet, and
// the error it logs is one that docs/troubleshooting.md explains.
func TestWrongDatabaseNameIsInTroubleshooting(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	srv := mysqltest.NewServer(t)
	ex := examples[0]
	for _, tc := range []struct {
		name string
		dsn  string
		// error is the driver's message, with what varies left open.
		error *regexp.Regexp
	}{
		{"account of one database", appAccount(t, srv, "secret"),
			regexp.MustCompile(`Error 1044 \(42000\): Access denied for user '[^']+'@'[^']+' to database '[^']+'`)},
		{"root", srv.Config().FormatDSN(),
			regexp.MustCompile(`Error 1049 \(42000\): Unknown database '[^']+'`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.DBName = cmp.Or(cfg.DBName, "app") + "_typo"
			p := launch(t, ex, "SESSION_MYSQL_DSN="+cfg.FormatDSN(), "SESSION_CREATE_TABLE=true")
			if code := p.waitExit(t, 10*time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			logged := tc.error.FindString(p.stderr.String())
			if logged == "" {
				t.Fatalf("the log does not say %s:\n%s", tc.error, p.stderr.String())
			}
			if !tc.error.Match(page) {
				t.Errorf("docs/troubleshooting.md does not explain %s", logged)
			}
		})
	}
}
