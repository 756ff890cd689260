package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// TestActionsArePostOnly: what a user does changes the session only on
// POST. GET /put shows a form and writes nothing, also when another site
// sends a browser there with its cookie (SameSite=Lax cookies go along on a
// top-level GET); a POST from another site's page is refused; HEAD / is
// answered and counts nothing.
func TestActionsArePostOnly(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		db := mysqltest.Open(t, dsn)
		p := startExample(t, ex, dsn)

		c := newClient(t)
		req, _ := http.NewRequest("GET", p.URL+"/put", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		status, body := c.do(req)
		if status != http.StatusOK || !strings.Contains(body, `<form method="post" action="/put">`) {
			t.Fatalf("GET /put: status %d, want 200 and the form; body %q", status, body)
		}
		if c.token(p.URL) != "" || countRows(t, db) != 0 {
			t.Fatal("GET /put started a session")
		}

		c.post(p.URL+"/login", url.Values{"user": {"alice"}})
		c.expectVisits(p.URL, 1)
		token := c.token(p.URL)
		c.do(req) // a cross-site GET /put with the session's cookie
		c.expectMessage(p.URL, "")
		if status, _ := c.post(p.URL+"/put", nil, "Origin", "http://localhost:1", "Sec-Fetch-Site", "same-site"); status != http.StatusForbidden {
			t.Errorf("POST /put from another origin: status %d, want 403", status)
		}
		c.expectMessage(p.URL, "")

		for _, path := range []string{"/login", "/logout", "/sessions/revoke", "/sessions/revoke-others"} {
			if status, _ := c.get(p.URL + path); status != http.StatusMethodNotAllowed {
				t.Errorf("GET %s: status %d, want 405", path, status)
			}
		}
		head, _ := http.NewRequest("HEAD", p.URL+"/", nil)
		if status, _ := c.do(head); status != http.StatusOK {
			t.Errorf("HEAD /: status %d, want 200", status)
		}
		c.expectVisits(p.URL, 2)
		if got := c.token(p.URL); got != token {
			t.Fatalf("the session token changed from %q to %q", token, got)
		}
	})
}

// TestPagesLinkToEachOther follows every link of every page, logged out and
// logged in: each leads to a page that answers 200, and each page can be
// reached from the home page.
func TestPagesLinkToEachOther(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := startExample(t, ex, mysqltest.DSN(t))
		c := newClient(t)
		hrefRe := regexp.MustCompile(`href="(/[^"]*)"`)
		crawl := func() []string {
			seen := []string{"/"}
			for i := 0; i < len(seen); i++ {
				body := c.mustGet(p.URL + seen[i])
				for _, m := range hrefRe.FindAllStringSubmatch(body, -1) {
					if !slices.Contains(seen, m[1]) {
						seen = append(seen, m[1])
					}
				}
			}
			slices.Sort(seen)
			return seen
		}
		if got, want := crawl(), []string{"/", "/get", "/put"}; !slices.Equal(got, want) {
			t.Errorf("logged out, the pages reached from / are %q, want %q", got, want)
		}
		c.post(p.URL+"/login", url.Values{"user": {"alice"}})
		if got, want := crawl(), []string{"/", "/get", "/put", "/sessions"}; !slices.Equal(got, want) {
			t.Errorf("logged in, the pages reached from / are %q, want %q", got, want)
		}
	})
}

// listed is a session as the /sessions page shows it.
type listed struct {
	agent    string // the user agent shown
	current  bool   // marked "This device"
	id       string // the value its button sends; "" for this device
	lastSeen string // the "Last seen" column
	button   string // the words on its button; "" for this device
}

var (
	rowRe    = regexp.MustCompile(`(?s)<tr>\s*<td>.*?</tr>`)
	cellRe   = regexp.MustCompile(`(?s)<td>(.*?)</td>`)
	agentRe  = regexp.MustCompile(`<div class="agent">([^<]*)</div>`)
	idRe     = regexp.MustCompile(`name="id" value="([^"]*)"`)
	buttonRe = regexp.MustCompile(`<button>([^<]*)</button>`)
)

// sessions gets /sessions and returns the sessions it lists.
func (c *client) sessions(base string) []listed {
	c.t.Helper()
	body := c.mustGet(base + "/sessions")
	var list []listed
	for _, row := range rowRe.FindAllString(body, -1) {
		var s listed
		if m := agentRe.FindStringSubmatch(row); m != nil {
			s.agent = html.UnescapeString(m[1])
		}
		if m := idRe.FindStringSubmatch(row); m != nil {
			s.id = html.UnescapeString(m[1])
		}
		if m := buttonRe.FindStringSubmatch(row); m != nil {
			s.button = m[1]
		}
		if cells := cellRe.FindAllStringSubmatch(row, -1); len(cells) == 5 {
			s.lastSeen = cells[3][1]
		}
		s.current = strings.Contains(row, "This device")
		list = append(list, s)
	}
	return list
}

