//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"sessionkit.dev/internal/mysqlserver"
)

// serverBinary finds the database server's binary: mysqlserver.Binary,
// unless a test pretends that there is none.
var serverBinary = mysqlserver.Binary

// noServerHelp is dev's error where no server is installed.
const noServerHelp = `no MariaDB or MySQL server is installed: dev needs mariadbd or mysqld on PATH
or in /usr/sbin. Install one; the service need not run and nothing needs configuring:
  apt-get install mariadb-server   (Debian, Ubuntu)
  dnf install mariadb-server       (Fedora)
  brew install mariadb             (macOS)
With Docker, docker compose up runs the examples instead.`

// Time limits of dev.
const (
	exampleReadyTimeout = time.Minute      // from the example's start to its first answer
	exampleStopTimeout  = 15 * time.Second // its graceful shutdown takes up to 9s
)

func runDev(ctx context.Context, a *app, c *command, opts any, _ []string) int {
	o := opts.(*devOptions)
	if err := o.check(); err != nil {
		return a.usageError(c, "%v", err)
	}
	// Closing the terminal stops everything as Ctrl-C does; main stops the
	// command on SIGINT and SIGTERM.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stop()
	// stopped is set when dev stops on a signal, as asked; this says so
	// once the calls deferred after it have removed the server and files.
	stopped := false
	defer func() {
		if stopped {
			fmt.Fprintln(a.stdout, "sessionkit dev: stopped; the database server and its data are removed")
		}
	}()
	devStopped := func() int {
		stopped = true
		return exitOK
	}

	// The example's configuration is checked before anything starts, with
	// a stand-in port until the server has one.
	ex := &app{environ: exampleEnv(a.environ, devDSN(3306), o.addr), stdout: a.stdout, stderr: a.stderr, wait: defaultWait}
	if _, ok := ex.config(c); !ok {
		return exitUsage
	}
	bin := serverBinary()
	if bin == "" {
		return a.fail(c, errors.New(noServerHelp))
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return a.fail(c, errors.New("the go command is not on PATH: dev builds the example with it"))
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return a.fail(c, fmt.Errorf("-addr %s: %w; choose another address with -addr", o.addr, err))
	}
	l.Close()
	if _, set := a.environ["SESSION_MYSQL_DSN"]; set {
		fmt.Fprintln(a.stdout, "sessionkit dev: SESSION_MYSQL_DSN is set; dev uses a server of its own instead")
	}

	work, err := os.MkdirTemp("", "sessionkit-dev-*")
	if err != nil {
		return a.fail(c, err)
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(a.stdout, "sessionkit dev: building examples/%s\n", o.example)
	exe, err := buildExample(ctx, goTool, o.example, work)
	if ctx.Err() != nil {
		return devStopped()
	}
	if err != nil {
		return a.fail(c, err)
	}

	fmt.Fprintf(a.stdout, "sessionkit dev: starting a throwaway database server (%s) in a temporary folder\n", bin)
	srv, err := mysqlserver.New(bin, "")
	if err != nil {
		if ctx.Err() != nil {
			return devStopped()
		}
		return a.fail(c, err)
	}
	defer srv.Remove()
	version, err := createDevDatabase(ctx, srv)
	if ctx.Err() != nil {
		return devStopped()
	}
	if err != nil {
		return a.fail(c, err)
	}
	ex.environ = exampleEnv(a.environ, devDSN(srv.Port), o.addr)
	if code := createDevTable(ctx, ex, c); code != exitOK {
		if ctx.Err() != nil {
			return devStopped()
		}
		return code
	}

	p, err := startExample(exe, ex.environ, a)
	if err != nil {
		return a.fail(c, err)
	}
	if err := p.awaitReady(ctx, o.url(), exampleReadyTimeout); err != nil {
		p.stop(exampleStopTimeout)
		if ctx.Err() != nil {
			return devStopped()
		}
		return a.fail(c, fmt.Errorf("the %s example: %w", o.example, err))
	}
	fmt.Fprintf(a.stdout, `
sessionkit dev: the %s example is running at %s
  Its sessions are in a throwaway database server (%s) on 127.0.0.1:%d,
  database %s; the data is thrown away when dev stops. Ctrl-C stops it.
  The operations command works on it from another terminal, in the checkout:
    SESSION_MYSQL_DSN='%s' go run ./cmd/sessionkit stats

`, o.example, o.url(), version, srv.Port, devDatabase, devDSN(srv.Port))

	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stdout, "\nsessionkit dev: stopping the example and the database server")
		if err := p.stop(exampleStopTimeout); err != nil {
			fmt.Fprintf(a.stderr, "sessionkit dev: the %s example: %v\n", o.example, err)
		}
		return devStopped()
	case <-p.done:
		return a.fail(c, fmt.Errorf("the %s example exited: %v (its log is above)", o.example, p.err))
	}
}

