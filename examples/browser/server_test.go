package browser

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// examples are the example servers, each built once per test binary, on
// first use.
var examples = []*example{{name: "chi"}, {name: "nethttp"}}

type example struct {
	name string // directory under examples/
	once sync.Once
	bin  string
	err  error
}

var binaries struct {
	mu  sync.Mutex
	dir string
}

// removeBinaries deletes the built examples; TestMain calls it.
func removeBinaries() {
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
}

// binary builds the example in sessionkit's own module, two directories
// up, and returns the executable's path.
func (ex *example) binary(t *testing.T) string {
	t.Helper()
	ex.once.Do(func() {
		binaries.mu.Lock()
		if binaries.dir == "" {
			binaries.dir, ex.err = os.MkdirTemp("", "sessionkit-browser-*")
		}
		dir := binaries.dir
		binaries.mu.Unlock()
		if ex.err != nil {
			return
		}
		bin := filepath.Join(dir, ex.name)
		cmd := exec.Command("go", "build", "-o", bin, "./examples/"+ex.name)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
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

// forEachExample runs test as a subtest for every example, one after the
// other: each runs two browsers, and two cores are enough for one pair. It
// skips at once when there is no browser.
func forEachExample(t *testing.T, test func(t *testing.T, ex *example)) {
	mysqltest.Long(t)
	chromiumPath(t)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) { test(t, ex) })
	}
}

// start runs the example against the database dsn with the default
// configuration (a Secure cookie among it) and SESSION_CREATE_TABLE=true,
// and returns its address as http://localhost:port once it listens. The
// process is stopped when the test ends, and its log shown if the test
// failed.
func start(t *testing.T, ex *example, dsn string) string {
	t.Helper()
	cmd := exec.Command(ex.binary(t))
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SESSION_") && name != "ADDR" && name != "LOG_LEVEL" && name != "DEBUG_VARS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADDR=127.0.0.1:0", "SESSION_MYSQL_DSN="+dsn, "SESSION_CREATE_TABLE=true")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var log strings.Builder
	var logMu sync.Mutex
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lines := bufio.NewScanner(stderr)
		lines.Buffer(nil, 1<<20)
		for lines.Scan() {
			logMu.Lock()
			log.WriteString(lines.Text() + "\n")
			logMu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("%s logs:\n%s", ex.name, log.String())
			logMu.Unlock()
		}
	})

	select {
	case addr := <-listening:
		// Browsers keep a Secure cookie from plain HTTP only on localhost.
		return "http://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
	case <-done:
		t.Fatalf("%s exited before listening", ex.name)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not listen within 60s", ex.name)
	}
	return ""
}
