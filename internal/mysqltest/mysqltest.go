// Package mysqltest gives tests a real MySQL or MariaDB server.
//
// The server is, in order of preference:
//
//  1. the one named by SESSIONKIT_TEST_DSN (a go-sql-driver DSN whose user may
//     create and drop databases);
//  2. a private server started from mariadbd or mysqld found on PATH (or in
//     /usr/sbin), with a temporary data directory and a free port on
//     127.0.0.1, started once per test binary on first use and removed when
//     the binary exits, even when it crashes;
//  3. none: the test is skipped with a message saying how to enable it, or
//     fails when SESSIONKIT_TEST_REQUIRE_DB=1. So that a run without a
//     server cannot pass unnoticed, Main then fails the package once, with
//     the instructions, unless SESSIONKIT_TEST_SKIP_DB=1 says that skipping
//     the database tests is meant.
//
// Every call to DSN or DB creates a fresh database that is dropped when the
// test ends, so tests can run in parallel and in any order. A package that
// uses mysqltest should call Main from its TestMain so that private servers
// are stopped when the tests are done and no goroutine outlives them.
//
// The long tests (the Galera cluster, the browsers, the soak) call Long
// first: they run only under SESSIONKIT_TEST_LONG=1, which .ci/run sets, so
// that go test ./... stays short.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"sessionkit.dev/internal/mysqlserver"
)

// Environment variables that steer the harness (and EnvAsMySQL).
const (
	EnvDSN       = "SESSIONKIT_TEST_DSN"
	EnvRequireDB = "SESSIONKIT_TEST_REQUIRE_DB"
	EnvSkipDB    = "SESSIONKIT_TEST_SKIP_DB"
)

const skipMessage = "mysqltest: no MySQL/MariaDB server for database tests; set " + EnvDSN +
	"=root@tcp(127.0.0.1:3306)/ or install mariadb-server so that mariadbd is on PATH (" +
	EnvRequireDB + "=1 turns this skip into a failure)"

// noServerMessage is what Main prints when tests of the package skipped
// for want of a server; %d is how many.
const noServerMessage = `mysqltest: FAIL: %d database tests of this package were skipped: no MySQL or MariaDB server.
  Install one so that mariadbd or mysqld is on PATH or in /usr/sbin (apt-get install mariadb-server,
  brew install mariadb): the tests start a private server of their own.
  Or set ` + EnvDSN + `=root@tcp(127.0.0.1:3306)/ to use a running server whose user may create databases.
  Or set ` + EnvSkipDB + `=1 to run without the database tests.
`

// noServerSkips counts the tests skipped for want of a server.
var noServerSkips atomic.Int64

// skipWithoutServer skips t for want of a server, counting it, or fails it
// under SESSIONKIT_TEST_REQUIRE_DB=1.
func skipWithoutServer(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvRequireDB) == "1" {
		t.Fatal(skipMessage)
	}
	noServerSkips.Add(1)
	t.Skip(skipMessage)
}

// serverBinary finds the server binary: mysqlserver.Binary, unless a test
// of the harness pretends that there is none.
var serverBinary = mysqlserver.Binary

type sharedServer struct {
	once sync.Once
	srv  *mysqlserver.Server
	err  error
}

var (
	mu        sync.Mutex
	shared    = map[string]*sharedServer{} // by default time zone, "" for the server's own
	dedicated []*mysqlserver.Server
)