// devDSN is the DSN of dev's database on a server at port.
func devDSN(port int) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", port, devDatabase)
}

// buildExample builds examples/name into dir and returns the binary's path.
// go build keeps its work files in dir too, so that removing dir removes
// whatever an interrupted build leaves.
func buildExample(ctx context.Context, goTool, name, dir string) (string, error) {
	exe := filepath.Join(dir, name)
	cmd := exec.Command(goTool, "build", "-o", exe, "sessionkit.dev/examples/"+name)
	cmd.Env = append(os.Environ(), "GOTMPDIR="+dir)
	// A process group of its own, so that go build and the compiler and
	// linker it runs are stopped together, and only by dev.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("building the %s example: %w", name, err)
	}
	built := make(chan error, 1)
	go func() { built <- cmd.Wait() }()
	var err error
	select {
	case err = <-built:
	case <-ctx.Done():
		// SIGINT, on which go build removes its work files, then SIGKILL
		// for whatever is left of the group, so that nothing writes into
		// dir once it is removed.
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGINT)
		select {
		case <-built:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-built
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if syscall.Kill(-pgid, syscall.SIGKILL) == syscall.ESRCH {
				break
			}
		}
		return "", ctx.Err()
	}
	if err != nil {
		return "", fmt.Errorf("building the %s example: %v\n%s\ndev builds the example from the source: run it in a checkout of sessionkit, as go run ./cmd/sessionkit dev", name, err, out.Bytes())
	}
	return exe, nil
}

// createDevDatabase creates dev's database on srv and returns the server's
// version.
func createDevDatabase(ctx context.Context, srv *mysqlserver.Server) (string, error) {
	db, err := sql.Open("mysql", srv.Config().FormatDSN())
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+devDatabase+"`"); err != nil {
		return "", fmt.Errorf("creating the database %s: %w%s", devDatabase, err, srv.ErrorLogTail())
	}
	var version string
	err = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version)
	return version, err
}

// createDevTable creates the session table the example's configuration
// names, as create-table does, and returns the exit status.
func createDevTable(ctx context.Context, ex *app, c *command) int {
	op, code := ex.open(ctx, c, nil)
	if op == nil {
		return code
	}
	defer op.close()
	if err := op.store.CreateTable(ctx); err != nil {
		return ex.fail(c, err)
	}
	fmt.Fprintf(ex.stdout, "sessionkit dev: created table %s in database %s\n", op.store.Table(), devDatabase)
	return exitOK
}

// process is the running example.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // how it exited, once done is closed
}

// startExample starts the example binary exe with the environment env, its
// logs on a's stderr. It runs in a process group of its own: Ctrl-C in the
// terminal reaches dev alone, which stops the example once, gracefully.
func startExample(exe string, env map[string]string, a *app) (*process, error) {
	cmd := exec.Command(exe)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	slices.Sort(cmd.Env)
	cmd.Stdout, cmd.Stderr = a.stderr, a.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", exe, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// awaitReady waits until the example answers GET /healthz at url with 200.
func (p *process) awaitReady(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url + "healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %v", timeout, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it answered: %v (its log is above)", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends the example SIGTERM, for a graceful shutdown, and SIGKILL if it
// has not exited after timeout; it returns once the example has exited, with
// how it exited.
func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("killed after it did not stop within %v of SIGTERM", timeout)
}
