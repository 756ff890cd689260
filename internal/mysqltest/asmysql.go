package mysqltest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// MySQL 8.4 on MariaDB. No MySQL server runs where the tests run, yet the
// store writes differently on MySQL: an optimizer hint instead of SET
// STATEMENT, one statement for each write, and a server that knows neither
// the Galera nor the Group Replication variables. AsMySQL84 makes a
// MariaDB connection answer where those differ as MySQL 8.4 answers:
//
//   - SET STATEMENT ... FOR, which MySQL does not have, is a syntax error,
//     1064 (ER_PARSE_ERROR);
//   - a wsrep_* or group_replication_* system variable (Galera, and Group
//     Replication without its plugin) and MariaDB's max_statement_time are
//     unknown, 1193 (ER_UNKNOWN_SYSTEM_VARIABLE);
//   - an optimizer hint /*+ SET_VAR(name=value) */ right after a
//     statement's first keyword applies the setting to that statement, as
//     on MySQL: the connection runs the statement as MariaDB's SET
//     STATEMENT name=value FOR (MariaDB would take the hint for a comment).
//
// A hint that MySQL would ignore (one not right after the first keyword, or
// other than SET_VAR of a variable MySQL knows) fails the statement with an
// error that says so, so that a test cannot pass on a hint that does
// nothing. Everything else (results, VERSION(), other errors) is
// MariaDB's.

// EnvAsMySQL, set to 1, makes DB return pools whose connections answer as
// MySQL 8.4 would (see AsMySQL84), so that a package's tests run the code's
// MySQL forms on MariaDB: SESSIONKIT_TEST_AS_MYSQL=1 go test ./sessionkit/mysql/.
const EnvAsMySQL = "SESSIONKIT_TEST_AS_MYSQL"

// AsMySQL reports whether EnvAsMySQL is set: DB's pools answer as MySQL
// 8.4 would, so that a test of a behaviour only MariaDB has can expect
// MySQL's instead.
func AsMySQL() bool { return os.Getenv(EnvAsMySQL) == "1" }

// AsMySQL84 returns a connector to the server of c whose connections
// answer as MySQL 8.4 would where the server's dialect shows (see above).
func AsMySQL84(c *mysql.Config) (driver.Connector, error) {
	inner, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return mysql84Connector{inner}, nil
}

// OpenAsMySQL84 opens a pool on dsn through AsMySQL84; the pool is closed
// when t ends.
func OpenAsMySQL84(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := AsMySQL84(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

type mysql84Connector struct{ inner driver.Connector }

func (c mysql84Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(mysqlConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("mysqltest: the driver's connection %T lacks an interface mysqltest forwards", conn)
	}
	return &mysql84Conn{inner}, nil
}

func (c mysql84Connector) Driver() driver.Driver { return c.inner.Driver() }

// mysqlConn is what go-sql-driver's connection does, all of which
// database/sql uses, so the wrapper must pass it on.
type mysqlConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// mysql84Conn passes every call on to a MariaDB connection, with each
// statement as asMySQL84 rewrites or refuses it.
type mysql84Conn struct{ inner mysqlConn }

func (c *mysql84Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *mysql84Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	q, err := asMySQL84(query)
	if err != nil {
		return nil, err
	}
	return c.inner.PrepareContext(ctx, q)
}

func (c *mysql84Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, err := asMySQL84(query)
	if err != nil {
		return nil, err
	}
	return c.inner.QueryContext(ctx, q, args)
}

func (c *mysql84Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q, err := asMySQL84(query)
	if err != nil {
		return nil, err
	}
	return c.inner.ExecContext(ctx, q, args)
}

func (c *mysql84Conn) Close() error { return c.inner.Close() }

// Begin is driver.Conn's; database/sql calls BeginTx.
func (c *mysql84Conn) Begin() (driver.Tx, error) { return c.inner.Begin() }

func (c *mysql84Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

func (c *mysql84Conn) Ping(ctx context.Context) error         { return c.inner.Ping(ctx) }
func (c *mysql84Conn) ResetSession(ctx context.Context) error { return c.inner.ResetSession(ctx) }
func (c *mysql84Conn) IsValid() bool                          { return c.inner.IsValid() }
func (c *mysql84Conn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.inner.CheckNamedValue(nv)
}

var (
	// setStatement is MariaDB's per-statement setting, which MySQL lacks.
	setStatement = regexp.MustCompile(`(?is)^\s*SET\s+STATEMENT\b`)
	// unknownVariable is a system variable MySQL 8.4 does not have: the
	// Galera ones, Group Replication's without its plugin, MariaDB's
	// max_statement_time.
	unknownVariable = regexp.MustCompile(`(?i)@@(?:(?:session|global|local)\.)?((?:wsrep_|group_replication_)\w*|max_statement_time)\b`)
	// hinted is a statement with an optimizer hint where MySQL reads one:
	// right after its first keyword.
	hinted = regexp.MustCompile(`(?is)^(\s*(?:SELECT|INSERT|UPDATE|DELETE|REPLACE))\s*/\*\+(.*?)\*/(.*)$`)
	// setVar is one SET_VAR hint: SET_VAR(name=value).
	setVar = regexp.MustCompile(`(?is)^\s*SET_VAR\s*\(\s*(\w+)\s*=\s*('[^']*'|[\w.]+)\s*\)`)
)

// errIgnoredHint is the error for a hint that MySQL 8.4 would ignore.
var errIgnoredHint = errors.New("mysqltest: MySQL 8.4 would ignore this optimizer hint")

// asMySQL84 returns query as MariaDB runs it the way MySQL 8.4 would, or
// the error MySQL 8.4 gives for it.
func asMySQL84(query string) (string, error) {
	if setStatement.MatchString(query) {
		return "", &mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'},
			Message: "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '" + nearby(query, "STATEMENT") + "' at line 1"}
	}
	if m := unknownVariable.FindStringSubmatch(query); m != nil {
		return "", &mysql.MySQLError{Number: 1193, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
			Message: "Unknown system variable '" + strings.ToLower(m[1]) + "'"}
	}
	m := hinted.FindStringSubmatch(query)
	if m == nil {
		if strings.Contains(query, "/*+") {
			return "", fmt.Errorf("%w: it is not right after the statement's first keyword: %s", errIgnoredHint, query)
		}
		return query, nil
	}
	keyword, hints, rest := m[1], m[2], m[3]
	var settings []string
	for strings.TrimSpace(hints) != "" {
		h := setVar.FindStringSubmatch(hints)
		if h == nil {
			return "", fmt.Errorf("%w: only SET_VAR(name=value) is emulated, not %q", errIgnoredHint, strings.TrimSpace(hints))
		}
		if unknownVariable.MatchString("@@" + h[1]) {
			return "", fmt.Errorf("%w: SET_VAR of %s, a variable MySQL does not have", errIgnoredHint, h[1])
		}
		settings = append(settings, h[1]+"="+h[2])
		hints = hints[len(h[0]):]
	}
	return "SET STATEMENT " + strings.Join(settings, ", ") + " FOR " + strings.TrimSpace(keyword) + " " + rest, nil
}

// nearby is query from word on, as MySQL quotes it in a syntax error.
func nearby(query, word string) string {
	i := strings.Index(strings.ToUpper(query), word)
	if i < 0 {
		i = 0
	}
	q := query[i:]
	if len(q) > 80 {
		q = q[:80]
	}
	return q
}
