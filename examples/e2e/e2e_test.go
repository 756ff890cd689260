package e2e

import (
	"bufio"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// message is what POST /put stores.
const message = "Hello from a session!"

var (
	visitsRe  = regexp.MustCompile(`Visits in this session: (\d+)`)
	userRe    = regexp.MustCompile(`Logged in as ([^.<]+)\.`)
	noSession = "No session yet"
)

// home gets / and returns the visit count and the logged-in user it shows;
// the count is 0 when the page says there is no session.
func (c *client) home(base string) (visits int, user string) {
	c.t.Helper()
	body := c.mustGet(base + "/")
	m := visitsRe.FindStringSubmatch(body)
	switch {
	case m != nil:
		visits, _ = strconv.Atoi(m[1])
	case !strings.Contains(body, noSession):
		c.t.Fatalf("GET %s/: neither a visit counter nor %q in %q", base, noSession, body)
	}
	if m := userRe.FindStringSubmatch(body); m != nil {
		user = m[1]
	}
	return visits, user
}

func (c *client) expectVisits(base string, want int) {
	c.t.Helper()
	if got, _ := c.home(base); got != want {
		c.t.Fatalf("GET %s/: %d visits, want %d", base, got, want)
	}
}

// put sends POST /put, as the button on GET /put does, and expects the
// page that says what it stored.
func (c *client) put(base string) {
	c.t.Helper()
	status, body := c.post(base+"/put", nil)
	if status != http.StatusOK || !strings.Contains(body, "Stored <q>"+message+"</q>") {
		c.t.Fatalf("POST %s/put: status %d, want 200 and the message stored; body %q", base, status, body)
	}
}

// messageRe finds the message on the /get page.
var messageRe = regexp.MustCompile(`<strong id="message">([^<]*)</strong>`)

// messageOn returns the message a /get page shows, "" when it says the
// session holds none, and ok false when it says neither.
func messageOn(body string) (msg string, ok bool) {
	if m := messageRe.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1]), true
	}
	return "", strings.Contains(body, "Your session holds no message.")
}

func (c *client) expectMessage(base, want string) {
	c.t.Helper()
	body := c.mustGet(base + "/get")
	if got, ok := messageOn(body); !ok || got != want {
		c.t.Fatalf("GET %s/get shows message %q, want %q; body %q", base, got, want, body)
	}
}

func TestPutGetAndVisitCounter(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := startExample(t, ex, mysqltest.DSN(t))
		c := newClient(t)

		c.expectMessage(p.URL, "")
		c.put(p.URL)
		if c.token(p.URL) == "" {
			t.Fatal("POST /put set no session cookie")
		}
		c.expectMessage(p.URL, message)
		for want := 1; want <= 3; want++ {
			c.expectVisits(p.URL, want)
		}

		// Another browser has no session until it puts something, then one
		// of its own.
		other := newClient(t)
		other.expectMessage(p.URL, "")
		other.expectVisits(p.URL, 0)
		if other.token(p.URL) != "" {
			t.Fatal("GET / without a session set a session cookie")
		}
		other.put(p.URL)
		other.expectVisits(p.URL, 1)
		c.expectVisits(p.URL, 4)
	})
}

func TestSessionSurvivesRestart(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		c := newClient(t)

		first := startExample(t, ex, dsn)
		c.put(first.URL)
		c.expectVisits(first.URL, 1)
		first.stop(t)

		second := startExample(t, ex, dsn)
		c.expectMessage(second.URL, message)
		c.expectVisits(second.URL, 2)
	})
}

func TestTwoInstancesShareSessions(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		a := startExample(t, ex, dsn)
		b := startExample(t, ex, dsn)
		c := newClient(t) // cookies are per host, not port: both instances get it

		c.put(a.URL)
		c.expectMessage(b.URL, message)

		c.expectVisits(a.URL, 1)
		c.expectVisits(b.URL, 2)
		c.expectVisits(a.URL, 3)

		if status, _ := c.post(b.URL+"/login", url.Values{"user": {"alice"}}); status != http.StatusSeeOther {
			t.Fatalf("POST /login on the second instance: status %d, want 303", status)
		}
		if _, user := c.home(a.URL); user != "alice" {
			t.Fatalf("first instance shows user %q after login on the second, want alice", user)
		}
	})
}

