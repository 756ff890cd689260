package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
)

var devCommand = &command{
	name:    "dev",
	summary: "run an example server on a throwaway MariaDB/MySQL server, until Ctrl-C",
	details: `
dev runs an example server (examples/chi, or examples/nethttp with -example
nethttp) with its sessions in a throwaway MariaDB or MySQL server, for
trying sessionkit without Docker and without setting up a database. Run it
in a checkout of sessionkit:

	go run ./cmd/sessionkit dev

It needs mariadbd or mysqld installed (apt-get install mariadb-server,
dnf install mariadb-server, brew install mariadb), nothing else: no service
running, no configuration, no root or sudo. It also needs the go command,
which builds the example.

dev starts a private server in a temporary folder, on a free port of
127.0.0.1, as the tests do; creates the database sessionkit and the session
table in it; builds and starts the example; and prints the address to open.
Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the example and the server and
removes the folder: the sessions are thrown away.

SESSION_MYSQL_DSN and SESSION_STORE are dev's own. The other SESSION_*
variables, and LOG_LEVEL and DEBUG_VARS, reach the example as they are set,
except that SESSION_COOKIE_SECURE is false unless it is set: the example is
served over plain HTTP.`,
	flags: func(fs *flag.FlagSet) any {
		o := &devOptions{}
		fs.StringVar(&o.addr, "addr", "localhost:4000", "the address the example listens on, host:port")
		fs.StringVar(&o.example, "example", "chi", "the example to run: "+strings.Join(devExamples, " or "))
		return o
	},
	run: runDev,
}

// devExamples are the examples dev can run, each a main package under
// examples/.
var devExamples = []string{"chi", "nethttp"}

type devOptions struct {
	addr    string
	example string
}

// devDatabase is the database dev creates on its server for the example.
const devDatabase = "sessionkit"

// check returns what is wrong with the options, for a usage error.
func (o *devOptions) check() error {
	known := false
	for _, name := range devExamples {
		known = known || o.example == name
	}
	if !known {
		return fmt.Errorf("-example %q: want %s", o.example, strings.Join(devExamples, " or "))
	}
	_, port, err := net.SplitHostPort(o.addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		return fmt.Errorf("-addr %q: want host:port with a port from 1 to 65535, such as localhost:4000", o.addr)
	}
	return nil
}

// url is the address to open in a browser: the host of -addr, or localhost
// when it listens on every interface.
func (o *devOptions) url() string {
	host, port, _ := net.SplitHostPort(o.addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// exampleEnv returns the example's environment: environ with dev's DSN and
// address, and cookies without Secure unless SESSION_COOKIE_SECURE is set.
func exampleEnv(environ map[string]string, dsn, addr string) map[string]string {
	env := make(map[string]string, len(environ)+4)
	for k, v := range environ {
		env[k] = v
	}
	env["SESSION_MYSQL_DSN"] = dsn
	env["SESSION_STORE"] = "mysql"
	env["ADDR"] = addr
	if _, set := environ["SESSION_COOKIE_SECURE"]; !set {
		env["SESSION_COOKIE_SECURE"] = "false"
	}
	return env
}
