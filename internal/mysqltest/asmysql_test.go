package mysqltest

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestAsMySQL84RewritesOrRefusesWhatMySQLWould(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  string // the statement MariaDB runs
		code  uint16 // or the server error MySQL 8.4 gives
		fails bool   // or an error of the emulation
	}{
		{query: "SELECT 1", want: "SELECT 1"},
		{query: "SELECT @@session.time_zone", want: "SELECT @@session.time_zone"},
		{query: "SET STATEMENT max_statement_time=1, sql_mode='STRICT_ALL_TABLES' FOR INSERT INTO t VALUES (?)", code: 1064},
		{query: "  set statement wsrep_sync_wait=1 for SELECT 1", code: 1064},
		{query: "SELECT @@wsrep_on", code: 1193},
		{query: "SELECT @@session.wsrep_sync_wait, VERSION()", code: 1193},
		{query: "SELECT @@group_replication_single_primary_mode, @@group_replication_group_name", code: 1193},
		{query: "SELECT @@global.max_statement_time", code: 1193},
		{query: "INSERT /*+ SET_VAR(sql_mode='STRICT_ALL_TABLES') */ INTO t VALUES (?)",
			want: "SET STATEMENT sql_mode='STRICT_ALL_TABLES' FOR INSERT  INTO t VALUES (?)"},
		{query: "DELETE /*+ SET_VAR(sql_mode='STRICT_ALL_TABLES') SET_VAR(max_execution_time=5) */ FROM t",
			want: "SET STATEMENT sql_mode='STRICT_ALL_TABLES', max_execution_time=5 FOR DELETE  FROM t"},
		{query: "INSERT INTO t /*+ SET_VAR(sql_mode='STRICT_ALL_TABLES') */ VALUES (1)", fails: true},
		{query: "SELECT /*+ MAX_EXECUTION_TIME(5) */ 1", fails: true},
		{query: "UPDATE /*+ SET_VAR(max_statement_time=1) */ t SET a = 1", fails: true},
	} {
		got, err := asMySQL84(tc.query)
		var me *mysql.MySQLError
		switch {
		case tc.code != 0:
			if !errors.As(err, &me) || me.Number != tc.code {
				t.Errorf("%s: %q, %v; want server error %d", tc.query, got, err, tc.code)
			}
		case tc.fails:
			if !errors.Is(err, errIgnoredHint) {
				t.Errorf("%s: %q, %v; want an error saying MySQL would ignore the hint", tc.query, got, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%s: %q, %v; want %q", tc.query, got, err, tc.want)
		}
	}
}

// TestAsMySQL84OnAServer runs statements through the connector on a real
// server: the refusals arrive as the driver's server errors, in every way
// database/sql sends a statement, and a SET_VAR hint takes effect as on
// MySQL (here: strict mode under an empty sql_mode).
func TestAsMySQL84OnAServer(t *testing.T) {
	t.Parallel()
	db := OpenAsMySQL84(t, DSN(t, Param("sql_mode", "%27%27")))
	if _, err := db.Exec("CREATE TABLE t (v VARCHAR(2) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	code := func(err error) uint16 {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return me.Number
		}
		return 0
	}
	if _, err := db.Exec("SET STATEMENT max_statement_time=1 FOR INSERT INTO t VALUES ('a')"); code(err) != 1064 {
		t.Errorf("Exec of SET STATEMENT: %v; want 1064", err)
	}
	if _, err := db.Prepare("SET STATEMENT max_statement_time=1 FOR INSERT INTO t VALUES (?)"); code(err) != 1064 {
		t.Errorf("Prepare of SET STATEMENT: %v; want 1064", err)
	}
	var on bool
	if err := db.QueryRow("SELECT @@wsrep_on").Scan(&on); code(err) != 1193 {
		t.Errorf("SELECT @@wsrep_on: %v; want 1193", err)
	}
	if err := db.QueryRow("SELECT @@group_replication_group_name").Scan(new(string)); code(err) != 1193 {
		t.Errorf("SELECT @@group_replication_group_name: %v; want 1193", err)
	}

	// Without the hint the empty sql_mode truncates; with it, the server
	// refuses the row, as MySQL would.
	if _, err := db.Exec("INSERT INTO t VALUES (?)", "abc"); err != nil {
		t.Fatalf("a plain INSERT under an empty sql_mode: %v; want it truncated", err)
	}
	if _, err := db.Exec("INSERT /*+ SET_VAR(sql_mode='STRICT_ALL_TABLES') */ INTO t VALUES (?)", "abc"); code(err) != 1406 {
		t.Errorf("INSERT with SET_VAR(sql_mode='STRICT_ALL_TABLES'): %v; want 1406, the row refused", err)
	}
	if _, err := db.Exec("INSERT INTO t /*+ SET_VAR(sql_mode='STRICT_ALL_TABLES') */ VALUES ('x')"); err == nil ||
		!strings.Contains(err.Error(), "would ignore") {
		t.Errorf("a misplaced hint: %v; want an error saying MySQL would ignore it", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rows, %v; want the truncated one only", n, err)
	}
}
