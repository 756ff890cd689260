// Command sessionkit looks after the session table of services built on
// sessionkit: it checks and creates the table, deletes expired sessions,
// reports what the table holds, upgrades plain tokens to hashed ones, ends
// a user's sessions and shows the configuration. In a checkout of
// sessionkit, "go run ./cmd/sessionkit dev" runs an example server on a
// throwaway database server, for trying sessionkit with nothing set up.
//
// It is configured by the same SESSION_* environment variables as the
// services (see the README's Configuration), so that it runs with their
// environment, for example as a one-off job beside them:
//
//	sessionkit check            check the table; print what to run to fix it
//	sessionkit create-table     create the recommended table, if missing
//	sessionkit cleanup          delete expired sessions now, in batches
//	sessionkit stats            rows, live and expired, data sizes, sessions per user
//	sessionkit upgrade-tokens   move sessions stored under plain tokens to their hash
//	sessionkit revoke-user ID   end every session of a user
//	sessionkit config           print the effective configuration, secrets redacted
//	sessionkit dev              run an example server on a throwaway MariaDB/MySQL server
//
// "sessionkit help COMMAND" or "sessionkit COMMAND -h" describes a command.
// The commands that work on the database wait for it to answer as a service
// does at start-up, for 30 seconds unless -wait says otherwise.
//
// Exit status:
//
//	0  success: the operation succeeded, or check found all well
//	1  the operation failed (the database did not answer, a statement
//	   failed), or check found problems
//	2  usage or configuration error: an unknown command, a bad flag or
//	   argument, or a bad SESSION_* variable (the message names it)
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Exit statuses.
const (
	exitOK     = 0 // success
	exitFailed = 1 // the operation failed, or check found problems
	exitUsage  = 2 // usage or configuration error
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], environment(), os.Stdout, os.Stderr, isTerminal(os.Stdout))
	stop()
	os.Exit(code)
}

// environment returns the process environment as a map, as
// sessionkit.LoadConfig reads it.
func environment() map[string]string {
	environ := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			environ[k] = v
		}
	}
	return environ
}

// isTerminal reports whether f is a terminal (a character device), where
// progress is shown on one line rewritten in place.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// app is one run of the command: its environment and its output.
type app struct {
	environ        map[string]string
	stdout, stderr io.Writer
	tty            bool          // stdout is a terminal
	wait           time.Duration // how long open waits for the database (-wait)
}

// command is a subcommand.
type command struct {
	name    string
	args    string // the arguments after the flags, for the usage line; "" takes none
	summary string // one line, for the list of commands
	details string // what its help says after the usage line
	db      bool   // it works on the database, and takes -wait
	flags   func(fs *flag.FlagSet) any
	run     func(ctx context.Context, a *app, c *command, opts any, args []string) int
}

