package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestCookielessVisitsWriteNothing sends 200 requests without a cookie to
// / (a crawler, a health checker, curl), and HEAD requests: they are
// answered, get no cookie and store no row. A visitor with a session keeps
// its counter, which HEAD leaves alone.
func TestCookielessVisitsWriteNothing(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		db := mysqltest.Open(t, dsn)
		p := startExample(t, ex, dsn)
		tr := &http.Transport{MaxIdleConnsPerHost: 8}
		t.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

		for i := range 200 {
			resp, err := hc.Get(p.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, noSession) {
				t.Fatalf("GET / without a cookie (%d): %d %q", i, resp.StatusCode, body)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Fatalf("GET / without a cookie set %v", c)
			}
		}
		for _, path := range []string{"/", "/put"} {
			resp, err := hc.Head(p.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("HEAD %s without a cookie set %v", path, c)
			}
		}
		if n := countRows(t, db); n != 0 {
			t.Fatalf("%d session rows after 200 cookieless visits and HEAD requests, want 0", n)
		}

		// A visitor with a session: / counts, HEAD / does not.
		c := newClient(t)
		c.put(p.URL)
		c.expectVisits(p.URL, 1)
		req, _ := http.NewRequest("HEAD", p.URL+"/", nil)
		c.do(req)
		c.expectVisits(p.URL, 2)
		if n := countRows(t, db); n != 1 {
			t.Fatalf("%d session rows for one visitor with a session, want 1", n)
		}
	})
}

// TestPlainHTTPPageWarns browses each example over plain HTTP at a host
// that is not localhost with the default Secure cookie: the page says the
// cookie is dropped, and the log says so once.
func TestPlainHTTPPageWarns(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := startExample(t, ex, mysqltest.DSN(t), "SESSION_COOKIE_SECURE=true")
		c := newClient(t)
		for _, host := range []string{"app.example.com", "localhost"} {
			for _, step := range []struct{ method, path string }{{"POST", "/put"}, {"GET", "/"}} {
				req, _ := http.NewRequest(step.method, p.URL+step.path, nil)
				req.Host = host
				status, body := c.do(req)
				if status != http.StatusOK {
					t.Fatalf("%s %s at %s: %d", step.method, step.path, host, status)
				}
				if warned := strings.Contains(body, "plain HTTP"); warned != (host != "localhost") {
					t.Errorf("%s %s at %s: page warns %v, want %v:\n%s", step.method, step.path, host, warned, host != "localhost", body)
				}
			}
		}
		eventually(t, 10*time.Second, func() error {
			if n := strings.Count(p.stderr.String(), "a Secure session cookie was set on a plain-HTTP request"); n != 1 {
				return fmt.Errorf("%d warnings in the log, want 1", n)
			}
			return nil
		})
	})
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
