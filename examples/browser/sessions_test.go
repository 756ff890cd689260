package browser

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"sessionkit.dev/internal/mysqltest"
)

// The user agents of two devices of one person: the sessions page tells
// them apart by these.
const (
	laptopAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 sessionkit-laptop"
	phoneAgent  = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36 sessionkit-phone"
)

var visitsRe = regexp.MustCompile(`Visits in this session: (\d+)\.`)

// logIn logs in as user with the home page's form, as a person would.
func logIn(t *testing.T, b context.Context, base, user string) {
	t.Helper()
	open(t, b, base+"/")
	typeInto(t, b, `input[name="user"]`, user)
	resp := click(t, b, `form[action="/login"] button`)
	if page := text(t, b); resp.Status != http.StatusOK || !strings.Contains(page, "Logged in as "+user+".") {
		t.Fatalf("logging in as %s: status %d, page:\n%s", user, resp.Status, page)
	}
}

// home loads the home page and returns who it says is logged in ("" for
// nobody) and the visit count (0 without a session).
func home(t *testing.T, b context.Context, base string) (user string, visits int) {
	t.Helper()
	if resp := open(t, b, base+"/"); resp.Status != http.StatusOK {
		t.Fatalf("GET /: status %d", resp.Status)
	}
	page := text(t, b)
	if m := visitsRe.FindStringSubmatch(page); m != nil {
		visits, _ = strconv.Atoi(m[1])
	} else if !strings.Contains(page, "No session yet") {
		t.Fatalf("the home page shows neither a visit count nor %q:\n%s", "No session yet", page)
	}
	if before, after, ok := strings.Cut(page, "Logged in as "); ok && !strings.Contains(before, "Not logged in.") {
		user, _, _ = strings.Cut(after, ".\n")
	} else if !strings.Contains(page, "Not logged in.") {
		t.Fatalf("the home page says neither who is logged in nor %q:\n%s", "Not logged in.", page)
	}
	return user, visits
}

// listed is a row of the sessions page.
type listed struct {
	Device   string `json:"device"`   // the name the page gives the device
	Agent    string `json:"agent"`    // the user agent it shows
	Current  bool   `json:"current"`  // marked "This device"
	LastSeen string `json:"lastSeen"` // the "Last seen" column
	Button   string `json:"button"`   // the words on its button, "" for none
}

// listing reads the rows of the sessions page the browser shows.
func listing(t *testing.T, b context.Context) []listed {
	t.Helper()
	return evaluate[[]listed](t, b, `[...document.querySelectorAll("tbody tr")].map(row => ({
		device: row.cells[0].firstChild.textContent.trim(),
		agent: row.querySelector(".agent").textContent,
		current: row.querySelector(".this") !== null && row.querySelector("button") === null,
		lastSeen: row.cells[3].textContent.trim(),
		button: row.querySelector("button")?.textContent.trim() ?? "",
	}))`)
}