func commands() []*command {
	return []*command{checkCommand, createTableCommand, cleanupCommand, statsCommand,
		upgradeTokensCommand, revokeUserCommand, configCommand, devCommand}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

const exitStatuses = `Exit status:
  0  success: the operation succeeded, or check found all well
  1  the operation failed (the database did not answer, a statement failed),
     or check found problems
  2  usage or configuration error: an unknown command, a bad flag or
     argument, or a bad SESSION_* variable (the message names it)
`

// printUsage writes the command's usage: its commands, its configuration
// and its exit statuses.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: sessionkit COMMAND [flags] [arguments]

sessionkit looks after the session table of services built on sessionkit.
It reads the same SESSION_* environment variables as the services
(SESSION_MYSQL_DSN, SESSION_TABLE, SESSION_DB_QUERY_TIMEOUT, ...).

Commands:
`)
	for _, c := range commands() {
		name := c.name
		if c.args != "" {
			name += " " + c.args
		}
		fmt.Fprintf(w, "  %-18s %s\n", name, c.summary)
	}
	fmt.Fprint(w, `
Run "sessionkit help COMMAND" or "sessionkit COMMAND -h" for a command's help.

`+exitStatuses)
}

// printHelp writes a command's help.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	line := "sessionkit " + c.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, strings.TrimSpace(c.details))
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fmt.Fprint(w, "\n"+exitStatuses)
}

// run runs the command line args (without the program's name) and returns
// the exit status.
func run(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer, tty bool) int {
	a := &app{environ: environ, stdout: stdout, stderr: stderr, tty: tty}
	if len(args) == 0 {
		fmt.Fprint(stderr, "sessionkit: no command given\n\n")
		printUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			c := findCommand(rest[0])
			if c == nil || len(rest) > 1 {
				fmt.Fprintf(stderr, "sessionkit help: unknown command %q\n\n", strings.Join(rest, " "))
				printUsage(stderr)
				return exitUsage
			}
			fs, _ := newFlagSet(c, new(time.Duration))
			printHelp(stdout, c, fs)
			return exitOK
		}
		printUsage(stdout)
		return exitOK
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(stderr, "sessionkit: unknown command %q\n\n", name)
		printUsage(stderr)
		return exitUsage
	}
	fs, opts := newFlagSet(c, &a.wait)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "sessionkit %s: %v\n\n", c.name, err)
		printHelp(stderr, c, fs)
		return exitUsage
	}
	if c.args == "" && fs.NArg() > 0 {
		return a.usageError(c, "unexpected argument %q", fs.Arg(0))
	}
	return c.run(ctx, a, c, opts, fs.Args())
}

// defaultWait is how long a command waits for the database by default, as
// long as a service does at start-up.
const defaultWait = 30 * time.Second

// newFlagSet returns the command's flags, and the value that holds them;
// -wait, for a command that works on the database, sets *wait.
func newFlagSet(c *command, wait *time.Duration) (*flag.FlagSet, any) {
	fs := flag.NewFlagSet("sessionkit "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the errors and the help itself
	fs.Usage = func() {}
	var opts any
	if c.flags != nil {
		opts = c.flags(fs)
	}
	if c.db {
		fs.DurationVar(wait, "wait", defaultWait, "how long to wait for the database to answer, trying again with a growing delay")
	}
	return fs, opts
}

// usageError prints a command's usage problem, with its help, to stderr
// and returns exitUsage.
func (a *app) usageError(c *command, format string, args ...any) int {
	fmt.Fprintf(a.stderr, "sessionkit %s: %s\n\n", c.name, fmt.Sprintf(format, args...))
	fs, _ := newFlagSet(c, new(time.Duration))
	printHelp(a.stderr, c, fs)
	return exitUsage
}

// fail prints err to stderr and returns exitFailed.
func (a *app) fail(c *command, err error) int {
	fmt.Fprintf(a.stderr, "sessionkit %s: %v\n", c.name, err)
	if errors.Is(err, sessionmysql.ErrTableMissing) {
		fmt.Fprintln(a.stderr, `the session table does not exist: run "sessionkit create-table", or "sessionkit check" for the statement that creates it`)
	}
	return exitFailed
}

// config loads the configuration. On a bad variable it prints the kit's
// error, which names every bad variable, and returns false.
func (a *app) config(c *command) (sessionkit.Config, bool) {
	cfg, err := sessionkit.LoadConfigFrom(a.environ)
	if err != nil {
		fmt.Fprintf(a.stderr, "sessionkit %s: configuration: %v\n", c.name, err)
		return cfg, false
	}
	return cfg, true
}

// opened is the store a command works on, its pool and its configuration.
type opened struct {
	store *sessionmysql.Store
	db    *sql.DB
	cfg   sessionkit.Config
}

func (o *opened) close() {
	o.store.Close()
	o.db.Close()
}

// open loads the configuration and opens the store, with logs going to
// logger (warnings on stderr if nil). If it cannot, it prints why and
// returns nil and the exit status.
func (a *app) open(ctx context.Context, c *command, logger *slog.Logger) (*opened, int) {
	cfg, ok := a.config(c)
	if !ok {
		return nil, exitUsage
	}
	if cfg.Store != sessionkit.StoreMySQL {
		fmt.Fprintf(a.stderr, "sessionkit %s: configuration: SESSION_STORE %q: this command works on the session table, which needs SESSION_STORE=mysql\n", c.name, cfg.Store)
		return nil, exitUsage
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.Logger = logger
	if a.wait <= 0 {
		return nil, a.usageError(c, "-wait %v: must be positive", a.wait)
	}
	openCtx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	store, db, err := sessionkit.OpenStore(openCtx, cfg)
	if err != nil {
		var ce *sessionkit.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintf(a.stderr, "sessionkit %s: configuration: %v\n", c.name, err)
			return nil, exitUsage
		}
		return nil, a.fail(c, err)
	}
	return &opened{store: store, db: db, cfg: cfg}, exitOK
}