// TestSessionsPage logs in as alice from three clients (browsers, as far
// as the server can tell) and as bob from a fourth, against two replicas
// on one database: each of alice's clients sees all three of her sessions,
// with their user agents, its own marked, each seen "just now" (one wording
// for this device and the others) and each other one with a button that
// says "End session" ("Log out" reads as logging yourself out); a session
// ended from one replica has no session on its next request to the other;
// "log out everywhere else" leaves the current session and bob's; bob
// cannot end alice's sessions.
func TestSessionsPage(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		dsn := mysqltest.DSN(t)
		a := startExample(t, ex, dsn)
		b := startExample(t, ex, dsn)
		login := func(base, user, agent string) *client {
			c := newClient(t)
			c.userAgent = agent
			if status, body := c.post(base+"/login", url.Values{"user": {user}}); status != http.StatusSeeOther {
				t.Fatalf("POST /login as %s: status %d, want 303; body %q", user, status, body)
			}
			return c
		}
		laptop := login(a.URL, "alice", "laptop/1.0")
		phone := login(b.URL, "alice", "phone/2.0")
		tablet := login(a.URL, "alice", "tablet/3.0")
		bob := login(b.URL, "bob", "bob/1.0")

		list := laptop.sessions(b.URL)
		var agents []string
		for _, s := range list {
			agents = append(agents, s.agent)
			if s.current != (s.agent == "laptop/1.0") || s.current != (s.id == "") {
				t.Errorf("laptop's list: %+v: want only the laptop marked as this device, without a button", s)
			}
			if s.lastSeen != "just now" {
				t.Errorf("laptop's list: %s last seen %q, want %q", s.agent, s.lastSeen, "just now")
			}
			if want := map[bool]string{true: "", false: "End session"}[s.current]; s.button != want {
				t.Errorf("laptop's list: %s has a button %q, want %q", s.agent, s.button, want)
			}
		}
		slices.Sort(agents)
		if want := []string{"laptop/1.0", "phone/2.0", "tablet/3.0"}; !slices.Equal(agents, want) {
			t.Fatalf("laptop's list shows %q, want %q", agents, want)
		}
		if list[0].agent != "laptop/1.0" {
			t.Errorf("laptop's list starts with %q, want this device first", list[0].agent)
		}

		// bob posts the ID of alice's phone session: nothing happens.
		phoneID := ""
		for _, s := range list {
			if s.agent == "phone/2.0" {
				phoneID = s.id
			}
		}
		if status, _ := bob.post(a.URL+"/sessions/revoke", url.Values{"id": {phoneID}}); status != http.StatusSeeOther {
			t.Errorf("bob's POST /sessions/revoke: status %d, want 303", status)
		}
		if _, user := phone.home(b.URL); user != "alice" {
			t.Fatalf("after bob tried to end it, alice's phone shows user %q", user)
		}

		// The laptop logs the phone out through one replica; the phone's next
		// request, to the other, has no session.
		if status, _ := laptop.post(a.URL+"/sessions/revoke", url.Values{"id": {phoneID}}); status != http.StatusSeeOther {
			t.Fatalf("POST /sessions/revoke: status %d, want 303", status)
		}
		if visits, user := phone.home(b.URL); user != "" || visits != 0 {
			t.Fatalf("the phone after it was logged out: user %q, %d visits; want no session", user, visits)
		}
		if got := len(laptop.sessions(a.URL)); got != 2 {
			t.Fatalf("laptop's list after logging the phone out has %d sessions, want 2", got)
		}

		// Log out everywhere else: the tablet goes, the laptop and bob stay.
		phone = login(b.URL, "alice", "phone/2.0")
		if status, _ := laptop.post(b.URL+"/sessions/revoke-others", nil); status != http.StatusSeeOther {
			t.Fatalf("POST /sessions/revoke-others: status %d, want 303", status)
		}
		for name, c := range map[string]*client{"phone": phone, "tablet": tablet} {
			if _, user := c.home(a.URL); user != "" {
				t.Errorf("%s after log out everywhere else: user %q, want none", name, user)
			}
		}
		if _, user := laptop.home(a.URL); user != "alice" {
			t.Errorf("the laptop after log out everywhere else: user %q, want alice", user)
		}
		if _, user := bob.home(a.URL); user != "bob" {
			t.Errorf("bob after alice logged out everywhere else: user %q, want bob", user)
		}
		if list := laptop.sessions(b.URL); len(list) != 1 || !list[0].current {
			t.Errorf("laptop's list after log out everywhere else: %+v, want this device alone", list)
		}
		if body := laptop.mustGet(a.URL + "/sessions"); !strings.Contains(body, "This is your only session.") {
			t.Errorf("the list of one session does not say so: %q", body)
		}

		// A page of another origin cannot post the forms.
		if status, _ := laptop.post(a.URL+"/sessions/revoke-others", nil, "Origin", "http://localhost:1", "Sec-Fetch-Site", "same-site"); status != http.StatusForbidden {
			t.Errorf("cross-origin POST /sessions/revoke-others: status %d, want 403", status)
		}
	})
}