func TestLoginRenewsTokenAndLogoutDestroys(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		db := mysqltest.Open(t, dsn)
		p := startExample(t, ex, dsn)
		c := newClient(t)

		c.put(p.URL)
		before := c.token(p.URL)
		if n := storedRows(t, db, before); n != 1 {
			t.Fatalf("%d rows for the session after POST /put, want 1", n)
		}

		if status, body := c.post(p.URL+"/login", url.Values{"user": {"alice"}}); status != http.StatusSeeOther {
			t.Fatalf("POST /login: status %d, want 303; body %q", status, body)
		}
		after := c.token(p.URL)
		if after == "" || after == before {
			t.Fatalf("POST /login: cookie %q, want a new token (was %q)", after, before)
		}
		if _, user := c.home(p.URL); user != "alice" {
			t.Fatalf("after login / shows user %q, want alice", user)
		}
		c.expectMessage(p.URL, message) // the data moves to the new token

		// The old token loads nothing, and its row is gone.
		if n := storedRows(t, db, before); n != 0 {
			t.Fatalf("%d rows for the old token after login, want 0", n)
		}
		old := newClient(t)
		req, _ := http.NewRequest("GET", p.URL+"/get", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: before})
		if status, body := old.do(req); status != http.StatusOK {
			t.Fatalf("GET /get with the pre-login token: status %d, want 200", status)
		} else if msg, ok := messageOn(body); !ok || msg != "" {
			t.Fatalf("GET /get with the pre-login token shows message %q, want none; body %q", msg, body)
		}

		if n := storedRows(t, db, after); n != 1 {
			t.Fatalf("%d rows for the session after login, want 1", n)
		}
		if status, body := c.post(p.URL+"/logout", nil); status != http.StatusSeeOther {
			t.Fatalf("POST /logout: status %d, want 303; body %q", status, body)
		}
		if tok := c.token(p.URL); tok != "" {
			t.Fatalf("after logout the jar still holds session cookie %q", tok)
		}
		if n := storedRows(t, db, after); n != 0 {
			t.Fatalf("%d rows for the session after logout, want 0", n)
		}
		if _, user := c.home(p.URL); user != "" {
			t.Fatalf("after logout / shows user %q", user)
		}
	})
}

func TestCrossOriginPostRefused(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := startExample(t, ex, mysqltest.DSN(t))
		c := newClient(t)
		c.put(p.URL)
		token := c.token(p.URL)
		form := url.Values{"user": {"mallory"}}

		refused := []struct {
			name    string
			headers []string
		}{
			{"modern browser", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
			{"same site, other origin", []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"}},
			{"browser without Sec-Fetch-Site", []string{"Origin", "https://evil.example"}},
		}
		for _, tc := range refused {
			for _, path := range []string{"/login", "/logout"} {
				if status, _ := c.post(p.URL+path, form, tc.headers...); status != http.StatusForbidden {
					t.Errorf("%s: POST %s: status %d, want 403", tc.name, path, status)
				}
			}
		}
		if got := c.token(p.URL); got != token {
			t.Fatalf("a refused POST changed the session cookie from %q to %q", token, got)
		}
		c.expectMessage(p.URL, message)
		if _, user := c.home(p.URL); user != "" {
			t.Fatalf("a refused login logged in %q", user)
		}

		allowed := []struct {
			name    string
			headers []string
		}{
			{"form on the same origin", []string{"Origin", p.URL, "Sec-Fetch-Site", "same-origin"}},
			{"old browser, same origin", []string{"Origin", p.URL}},
			{"curl", nil},
		}
		for _, tc := range allowed {
			if status, body := c.post(p.URL+"/login", url.Values{"user": {"alice"}}, tc.headers...); status != http.StatusSeeOther {
				t.Fatalf("%s: POST /login: status %d, want 303; body %q", tc.name, status, body)
			}
		}
		if _, user := c.home(p.URL); user != "alice" {
			t.Fatalf("after same-origin login / shows user %q, want alice", user)
		}
	})
}

