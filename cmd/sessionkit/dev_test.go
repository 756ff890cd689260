//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestDevRunsTheExampleUntilInterrupted runs "sessionkit dev" as a user
// would, with nothing but mariadbd or mysqld installed: it waits for the
// address dev prints, logs in through the example with a cookie jar, finds
// the session in dev's database, sends SIGINT and expects dev to exit 0
// having stopped every process it started and removed every file it made
// (dev runs with TMPDIR set to a folder of the test's own, which must be
// empty at the end).
func TestDevRunsTheExampleUntilInterrupted(t *testing.T) {
	t.Parallel()
	mysqltest.ServerBinary(t)
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("this test finds the processes dev leaves behind in /proc, which this system lacks")
	}
	tmp := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "dev", "-addr", addr)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SESSION_") && name != "TMPDIR" && name != "GOTMPDIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A process dev left behind would hold its output open, and Wait would
	// wait for it.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("dev's stdout:\n%s\ndev's stderr:\n%s", stdout.String(), stderr.String())
		}
	})

	// Building the example and starting the server take seconds, more on
	// a busy machine.
	ready := regexp.MustCompile(`the chi example is running at (http://\S+/)`)
	dsnLine := regexp.MustCompile(`SESSION_MYSQL_DSN='([^']+)'`)
	var base, dsn string
	deadline := time.Now().Add(2 * time.Minute)
	for base == "" {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("dev exited before the example ran: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dev printed no address within 2 minutes")
		}
		out := stdout.String()
		if m := ready.FindStringSubmatch(out); m != nil {
			base = m[1]
			if m := dsnLine.FindStringSubmatch(out); m != nil {
				dsn = m[1]
			}
		}
	}
	if want := "http://" + addr + "/"; base != want {
		t.Errorf("dev printed the address %s, want %s", base, want)
	}
	if !strings.Contains(stdout.String(), "thrown away") {
		t.Errorf("dev does not say that the data is thrown away:\n%s", stdout.String())
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if body := fetch(t, client, "POST", base+"login", url.Values{"user": {"alice"}}); !strings.Contains(body, "Logged in as alice") {
		t.Errorf("after logging in, the page does not say so:\n%s", body)
	}
	if body := fetch(t, client, "GET", base, nil); !strings.Contains(body, "Logged in as alice") {
		t.Errorf("the next page does not know alice:\n%s", body)
	}
	if dsn == "" {
		t.Fatalf("dev printed no SESSION_MYSQL_DSN for the operations command:\n%s", stdout.String())
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	err = db.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&rows)
	db.Close()
	if err != nil || rows != 1 {
		t.Errorf("dev's database holds %d sessions (%v), want alice's one", rows, err)
	}

	// The example and the database server (and its wrapper) run with dev's
	// TMPDIR; seeing them now shows that the check after SIGINT can see
	// what is left.
	running := strings.Join(processesUsing(t, tmp), "\n")
	if !strings.Contains(running, "/chi") || !strings.Contains(running, "--datadir="+tmp) {
		t.Fatalf("while dev runs, the processes that use its TMPDIR do not include the example and the database server:\n%s", running)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("dev exited with %v after SIGINT, want status 0", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev did not exit within a minute of SIGINT")
	}
	if !strings.Contains(stdout.String(), "stopped") {
		t.Errorf("dev does not say that it stopped:\n%s", stdout.String())
	}
	if left := processesUsing(t, tmp); len(left) > 0 {
		t.Errorf("processes left running after dev exited:\n%s", strings.Join(left, "\n"))
		for _, p := range left {
			pid, _, _ := strings.Cut(p, ":")
			if n, err := strconv.Atoi(pid); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in TMPDIR: %s", filepath.Join(tmp, e.Name()))
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on %s", addr)
	}
}

// TestDevWithoutAServerSaysWhatToInstall runs dev where no server binary is
// found: it must fail at once, naming the packages that provide one.
func TestDevWithoutAServerSaysWhatToInstall(t *testing.T) {
	defer func(find func() string) { serverBinary = find }(serverBinary)
	serverBinary = func() string { return "" }
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"dev", "-addr", freeAddr(t)}, map[string]string{"PATH": os.Getenv("PATH")},
		&stdout, &stderr, false)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	r.want(t, exitFailed, nil, []string{"no MariaDB or MySQL server is installed", "mariadbd or mysqld",
		"apt-get install mariadb-server", "brew install mariadb", "docker compose up"})
}

// freeAddr returns 127.0.0.1 and a port that nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fetch sends a request, following redirects, and returns the body of a 200
// answer.
func fetch(t *testing.T, client *http.Client, method, target string, form url.Values) string {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s, %v\n%s", method, target, resp.Status, err, b)
	}
	return string(b)
}

// processesUsing lists the processes whose command line or environment
// names dir, from /proc.
func processesUsing(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue // gone, or not ours to read
		}
		environ, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if bytes.Contains(cmdline, []byte(dir)) || bytes.Contains(environ, []byte(dir)) {
			found = append(found, p.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
