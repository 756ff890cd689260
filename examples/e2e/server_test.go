package e2e

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// cookieName is the session cookie's name under the default
// SESSION_COOKIE_NAME with SESSION_COOKIE_SECURE=false, as the examples run
// here over plain HTTP.
const cookieName = "session"

// example is one example server, built once per test binary on first use.
type example struct {
	name  string // directory under examples/
	plain bool   // built without the race detector, also when the tests have it
	once  sync.Once
	bin   string
	err   error
}

var examples = []*example{{name: "chi"}, {name: "nethttp"}}

var binaries struct {
	mu  sync.Mutex
	dir string
}

// removeBinaries deletes the built example binaries; TestMain calls it.
func removeBinaries() {
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
}

// binary builds the example, with the race detector when the tests have it,
// and returns the path of the executable.
func (ex *example) binary(t *testing.T) string {
	t.Helper()
	ex.once.Do(func() {
		binaries.mu.Lock()
		if binaries.dir == "" {
			binaries.dir, ex.err = os.MkdirTemp("", "sessionkit-e2e-*")
		}
		dir := binaries.dir
		binaries.mu.Unlock()
		if ex.err != nil {
			return
		}
		bin := filepath.Join(dir, ex.name)
		if ex.plain {
			bin += "-plain"
		}
		args := []string{"build", "-o", bin}
		if raceEnabled && !ex.plain {
			args = append(args, "-race")
		}
		args = append(args, "sessionkit.dev/examples/"+ex.name)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			ex.err = &buildError{ex.name, err, out}
			return
		}
		ex.bin = bin
	})
	if ex.err != nil {
		t.Fatal(ex.err)
	}
	return ex.bin
}

type buildError struct {
	name string
	err  error
	out  []byte
}

func (e *buildError) Error() string {
	return "building examples/" + e.name + ": " + e.err.Error() + "\n" + string(e.out)
}

// forEachExample runs test as a parallel subtest for every example.
func forEachExample(t *testing.T, test func(t *testing.T, ex *example)) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			test(t, ex)
		})
	}
}

// process is a running example server.
type process struct {
	name   string
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:port once listening
	stderr *logLines
	exited chan struct{} // closed once the process has exited
}

// launch starts the example with a clean environment plus env, listening on
// a free port of 127.0.0.1 unless env sets ADDR. The process is killed when
// the test ends, and its logs are shown if the test failed.
func launch(t *testing.T, ex *example, env ...string) *process {
	t.Helper()
	bin := ex.binary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(inheritedEnv(), "ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	p := &process{name: ex.name, cmd: cmd, stderr: newLogLines(), exited: make(chan struct{})}
	cmd.Stdout = p.stderr // the examples log to stderr; anything on stdout is shown alike
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.hasExited() {
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s (pid %d) logs:\n%s", p.name, cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// startExample launches the example against the database dsn and waits until
// it listens.
func startExample(t *testing.T, ex *example, dsn string, env ...string) *process {
	t.Helper()
	env = append([]string{
		"SESSION_MYSQL_DSN=" + dsn,
		"SESSION_CREATE_TABLE=true",
		"SESSION_COOKIE_SECURE=false",
	}, env...)
	p := launch(t, ex, env...)
	p.waitListening(t)
	return p
}

// waitListening waits for the "listening" log line and sets p.URL.
func (p *process) waitListening(t *testing.T) {
	t.Helper()
	select {
	case addr := <-p.stderr.listening:
		p.URL = "http://" + addr
	case <-p.exited:
		t.Fatalf("%s exited before listening: %v", p.name, p.cmd.ProcessState)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60s", p.name)
	}
}

// inheritedEnv is this process's environment without the variables the
// examples read, so that a developer's shell does not steer the tests.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SESSION_"), name == "ADDR", name == "LOG_LEVEL", name == "DEBUG_VARS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// waitExit waits up to timeout for the process to exit and returns its exit
// code; it fails the test if the process is still running then.
func (p *process) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s still running %v after it was told to stop", p.name, timeout)
		return -1
	}
}

// stop sends SIGTERM and expects a clean exit within 10s.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Fatalf("%s exited with code %d after SIGTERM, want 0", p.name, code)
	}
}

// logLines collects a process's output and reports the address of the
// "listening" log line.
type logLines struct {
	mu        sync.Mutex
	all       bytes.Buffer
	partial   []byte
	listening chan string
}

func newLogLines() *logLines { return &logLines{listening: make(chan string, 1)} }

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(b)
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(l.partial[:i], &rec) == nil && rec.Msg == "listening" {
			select {
			case l.listening <- rec.Addr:
			default:
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(b), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// client is a browser stand-in: a cookie jar, no redirects followed, no
// connection reuse (servers come and go under it).
type client struct {
	t         *testing.T
	jar       *cookiejar.Jar
	hc        *http.Client
	userAgent string // sent as User-Agent when set
}

func newClient(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, jar: jar, hc: &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends req and returns the status and body.
func (c *client) do(req *http.Request) (int, string) {
	c.t.Helper()
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(body)
}

func (c *client) get(target string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form, with the extra headers given as name, value pairs.
func (c *client) post(target string, form url.Values, headers ...string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// mustGet expects status 200 and returns the body.
func (c *client) mustGet(target string) string {
	c.t.Helper()
	status, body := c.get(target)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: status %d, want 200; body %q", target, status, body)
	}
	return body
}

// token is the session cookie the jar holds for base, or "".
func (c *client) token(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

// storedRows counts the rows of the sessions table for token, stored as is
// or, as sessionkit does by default, as its SHA-256.
func storedRows(t *testing.T, db *sql.DB, token string) int {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	hashed := base64.RawURLEncoding.EncodeToString(sum[:])
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE token IN (?, ?)", token, hashed).Scan(&n)
	if err != nil {
		t.Fatalf("counting sessions: %v", err)
	}
	return n
}
