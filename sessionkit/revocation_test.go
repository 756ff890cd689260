package sessionkit_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestRevokedSessionNeverComesBack attacks revocation as a thief would: one
// or four goroutines keep changing a session with a copy of its cookie
// (ignoring every Set-Cookie, as a thief does) while its owner ends it, on
// one kit or on two kits sharing the database. Whatever the owner uses
// (revoke others, revoke by ID, revoke all, or log out in another tab), the
// thief's cookie must be no session afterwards, on every replica.
func TestRevokedSessionNeverComesBack(t *testing.T) {
	t.Parallel()
	trials := 8
	if os.Getenv(mysqltest.EnvLong) == "1" {
		trials = 50
	}
	for _, kits := range []int{1, 2} {
		for _, writers := range []int{1, 4} {
			t.Run(fmt.Sprintf("kits=%d/writers=%d", kits, writers), func(t *testing.T) {
				t.Parallel()
				var a, b *httptest.Server
				if kits == 2 {
					a, b, _, _ = replicas(t, nil)
				} else {
					a, _, _, _ = replicas(t, nil)
					b = a
				}
				for _, how := range []string{"revoke-others", "revoke-id", "revoke-all", "logout"} {
					back := 0
					for i := range trials {
						if revokeWhileThiefWrites(t, a, b, how, writers, fmt.Sprintf("u%s%d", how, i)) {
							back++
						}
					}
					if back > 0 {
						t.Errorf("%s: the session came back in %d of %d trials", how, back, trials)
					}
				}
			})
		}
	}
}

// revokeWhileThiefWrites runs one trial and reports whether the thief's
// session survived it.
func revokeWhileThiefWrites(t *testing.T, a, b *httptest.Server, how string, writers int, user string) bool {
	t.Helper()
	owner, phone := device(t, a), device(t, b)
	mustGet(t, owner, a, "/login?user="+user, "ok")
	mustGet(t, phone, b, "/login?user="+user, "ok")
	var stolen *http.Cookie
	u, _ := url.Parse(b.URL)
	for _, c := range phone.Jar.Cookies(u) {
		stolen = c
	}
	if how == "logout" {
		// The owner's other tab shares the phone's cookie.
		owner = phone
	}

	stop := make(chan struct{})
	var started, wg sync.WaitGroup
	var sent atomic.Int64
	for w := range writers {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := []*httptest.Server{a, b}[w%2]
			client := &http.Client{Transport: srv.Client().Transport}
			first := true
			for n := 0; ; n++ {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/put?v=thief%d", srv.URL, n), nil)
				req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				sent.Add(1)
				if first {
					started.Done()
					first = false
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	started.Wait()
	switch how {
	case "revoke-others":
		get(t, owner, a, "/revoke-others")
	case "revoke-id":
		for _, s := range listSessions(t, owner, a) {
			if !s.Current {
				get(t, owner, a, "/revoke?id="+s.ID)
			}
		}
	case "revoke-all":
		get(t, owner, a, "/revoke-all")
	case "logout":
		get(t, owner, a, "/logout")
	}
	// The thief goes on for a while after the revoke answered.
	for at := sent.Load(); sent.Load() < at+int64(4*writers); {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	for _, srv := range []*httptest.Server{a, b} {
		client := &http.Client{Transport: srv.Client().Transport}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/whoami", nil)
		req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "" {
			return true
		}
	}
	return false
}
