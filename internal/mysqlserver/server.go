// Package mysqlserver runs a private MySQL or MariaDB server: a mariadbd or
// mysqld process with a data directory of its own in a temporary folder and
// a free port on 127.0.0.1, which root reaches with no password. It needs
// nothing configured, no root privileges and no running service, only the
// server's binaries. The process and its files go away when the server is
// removed, and also when the program that started it exits, however it
// exits.
//
// The tests (through internal/mysqltest) and "sessionkit dev" use it.
package mysqlserver

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
	// ExtraArgs are appended to the server's command line by Start; tests
	// of start-up failures set them.
	ExtraArgs []string

	bin string // mariadbd or mysqld
	dir string // holds data/, the socket and the error log
	tz  string // --default-time-zone, empty for the server's default

	mu      sync.Mutex
	wrapper *exec.Cmd      // sh process that owns the server process
	exited  chan struct{}  // closed when the wrapper has exited
	stdin   io.WriteCloser // closing it makes the wrapper stop the server
	pid     int            // the server process, once Start has seen it
	paused  bool           // Pause sent SIGSTOP and Resume has not undone it
}

// searchDirs are the folders besides PATH where Binary looks for the server:
// the usual sbin folders, which are not on a normal user's PATH on Debian.
var searchDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"}

// Binary returns the path of mariadbd or mysqld on PATH or in the usual
// sbin folders (/usr/sbin, /usr/local/sbin, /usr/local/mysql/bin), or ""
// when there is neither.
func Binary() string {
	for _, name := range []string{"mariadbd", "mysqld"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range searchDirs {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		}
	}
	return ""
}

// New initialises a data directory for the server binary bin (see Binary)
// and starts a server on a free port, with root@127.0.0.1 allowed in over
// TCP with no password. tz is the server's default time zone: an offset
// such as "+05:30", a zone name such as "Europe/Berlin" (whose zone tables
// are loaded when the server lacks them), or "" for the server's own.
func New(bin, tz string) (*Server, error) {
	s, err := Prepare(bin, tz)
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

// Prepare initialises a data directory for a server on a free port, as New
// does, without starting it.
func Prepare(bin, tz string) (*Server, error) {
	dir, err := os.MkdirTemp("", "sessionkit-mysqld-*")
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
// at the same moment by parallel programs would otherwise trip over each
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
				return fmt.Errorf("mysqlserver: %s not found next to %s: %w", tool, s.bin, err)
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
		return fmt.Errorf("mysqlserver: initialising %s: %w\n%s", s.datadir(), err, out)
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
			return fmt.Errorf("mysqlserver: %s: %w", q, err)
		}
	}
	if isNamedZone(s.tz) {
		if err := s.loadZoneTables(ctx, db, s.tz); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "SET GLOBAL time_zone = ?", s.tz); err != nil {
			return fmt.Errorf("mysqlserver: setting the default time zone to %q: %w", s.tz, err)
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
	tool := LookPath("mariadb-tzinfo-to-sql", "mysql_tzinfo_to_sql")
	client := LookPath("mariadb", "mysql")
	if tool == "" || client == "" {
		return errors.New("mysqlserver: loading time zone tables needs mariadb-tzinfo-to-sql (or mysql_tzinfo_to_sql) and the mariadb (or mysql) client on PATH")
	}
	statements, err := exec.CommandContext(ctx, tool, filepath.Join("/usr/share/zoneinfo", zone), zone).Output()
	if err != nil {
		return fmt.Errorf("mysqlserver: %s %s: %w", tool, zone, err)
	}
	cmd := exec.CommandContext(ctx, client, "--no-defaults", "--user=root", "--socket="+s.socket(), "mysql")
	cmd.Stdin = strings.NewReader(string(statements))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mysqlserver: loading time zone %s: %w\n%s", zone, err, out)
	}
	return nil
}

// LookPath returns the path of the first of names found on PATH, or "".
func LookPath(names ...string) string {
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

// Dir is the server's folder: its data directory, socket and error log.
func (s *Server) Dir() string { return s.dir }

// ErrorLogTail returns the end of the server's error log, after a line
// break, to explain a server that stopped answering; it is empty for a nil
// Server, such as a server that was not started here.
func (s *Server) ErrorLogTail() string {
	if s == nil {
		return ""
	}
	log, err := os.ReadFile(filepath.Join(s.dir, "error.log"))
	if err != nil {
		return "\n(no error log: " + err.Error() + ")"
	}
	return "\n" + s.String() + ", end of its error log:\n" + tail(string(log), 3000)
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("%s on 127.0.0.1:%d", s.bin, s.Port) }