// TestShutdownFinishesInFlightRequest sends SIGTERM while a client is still
// uploading a login form, a request that is slow for the best of reasons: the
// handler waits for the body. The request must complete and the process then
// exit 0 within the 10s docker stop gives it (its own budget is 9s).
func TestShutdownFinishesInFlightRequest(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		db := mysqltest.Open(t, dsn)
		p := startExample(t, ex, dsn)
		host := strings.TrimPrefix(p.URL, "http://")

		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		body := "user=alice"
		// Expect: 100-continue makes the server answer "100 Continue" when the
		// handler starts reading the body: then the request is in flight.
		fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"+
			"Expect: 100-continue\r\n\r\n", host, len(body))
		r := bufio.NewReader(conn)
		req, _ := http.NewRequest("POST", p.URL+"/login", nil)
		resp, err := http.ReadResponse(r, req)
		if err != nil || resp.StatusCode != http.StatusContinue {
			t.Fatalf("waiting for 100 Continue: %v %v", resp, err)
		}

		sent := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// New connections are refused while the request is still running.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", host, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("the server still accepts connections 5s after SIGTERM")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A server that did not wait for the request would exit meanwhile.
		time.Sleep(500 * time.Millisecond)
		if p.hasExited() {
			t.Fatal("the process exited while a request was in flight")
		}

		if _, err := conn.Write([]byte(body)); err != nil {
			t.Fatalf("sending the rest of the request after SIGTERM: %v", err)
		}
		resp, err = http.ReadResponse(r, req)
		if err != nil {
			t.Fatalf("reading the login response after SIGTERM: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /login during shutdown: status %d, want 303", resp.StatusCode)
		}
		var token string
		for _, ck := range resp.Cookies() {
			if ck.Name == cookieName {
				token = ck.Value
			}
		}
		if token == "" {
			t.Fatal("POST /login during shutdown set no session cookie")
		}

		if code := p.waitExit(t, 10*time.Second-time.Since(sent)); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", code)
		}
		if n := storedRows(t, db, token); n != 1 {
			t.Fatalf("%d rows for the session saved during shutdown, want 1", n)
		}
		if logs := p.stderr.String(); !strings.Contains(logs, `"msg":"stopped"`) {
			t.Fatalf("no \"stopped\" log line after SIGTERM")
		}
	})
}

func TestBadConfigExitsBeforeListening(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		// A DSN that parses but leads nowhere: the configuration is refused
		// before any connection is tried.
		p := launch(t, ex,
			"SESSION_MYSQL_DSN=user:password@tcp(127.0.0.1:1)/app",
			"SESSION_LIFETIME=banana")
		if code := p.waitExit(t, 30*time.Second); code == 0 {
			t.Fatal("exit code 0 with SESSION_LIFETIME=banana")
		}
		logs := p.stderr.String()
		if !strings.Contains(logs, "SESSION_LIFETIME") || !strings.Contains(logs, "banana") {
			t.Fatalf("stderr does not name SESSION_LIFETIME and its value:\n%s", logs)
		}
		if strings.Contains(logs, `"msg":"listening"`) {
			t.Fatalf("listened despite the bad configuration:\n%s", logs)
		}
	})
}

// TestDatabaseOutage stops the database under a running server: /healthz
// answers 503 and /get 500 while it is down, and both recover once it is
// back, without a restart. The examples take turns on one private server.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	srv := mysqltest.NewServer(t)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			p := startExample(t, ex, srv.Database(t).FormatDSN())
			c := newClient(t)
			c.put(p.URL)
			c.expectMessage(p.URL, message)
			c.mustGet(p.URL + "/healthz")

			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			restarted := false
			defer func() {
				if !restarted {
					srv.Start()
				}
			}()
			if status, body := c.get(p.URL + "/healthz"); status != http.StatusServiceUnavailable {
				t.Fatalf("GET /healthz with the database down: status %d, want 503; body %q", status, body)
			}
			if status, body := c.get(p.URL + "/get"); status != http.StatusInternalServerError {
				t.Fatalf("GET /get with the database down: status %d, want 500; body %q", status, body)
			}

			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			restarted = true
			eventually(t, 30*time.Second, func() error {
				if status, body := c.get(p.URL + "/healthz"); status != http.StatusOK {
					return fmt.Errorf("GET /healthz: status %d, body %q", status, body)
				}
				if status, body := c.get(p.URL + "/get"); status != http.StatusOK {
					return fmt.Errorf("GET /get: status %d, body %q", status, body)
				} else if msg, _ := messageOn(body); msg != message {
					return fmt.Errorf("GET /get: message %q, want %q", msg, message)
				}
				return nil
			})
			if p.hasExited() {
				t.Fatal("the server exited during the outage")
			}
		})
	}
}

// eventually retries check until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