// TestSessionsPageInTwoBrowsers logs in as alice on a laptop and a phone:
// two Chromium processes with profiles of their own. The session is kept
// across page loads on http://localhost with the default cookie (Secure,
// named __Host-session); the
// laptop's sessions page, reached from the home page, lists both devices by
// their user agents; logging the phone out from there, and "log out
// everywhere else" after the phone logs in again, each log the phone out on
// its next page load, and leave the laptop logged in.
func TestSessionsPageInTwoBrowsers(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		base := start(t, ex, mysqltest.DSN(t))
		laptop := newBrowser(t, laptopAgent)
		phone := newBrowser(t, phoneAgent)
		logIn(t, laptop, base, "alice")
		logIn(t, phone, base, "alice")

		// The default name carries the __Host- prefix, which Chromium
		// accepts from http://localhost as it does Secure cookies.
		c := cookie(t, laptop, base, "__Host-session")
		if c == nil || !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != "localhost" {
			t.Fatalf("the laptop's session cookie: %+v, want __Host-session, Secure, HttpOnly, SameSite=Lax, Path / and host-only", c)
		}
		// The login led to the home page: the first visit.
		for want := 2; want <= 4; want++ {
			if user, visits := home(t, laptop, base); user != "alice" || visits != want {
				t.Fatalf("page load %d on http://localhost: user %q, %d visits; want alice, %d", want, user, visits, want)
			}
		}

		// From the home page to the sessions page.
		if resp := click(t, laptop, `a[href="/sessions"]`); resp.Status != http.StatusOK {
			t.Fatalf("GET /sessions: status %d", resp.Status)
		}
		// Both seen "just now": one wording for this device and the others.
		// The phone's button ends its session; "Log out" would read as
		// logging the laptop out.
		want := []listed{
			{"Chrome on Linux", laptopAgent, true, "just now", ""},
			{"Chrome on Android", phoneAgent, false, "just now", "End session"},
		}
		if got := listing(t, laptop); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("the laptop's sessions page lists\n%+v\nwant\n%+v", got, want)
		}
		screenshot(t, laptop, "sessions-"+ex.name+".png")

		// The phone's row is the second: its button logs it out.
		if resp := click(t, laptop, `tbody tr:nth-child(2) button`); resp.Status != http.StatusOK {
			t.Fatalf("logging the phone out: status %d", resp.Status)
		}
		if got := listing(t, laptop); len(got) != 1 || !got[0].Current {
			t.Fatalf("after logging the phone out, the list is %+v, want this device alone", got)
		}
		if user, visits := home(t, phone, base); user != "" || visits != 0 {
			t.Fatalf("the phone's next page load after it was logged out: user %q, %d visits; want no session", user, visits)
		}

		// The phone logs in again; the laptop logs out everywhere else.
		logIn(t, phone, base, "alice")
		open(t, laptop, base+"/sessions")
		if got := listing(t, laptop); len(got) != 2 {
			t.Fatalf("after the phone logged in again the list is %+v, want two sessions", got)
		}
		if resp := click(t, laptop, `form[action="/sessions/revoke-others"] button`); resp.Status != http.StatusOK {
			t.Fatalf("log out everywhere else: status %d", resp.Status)
		}
		if got := listing(t, laptop); len(got) != 1 || !got[0].Current {
			t.Fatalf("after log out everywhere else, the list is %+v, want this device alone", got)
		}
		if user, _ := home(t, phone, base); user != "" {
			t.Fatalf("the phone after log out everywhere else: logged in as %q", user)
		}
		if user, visits := home(t, laptop, base); user != "alice" || visits != 5 {
			t.Fatalf("the laptop after log out everywhere else: user %q, %d visits; want alice, 5", user, visits)
		}
	})
}

// attackPage posts its form to Target as soon as it loads.
var attackPage = template.Must(template.New("").Parse(`<!doctype html>
<title>Another site</title>
<form method="post" action="{{.Target}}"><input name="user" value="mallory"></form>
<script>document.forms[0].submit()</script>
`))

// TestCrossOriginFormRefused: a page of another origin whose form posts
// itself to the example on load cannot log the user out or log them in as
// someone else. The origins: another port of localhost (the same site, so
// the SameSite=Lax cookie goes along, and only the cross-origin protection
// stands in the way) and 127.0.0.1 (another site).
func TestCrossOriginFormRefused(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		base := start(t, ex, mysqltest.DSN(t))
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			attackPage.Execute(w, struct{ Target string }{base + r.URL.Query().Get("action")})
		}))
		defer attacker.Close()
		port := attacker.URL[strings.LastIndexByte(attacker.URL, ':')+1:]

		b := newBrowser(t, laptopAgent)
		logIn(t, b, base, "alice")
		visits := 1
		for _, origin := range []string{"http://localhost:" + port, "http://127.0.0.1:" + port} {
			for _, action := range []string{"/logout", "/login"} {
				status := postFrom(t, b, origin+"/?action="+url.QueryEscape(action), base+action)
				if status != http.StatusForbidden {
					t.Errorf("a form on %s posting to %s: status %d, want 403", origin, action, status)
				}
				visits++
				if user, got := home(t, b, base); user != "alice" || got != visits {
					t.Fatalf("after a form on %s posted to %s: user %q, %d visits; want alice, %d",
						origin, action, user, got, visits)
				}
			}
		}
	})
}

// postFrom opens page, whose form posts itself to target, and returns the
// status of the answer to that post.
func postFrom(t *testing.T, b context.Context, page, target string) int64 {
	t.Helper()
	ctx, cancel := step(b)
	defer cancel()
	responses := chromedp.Events(ctx, network.ResponseReceived)
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	for ev, err := range responses {
		if err != nil {
			t.Fatalf("waiting for the answer to the form of %s: %v", page, err)
		}
		if ev.Response.URL == target {
			return ev.Response.Status
		}
	}
	return 0
}