// Main runs the tests, stops and removes every private server the tests
// started, and then, when the tests passed, fails the run if a goroutine is
// left over (go.uber.org/goleak, with leakOptions for known exceptions). It
// also fails the run, printing how to provide a server, when tests were
// skipped for want of one, unless SESSIONKIT_TEST_SKIP_DB=1: go test then
// reports the package as FAIL with that message, not as ok. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(mysqltest.Main(m)) }
func Main(m *testing.M, leakOptions ...goleak.Option) int {
	code := m.Run()
	StopAll()
	if code == 0 {
		if err := goleak.Find(leakOptions...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	if n := noServerSkips.Load(); n > 0 && os.Getenv(EnvSkipDB) != "1" {
		fmt.Fprintf(os.Stderr, noServerMessage, n)
		code = 1
	}
	return code
}

// StopAll stops and removes every private server and cluster started so far.
func StopAll() {
	StopClusters()
	mu.Lock()
	defer mu.Unlock()
	for tz, s := range shared {
		if s.srv != nil {
			s.srv.Remove()
		}
		delete(shared, tz)
	}
	for _, s := range dedicated {
		s.Remove()
	}
	dedicated = nil
}

// Option changes what DSN and DB return.
type Option func(*options)

type options struct {
	timeZone string
	params   map[string]string
	mysql84  bool
}

// TimeZone asks for a server whose default time zone is tz: an offset such as
// "+05:30" or a zone name such as "Europe/Berlin" (the zone tables are loaded
// when the server lacks them). With SESSIONKIT_TEST_DSN, where the harness
// cannot restart the server, the zone is set as the session time zone of the
// returned DSN instead, which is what sessions on that server would see.
func TimeZone(tz string) Option { return func(o *options) { o.timeZone = tz } }

// Param adds a DSN parameter, such as Param("loc", "Local") or a system
// variable such as Param("time_zone", "%27%2B05:30%27") (values are
// URL-encoded as in a DSN).
func Param(name, value string) Option {
	return func(o *options) {
		if o.params == nil {
			o.params = map[string]string{}
		}
		o.params[name] = value
	}
}

// MySQL84 makes DB's pool answer as MySQL 8.4 would (see AsMySQL84).
func MySQL84() Option { return func(o *options) { o.mysql84 = true } }

// requireServer skips or fails t when no server can be had.
func requireServer(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvDSN) != "" {
		return
	}
	if serverBinary() == "" {
		skipWithoutServer(t)
	}
}

// baseConfig returns the driver configuration of the server for the options,
// connecting as a user who can create databases.
func baseConfig(t testing.TB, o *options) (*mysql.Config, *mysqlserver.Server) {
	t.Helper()
	requireServer(t)
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("mysqltest: %s: %v", EnvDSN, err)
		}
		c.ParseTime = true
		if o.timeZone != "" {
			if c.Params == nil {
				c.Params = map[string]string{}
			}
			c.Params["time_zone"] = "'" + o.timeZone + "'"
		}
		return c, nil
	}
	mu.Lock()
	s := shared[o.timeZone]
	if s == nil {
		s = &sharedServer{}
		shared[o.timeZone] = s
	}
	mu.Unlock()
	s.once.Do(func() { s.srv, s.err = mysqlserver.New(serverBinary(), o.timeZone) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv.Config(), s.srv
}

// Config returns the driver configuration of a fresh, empty database that is
// dropped when t ends.
func Config(t testing.TB, opts ...Option) *mysql.Config {
	t.Helper()
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	c, srv := baseConfig(t, o)
	return createDatabase(t, c, srv, o)
}

// DSN returns the DSN of a fresh, empty database that is dropped when t ends.
func DSN(t testing.TB, opts ...Option) string {
	t.Helper()
	return Config(t, opts...).FormatDSN()
}

// DB opens a pool on a fresh, empty database; the pool is closed and the
// database dropped when t ends. With the option MySQL84, or with
// SESSIONKIT_TEST_AS_MYSQL=1, its connections answer as MySQL 8.4 would
// (see AsMySQL84).
func DB(t testing.TB, opts ...Option) *sql.DB {
	t.Helper()
	o := &options{mysql84: AsMySQL()}
	for _, opt := range opts {
		opt(o)
	}
	if o.mysql84 {
		return OpenAsMySQL84(t, DSN(t, opts...))
	}
	return Open(t, DSN(t, opts...))
}

// Open opens a pool on dsn, such as one DSN returned, that is closed when t
// ends: for a test to look at the tables the code under test writes.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Server is a private server of one test, which the test may stop, kill,
// pause and start again (see mysqlserver.Server), and make databases on.
type Server struct {
	*mysqlserver.Server
}

// NewServer starts a private server for t alone, for tests that stop, kill
// or restart it; it is removed when t ends. Without mariadbd or mysqld the
// test is skipped (or fails under SESSIONKIT_TEST_REQUIRE_DB=1), even when
// SESSIONKIT_TEST_DSN is set, since that server cannot be stopped.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := mysqlserver.New(ServerBinary(t), "")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	dedicated = append(dedicated, s)
	mu.Unlock()
	t.Cleanup(func() { s.Remove() })
	return &Server{s}
}

// ServerBinary returns the path of mariadbd or mysqld, for a test that
// starts a server of its own. Without one the test is skipped (or fails
// under SESSIONKIT_TEST_REQUIRE_DB=1), even when SESSIONKIT_TEST_DSN is set.
func ServerBinary(t testing.TB) string {
	t.Helper()
	bin := serverBinary()
	if bin == "" {
		if os.Getenv(EnvDSN) != "" && os.Getenv(EnvRequireDB) != "1" {
			// A server was given: this skip is not for want of one.
			t.Skip("mysqltest: this test starts a server of its own, which needs mariadbd or mysqld; " +
				EnvDSN + "'s server is not enough")
		}
		skipWithoutServer(t)
	}
	return bin
}

// Database creates a fresh database on s, dropped when t ends (if s is up
// then), and returns its driver configuration.
func (s *Server) Database(t testing.TB, opts ...Option) *mysql.Config {
	t.Helper()
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return createDatabase(t, s.Config(), s.Server, o)
}

func createDatabase(t testing.TB, c *mysql.Config, srv *mysqlserver.Server, o *options) *mysql.Config {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "sk_" + hex.EncodeToString(b[:])

	admin := c.Clone()
	admin.DBName = ""
	admin.Timeout = 10 * time.Second
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatalf("mysqltest: creating database %s on %s: %v%s", name, c.Addr, err, srv.ErrorLogTail())
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	})

	out := c.Clone()
	out.DBName = name
	for k, v := range o.params {
		if err := out.Apply(withParam(k, v)); err != nil {
			t.Fatalf("mysqltest: DSN parameter %s=%s: %v", k, v, err)
		}
	}
	return out
}

// withParam applies a DSN parameter by formatting and re-parsing, which is
// the one way to reach every option the driver knows by name.
func withParam(name, value string) mysql.Option {
	return func(c *mysql.Config) error {
		parsed, err := mysql.ParseDSN(c.FormatDSN() + sep(c.FormatDSN()) + name + "=" + value)
		if err != nil {
			return err
		}
		*c = *parsed
		return nil
	}
}

func sep(dsn string) string {
	for i := len(dsn) - 1; i >= 0 && dsn[i] != '/'; i-- {
		if dsn[i] == '?' {
			return "&"
		}
	}
	return "?"
}
