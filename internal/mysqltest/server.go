package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Server is a private MySQL or MariaDB server process with its own data
// directory and port on 127.0.0.1. It can be stopped and started again on the
// same port with its data intact, which is how tests simulate a database that
// goes away and comes back, and paused, for a database that stalls.
type Server struct {
	// Port is the TCP port on 127.0.0.1 the server listens on.
	Port int

	bin string // mariadbd or mysqld
	dir string // holds data/, the socket and the error log
	tz  string // --default-time-zone, empty for the server's default
	// extraArgs are appended to the server's command line; tests of the
	// harness use them to make a start fail.
	extraArgs []string

	mu      sync.Mutex
	wrapper *exec.Cmd      // sh process that owns the server process
	exited  chan struct{}  // closed when the wrapper has exited
	stdin   io.WriteCloser // closing it makes the wrapper stop the server
	pid     int            // the server process, once Start has seen it
	paused  bool           // Pause sent SIGSTOP and Resume has not undone it
}

// serverBinary finds the server binary: findServerBinary, unless a test of
// the harness pretends that there is none.
var serverBinary = findServerBinary

// findServerBinary finds mariadbd or mysqld on PATH or in the usual sbin
// folders, which are not on a normal user's PATH on Debian.
func findServerBinary() string {
	for _, name := range []string{"mariadbd", "mysqld"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		}
	}
	return ""
}

// newServer initialises a data directory and starts a server on a free port.
func newServer(bin, tz string) (*Server, error) {
	s, err := prepareServer(bin, tz)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	if err := s.grantTCPRoot(); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

// prepareServer initialises a data directory for a server on a free port,
// without starting it.
func prepareServer(bin, tz string) (*Server, error) {
	dir, err := os.MkdirTemp("", "sessionkit-mysqltest-*")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Port: port, bin: bin, dir: dir, tz: tz}
	if err := os.Mkdir(s.tmpdir(), 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.initialise(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) isMariaDB() bool { return strings.Contains(filepath.Base(s.bin), "mariadb") }

func (s *Server) datadir() string { return filepath.Join(s.dir, "data") }

// tmpdir is the server's own temporary folder: servers installed or started
// at the same moment by parallel test binaries would otherwise trip over each
// other's temporary files in /tmp.
func (s *Server) tmpdir() string { return filepath.Join(s.dir, "tmp") }
func (s *Server) socket() string { return filepath.Join(s.dir, "mysqld.sock") }

func (s *Server) userArgs() []string {
	if os.Geteuid() == 0 {
		// Both servers refuse to run as root unless told to.
		return []string{"--user=root"}
	}
	return nil
}

// initialise creates the system tables with the tool that ships with the
// server: mariadb-install-db for MariaDB, mysqld --initialize-insecure for
// MySQL. Either way root@localhost has an empty password.
func (s *Server) initialise() error {
	var cmd *exec.Cmd
	if s.isMariaDB() {
		tool := "mariadb-install-db"
		p, err := exec.LookPath(tool)
		if err != nil {
			if p, err = exec.LookPath("mysql_install_db"); err != nil {
				return fmt.Errorf("mysqltest: %s not found next to %s: %w", tool, s.bin, err)
			}
		}
		args := []string{"--no-defaults", "--datadir=" + s.datadir(), "--tmpdir=" + s.tmpdir(), "--auth-root-authentication-method=normal",
			"--skip-test-db", "--innodb-log-file-size=16M"}
		cmd = exec.Command(p, append(args, s.userArgs()...)...)
	} else {
		args := []string{"--no-defaults", "--initialize-insecure", "--datadir=" + s.datadir(), "--tmpdir=" + s.tmpdir()}
		cmd = exec.Command(s.bin, append(args, s.userArgs()...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mysqltest: initialising %s: %w\n%s", s.datadir(), err, out)
	}
	return nil
}

func (s *Server) rootSocketDSN() string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = s.socket()
	c.Timeout = 2 * time.Second
	return c.FormatDSN()
}

// Config returns a driver configuration for root over TCP with no database.
func (s *Server) Config() *mysql.Config {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	c.ParseTime = true
	return c
}

// grantTCPRoot lets root connect over TCP from 127.0.0.1 with an empty
// password; the install tools only create root@localhost, which with
// --skip-name-resolve matches the socket alone. It also loads the time zone
// tables when the server is to run in a named zone.
func (s *Server) grantTCPRoot() error {
	db, err := sql.Open("mysql", s.rootSocketDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mysqltest: %s: %w", q, err)
		}
	}
	if isNamedZone(s.tz) {
		if err := s.loadZoneTables(ctx, db, s.tz); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "SET GLOBAL time_zone = ?", s.tz); err != nil {
			return fmt.Errorf("mysqltest: setting the default time zone to %q: %w", s.tz, err)
		}
	}
	return nil
}

// isNamedZone reports whether tz is a zone name such as Europe/Berlin rather
// than an offset such as +05:30 or SYSTEM.
func isNamedZone(tz string) bool {
	return tz != "" && tz != "SYSTEM" && !strings.HasPrefix(tz, "+") && !strings.HasPrefix(tz, "-")
}

// loadZoneTables loads one zone into the mysql.time_zone* tables from the
// system's zoneinfo, using the tools packaged with the server, unless the
// server knows the zone already.
func (s *Server) loadZoneTables(ctx context.Context, db *sql.DB, zone string) error {
	var known sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT CONVERT_TZ('2000-01-01 00:00:00', 'UTC', ?)", zone).Scan(&known); err == nil && known.Valid {
		return nil
	}
	tool := lookPath("mariadb-tzinfo-to-sql", "mysql_tzinfo_to_sql")
	client := lookPath("mariadb", "mysql")
	if tool == "" || client == "" {
		return errors.New("mysqltest: loading time zone tables needs mariadb-tzinfo-to-sql (or mysql_tzinfo_to_sql) and the mariadb (or mysql) client on PATH")
	}
	statements, err := exec.CommandContext(ctx, tool, filepath.Join("/usr/share/zoneinfo", zone), zone).Output()
	if err != nil {
		return fmt.Errorf("mysqltest: %s %s: %w", tool, zone, err)
	}
	cmd := exec.CommandContext(ctx, client, "--no-defaults", "--user=root", "--socket="+s.socket(), "mysql")
	cmd.Stdin = strings.NewReader(string(statements))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mysqltest: loading time zone %s: %w\n%s", zone, err, out)
	}
	return nil
}

func lookPath(names ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// errorLogTail returns the end of the server's error log, to explain a server
// that stopped answering; it is empty for a server the harness did not start.
func (s *Server) errorLogTail() string {
	if s == nil {
		return ""
	}
	log, err := os.ReadFile(filepath.Join(s.dir, "error.log"))
	if err != nil {
		return "\n(no error log: " + err.Error() + ")"
	}
	return "\n" + s.String() + ", end of its error log:\n" + tail(string(log), 3000)
}
