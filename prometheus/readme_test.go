package sessionkitprom_test

import (
	"bytes"
	"encoding/json"
	"go/format"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"sessionkit.dev/internal/mysqltest"
)

// metricName matches a name of the collector's in a text.
var metricName = regexp.MustCompile(`sessionkit_[a-z_]+[a-z]`)

// TestDocsListEveryMetric checks that the "Prometheus metrics" section of
// docs/operations.md and the package docs name every metric the collector
// makes, and none that it does not.
func TestDocsListEveryMetric(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(page), "\n## Prometheus metrics\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "## Prometheus metrics" section`)
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"docs/operations.md": section, "doc.go": string(doc)} {
		named := map[string]bool{}
		for _, name := range metricName.FindAllString(text, -1) {
			named[name] = true
			if _, ok := types[name]; !ok {
				t.Errorf("%s names %s, which the collector does not make", where, name)
			}
		}
		for name := range types {
			if !named[name] {
				t.Errorf("%s does not name %s", where, name)
			}
		}
	}
}

// TestREADMEMainServes builds the README's main.go, the one whole program
// it shows, in this module, and runs it against a private database.
// /healthz and /metrics answer outside the session middleware: with a
// session's cookie, a scrape is no request in flight, loads no session and
// sets no cookie. A visitor who is not logged in gets no server error from
// the list of sessions; after a login the list shows this device. SIGTERM
// stops the program, which exits 0.
func TestREADMEMainServes(t *testing.T) {
	t.Parallel()
	src := readmeMain(t)
	if formatted, err := format.Source([]byte(src)); err != nil || string(formatted) != src {
		t.Errorf("the README's main.go is not as gofmt writes it (%v)", err)
	}
	if n := strings.Count(src, `":8080"`); n != 1 {
		t.Fatalf(`the README's main.go has %d ":8080", want the one address to listen on`, n)
	}
	base := "127.0.0.1:" + freePort(t)
	bin := buildREADMEMain(t, strings.Replace(src, `":8080"`, `"`+base+`"`, 1))
	base = "http://" + base

	var stderr lockedBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(environWithout("SESSION_"), "SESSION_MYSQL_DSN="+mysqltest.DSN(t),
		"SESSION_CREATE_TABLE=true", "SESSION_COOKIE_SECURE=false")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once the program has exited, waitErr set
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // if it still runs
		<-exited
	})

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := browser.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the README's main.go exited (%v):\n%s", waitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz: not 200 after 30s (%v):\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	if status, body, _ := get(t, browser, base+"/sessions"); status/100 == 5 || strings.Contains(body, `"Current"`) {
		t.Errorf("GET /sessions, not logged in: %d %q, want no server error and no list", status, body)
	}
	resp, err := browser.PostForm(base+"/login", url.Values{"user": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login: %s, want 303", resp.Status)
	}
	status, body, _ := get(t, browser, base+"/sessions")
	var list []struct{ Current bool }
	if err := json.Unmarshal([]byte(body), &list); status != http.StatusOK || err != nil || len(list) != 1 || !list[0].Current {
		t.Errorf("GET /sessions, logged in: %d %q, want the list of one session, this device's", status, body)
	}

	reads := func(families map[string]*dto.MetricFamily) float64 {
		return value(t, families, "sessionkit_store_calls_total", map[string]string{"kind": "read"})
	}
	first := scrapeWith(t, browser, base+"/metrics")
	second := scrapeWith(t, browser, base+"/metrics")
	if n := value(t, second, "sessionkit_requests_in_flight", nil); n != 0 {
		t.Errorf("a scrape with a session's cookie sees %v requests in flight, want 0: /metrics is inside the session middleware", n)
	}
	if reads(second) != reads(first) {
		t.Errorf("store reads went from %v to %v between two scrapes with a session's cookie: /metrics loads the session",
			reads(first), reads(second))
	}
	if status, _, cookies := get(t, browser, base+"/healthz"); status != http.StatusOK || len(cookies) > 0 {
		t.Errorf("GET /healthz with a session's cookie: %d, cookies %v; want 200 and none", status, cookies)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("after SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("still running 10s after SIGTERM:\n%s", stderr.String())
	}
}

// readmeMain returns the README's Go block that is a whole program.
func readmeMain(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, src, ok := strings.Cut(string(readme), "```go\npackage main\n")
	if !ok {
		t.Fatal("the README has no Go block that starts with package main")
	}
	src, _, ok = strings.Cut(src, "\n```\n")
	if !ok {
		t.Fatal("the README's main.go has no end")
	}
	return "package main\n" + src + "\n"
}

// buildREADMEMain builds src as a command of this module, where a service
// that follows the README finds the same packages, and returns the path of
// the executable. The source goes in through an overlay: nothing is written
// into the module's directory.
func buildREADMEMain(t *testing.T, src string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(wd, "readmemain", "main.go"): file}})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "readme-main")
	if out, err := exec.Command("go", "build", "-overlay", overlayFile, "-o", bin, "./readmemain").CombinedOutput(); err != nil {
		t.Fatalf("building the README's main.go: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// environWithout is the process environment without the variables whose
// names start with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// get sends a GET and returns the status, the body and the cookies set.
func get(t *testing.T, c *http.Client, target string) (int, string, []*http.Cookie) {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Cookies()
}

// scrapeWith scrapes target with c, which sends its cookies, and checks
// that the answer sets none.
func scrapeWith(t *testing.T, c *http.Client, target string) map[string]*dto.MetricFamily {
	t.Helper()
	status, body, cookies := get(t, c, target)
	if status != http.StatusOK || len(cookies) > 0 {
		t.Fatalf("GET %s: %d, cookies %v; want 200 and none", target, status, cookies)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return families
}

// lockedBuffer is a bytes.Buffer that a process writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
