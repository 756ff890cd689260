package bench

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// startMemoryApps starts n application servers on scs's memstore: sharing
// one store when shared, each with its own otherwise.
func startMemoryApps(t *testing.T, n int, shared bool) []string {
	t.Helper()
	store := memstore.NewWithCleanupInterval(0)
	var urls []string
	for range n {
		m := scs.New()
		m.Cookie.Secure = false
		if shared {
			m.Store = store
		} else {
			m.Store = memstore.NewWithCleanupInterval(0)
		}
		srv := httptest.NewServer(NewHTTPHandler(m, m.LoadAndSave))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

func TestRunHTTPRotatesOverSharedServers(t *testing.T) {
	urls := startMemoryApps(t, 3, true)
	for _, path := range []string{"/get", "/"} {
		p, err := RunHTTP(urls, path, 4, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if p.OK == 0 || p.RPS <= 0 || p.P50 <= 0 || p.P99 < p.P50 || p.Errors != 0 || p.Stale != 0 {
			t.Errorf("%s: %+v; want requests, no errors and no stale answers", path, p)
		}
	}
}

func TestRunHTTPCountsStaleAnswers(t *testing.T) {
	// Each server has its own store: a session made on one is unknown to
	// the next, as a read on a node that missed the write would be.
	urls := startMemoryApps(t, 3, false)
	for _, path := range []string{"/get", "/"} {
		p, err := RunHTTP(urls, path, 2, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if p.Stale == 0 || p.Errors != 0 {
			t.Errorf("%s: %+v; want stale answers and no errors", path, p)
		}
	}
}

func TestStale(t *testing.T) {
	visits := 0
	for _, tc := range []struct {
		path, body string
		want       bool
	}{
		{"/get", HTTPMessage + "\n", false},
		{"/get", "\n", true},
		{"/", "visits: 1\n", false},
		{"/", "visits: 2\n", false},
		{"/", "visits: 2\n", true},  // missed the last write
		{"/", "visits: 3\n", false}, // counts on from what it saw
		{"/", "visits: 1\n", true},  // a new session
	} {
		if got := stale(tc.path, tc.body, &visits); got != tc.want {
			t.Errorf("stale(%q, %q) = %v; want %v", tc.path, tc.body, got, tc.want)
		}
	}
	visits = -1 // after an error, any count
	if stale("/", "visits: 7\n", &visits) || visits != 7 {
		t.Errorf("after an error: stale, or visits %d; want 7", visits)
	}
}

func TestMedianHTTP(t *testing.T) {
	m := MedianHTTP([]HTTPPhase{
		{OK: 10, RPS: 100, P50: 3 * time.Millisecond, P99: 9 * time.Millisecond, Errors: 1},
		{OK: 20, RPS: 300, P50: 1 * time.Millisecond, P99: 7 * time.Millisecond, Stale: 2},
		{OK: 30, RPS: 200, P50: 2 * time.Millisecond, P99: 8 * time.Millisecond},
	})
	want := HTTPPhase{OK: 60, RPS: 200, P50: 2 * time.Millisecond, P99: 8 * time.Millisecond, Errors: 1, Stale: 2}
	if m != want {
		t.Errorf("MedianHTTP = %+v; want %+v", m, want)
	}
}
