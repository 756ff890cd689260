package main

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// database returns the environment of the command on a fresh, empty
// database, and a pool on it for the test.
func database(t *testing.T) (map[string]string, *sql.DB) {
	t.Helper()
	dsn := mysqltest.DSN(t)
	return map[string]string{"SESSION_MYSQL_DSN": dsn, "SESSION_DB_QUERY_TIMEOUT": "10s"}, mysqltest.Open(t, dsn)
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func count(t *testing.T, db *sql.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// token is a 43-character token made of prefix and i.
func token(prefix string, i int) string {
	return fmt.Sprintf("%s%0*d", prefix, 43-len(prefix), i)
}

// insert adds a session of size bytes of data expiring in expiresIn, bound
// to user unless it is empty, straight into the table.
func insert(t *testing.T, db *sql.DB, tok string, size int, expiresIn time.Duration, user string) {
	t.Helper()
	expiry := time.Now().Add(expiresIn).UTC().Format("2006-01-02 15:04:05.000000")
	if user == "" {
		mustExec(t, db, "INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)", tok, strings.Repeat("x", size), expiry)
		return
	}
	mustExec(t, db, "INSERT INTO sessions (token, data, expiry, user_id) VALUES (?, ?, ?, ?)", tok, strings.Repeat("x", size), expiry, user)
}

func TestCheckFindsAMissingTableThatCreateTableCreates(t *testing.T) {
	t.Parallel()
	env, db := database(t)

	r := runCommand(t, env, "check")
	r.want(t, 1, []string{"problem", "table `sessions` does not exist", `fix       run "sessionkit create-table", or:`,
		"CREATE TABLE IF NOT EXISTS `sessions` (", "INDEX `sessions_expiry_idx` (expiry)", "not all is well: 1 problem, 0 warnings"}, nil)

	r = runCommand(t, env, "create-table")
	r.want(t, 0, []string{"created table `sessions`"}, nil)
	if n := count(t, db, "TRUE"); n != 0 {
		t.Errorf("the new table has %d rows", n)
	}
	r = runCommand(t, env, "create-table")
	r.want(t, 0, []string{"table `sessions` exists already: left as it is"}, nil)

	r = runCommand(t, env, "check")
	r.want(t, 0, []string{"ok        table `sessions` exists and its columns can hold sessions", "the table answers a query",
		"the table has the user columns", "expiry is DATETIME(6)", "the server's clock is within", "\nall is well\n"}, nil)
	if strings.Contains(r.stdout, "warning") || strings.Contains(r.stdout, "problem") {
		t.Errorf("check of the recommended table reports something\n%v", r)
	}
}

func TestCheckSaysHowToFixTheTableOfScsREADME(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	// scs's README table, before its index, in a case-insensitive collation.
	mustExec(t, db, "CREATE TABLE sessions (token CHAR(43) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)")

	r := runCommand(t, env, "check")
	r.want(t, 1, []string{
		"ok        table `sessions` exists and its columns can hold sessions",
		"warning   token column compares with the case-insensitive collation utf8mb4_general_ci",
		"warning   no index starts with the expiry column",
		"note      the session table has no user columns",
		"ADD COLUMN user_id",
		"fix       to bring the table to the recommended one, run:",
		"ALTER TABLE `sessions`\n                MODIFY token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n                ADD INDEX `sessions_expiry_idx` (expiry);",
		"expiry is TIMESTAMP(6) under the session time zone +00:00",
		"not all is well: 0 problems, 2 warnings",
	}, nil)

	r = runCommand(t, env, "check", "-allow-warnings")
	r.want(t, 0, []string{"the table works, with 2 warnings (allowed by -allow-warnings)"}, nil)

	// What check prints fixes the table.
	mustExec(t, db, "ALTER TABLE `sessions` MODIFY token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, ADD INDEX `sessions_expiry_idx` (expiry)")
	r = runCommand(t, env, "check")
	r.want(t, 0, []string{"note      the session table has no user columns", "all is well"}, nil)
}

func TestCheckSaysHowToFixAnUnusableTable(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	mustExec(t, db, "CREATE TABLE sessions (token VARCHAR(20) PRIMARY KEY, data TEXT NOT NULL, expiry DATETIME(6) NOT NULL, INDEX (expiry))")
	r := runCommand(t, env, "check")
	r.want(t, 1, []string{"problem", "is not usable", "too short for 43-character tokens", "data column is TEXT",
		"MODIFY token CHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n                MODIFY data MEDIUMBLOB NOT NULL;"}, nil)

	r = runCommand(t, env, "create-table")
	r.want(t, 1, nil, []string{"is not usable", `"sessionkit check" says what to run`})

	mustExec(t, db, "DROP TABLE sessions")
	mustExec(t, db, "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, stuff BLOB)")
	r = runCommand(t, env, "check")
	r.want(t, 1, []string{"no data column", "RENAME TABLE `sessions` TO `sessions_unusable`;", "CREATE TABLE IF NOT EXISTS `sessions`"}, nil)
}

func TestCleanupDeletesExpiredSessions(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	runCommand(t, env, "create-table").want(t, 0, nil, nil)
	for i := range 2500 {
		if i%500 == 0 {
			var q strings.Builder
			var args []any
			q.WriteString("INSERT INTO sessions (token, data, expiry) VALUES ")
			for j := i; j < i+500; j++ {
				if j > i {
					q.WriteString(",")
				}
				q.WriteString("(?, 'x', UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE)")
				args = append(args, token("expired", j))
			}
			mustExec(t, db, q.String(), args...)
		}
	}
	for i := range 10 {
		insert(t, db, token("live", i), 1, time.Hour, "")
	}

	env["SESSION_CLEANUP_BATCH"] = "1000"
	r := runCommand(t, env, "cleanup")
	r.want(t, 0, []string{"deleted 2,500 expired sessions from `sessions` in "}, nil)
	if !regexp.MustCompile(`in \d+ statements in [0-9.]+m?s\n$`).MatchString(r.stdout) {
		t.Errorf("the summary does not give the statements and the time\n%v", r)
	}
	if n := count(t, db, "TRUE"); n != 10 {
		t.Errorf("%d rows left, want the 10 live ones", n)
	}
	r = runCommand(t, env, "cleanup")
	r.want(t, 0, []string{"deleted 0 expired sessions from `sessions` in 1 statement in "}, nil)
}

func TestCommandsOnAMissingTableFail(t *testing.T) {
	t.Parallel()
	env, _ := database(t)
	for _, args := range [][]string{{"cleanup"}, {"stats"}, {"revoke-user", "alice"}} {
		r := runCommand(t, env, args...)
		r.want(t, 1, nil, []string{"session table does not exist", "sessionkit create-table"})
	}
}

func TestStatsReportsTheTable(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	runCommand(t, env, "create-table").want(t, 0, nil, nil)
	insert(t, db, token("live", 1), 10, time.Hour, "alice")
	insert(t, db, token("live", 2), 20, 2*time.Hour, "alice")
	insert(t, db, token("live", 3), 30, 3*time.Hour, "bob")
	insert(t, db, token("live", 4), 40, 4*time.Hour, "")
	insert(t, db, token("expired", 1), 100, -time.Hour, "alice")
	insert(t, db, token("expired", 2), 200, -2*time.Hour, "")

	r := runCommand(t, env, "stats")
	r.want(t, 0, []string{
		"rows           6\n",
		"live           4\n",
		"expired        2 (not yet deleted by cleanup)\n",
		"oldest expiry  " + time.Now().UTC().Add(-2*time.Hour).Format("2006-01-02 15:"),
		"newest expiry  " + time.Now().UTC().Add(4*time.Hour).Format("2006-01-02 15:"),
		"data bytes     min 10, median 30, p90 200, p99 200, max 200\n",
		"over all 6 rows; total 400 bytes\n",
		"users          2 with sessions; 4 sessions bound to a user\n",
		"per user       min 1, median 1, p90 3, p99 3, max 3\n",
	}, nil)
}

func TestStatsOfATableWithoutUserColumns(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	mustExec(t, db, "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)")
	r := runCommand(t, env, "stats")
	r.want(t, 0, []string{"rows           0\n", "users          the table has no user columns\n"}, nil)
	if strings.Contains(r.stdout, "data bytes") {
		t.Errorf("stats of an empty table shows data sizes\n%v", r)
	}
}

func TestRevokeUserEndsEverySessionOfTheUser(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	runCommand(t, env, "create-table").want(t, 0, nil, nil)
	insert(t, db, token("alice", 1), 1, time.Hour, "alice")
	insert(t, db, token("alice", 2), 1, time.Hour, "alice")
	insert(t, db, token("bob", 1), 1, time.Hour, "bob")

	r := runCommand(t, env, "revoke-user", "alice")
	r.want(t, 0, []string{`ended 2 sessions of user "alice"`}, nil)
	if a, b := count(t, db, "user_id = 'alice'"), count(t, db, "user_id = 'bob'"); a != 0 || b != 1 {
		t.Errorf("after revoke-user alice: %d sessions of alice, %d of bob; want 0 and 1", a, b)
	}
	insert(t, db, token("dash", 1), 1, time.Hour, "-42")
	r = runCommand(t, env, "revoke-user", "--", "-42")
	r.want(t, 0, []string{`ended 1 session of user "-42"`}, nil)
	r = runCommand(t, env, "revoke-user", "carol")
	r.want(t, 0, []string{`ended 0 sessions of user "carol"`}, nil)
}

func TestRevokeUserWithoutUserColumnsSaysHowToAddThem(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	mustExec(t, db, "CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry DATETIME(6) NOT NULL)")
	r := runCommand(t, env, "revoke-user", "alice")
	r.want(t, 1, nil, []string{"has no user columns", "ALTER TABLE `sessions`", "ADD COLUMN user_id", "restart the services"})
}

func TestAnUnreachableDatabaseFailsWithStatus1(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SESSION_MYSQL_DSN": "app:Sup3r-Secret-pw@tcp(127.0.0.1:1)/app"}
	start := time.Now()
	r := runCommand(t, env, "check", "-wait", "1s")
	r.want(t, 1, nil, []string{"sessionkit check: ", "connecting to MySQL tcp(127.0.0.1:1)/app", "connection refused"})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("check took %v with -wait 1s", took)
	}
	if strings.Contains(r.stdout+r.stderr, "Sup3r-Secret-pw") {
		t.Errorf("the output shows the DSN's password\n%v", r)
	}
	runCommand(t, env, "stats", "-wait", "0s").want(t, 2, nil, []string{"-wait 0s: must be positive"})
}
