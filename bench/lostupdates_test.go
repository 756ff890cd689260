package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// TestConcurrentPutsOfOneSession measures how many of N parallel requests'
// changes to one session survive: each request puts a key of its own into
// the session (as a page's XHRs, two tabs or a double click do), on one kit
// or on two kits sharing the database, with the requests spread over them.
// It reports the keys that are missing afterwards; run it on demand:
//
//	cd bench && SESSIONKIT_BENCH_LOST_UPDATES=1 go test -count=1 -run TestConcurrentPutsOfOneSession -v
func TestConcurrentPutsOfOneSession(t *testing.T) {
	if os.Getenv("SESSIONKIT_BENCH_LOST_UPDATES") != "1" {
		t.Skip("a measurement: set SESSIONKIT_BENCH_LOST_UPDATES=1 to run it")
	}
	dsn := mysqltest.DSN(t)
	const trials = 5
	for _, replicas := range []int{1, 2} {
		var servers []*httptest.Server
		for range replicas {
			t.Setenv("SESSION_MYSQL_DSN", dsn)
			t.Setenv("SESSION_CREATE_TABLE", "true")
			t.Setenv("SESSION_COOKIE_SECURE", "false")
			kit, err := sessionkit.FromEnv(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { kit.Shutdown(context.Background()) })
			mux := http.NewServeMux()
			mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
				kit.Manager.Put(r.Context(), r.URL.Query().Get("k"), "v")
				io.WriteString(w, "ok")
			})
			mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, len(kit.Manager.Keys(r.Context())))
			})
			srv := httptest.NewServer(kit.Middleware(mux))
			t.Cleanup(srv.Close)
			servers = append(servers, srv)
		}
		for _, n := range []int{2, 8, 32} {
			lost, total := 0, 0
			for trial := range trials {
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
				get := func(url string) string {
					resp, err := client.Get(url)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return string(b)
				}
				get(servers[0].URL + "/put?k=start")
				var wg sync.WaitGroup
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						get(fmt.Sprintf("%s/put?k=t%d-%d", servers[i%replicas].URL, trial, i))
					}()
				}
				wg.Wait()
				var kept int
				fmt.Sscan(get(servers[0].URL+"/count"), &kept)
				lost += n + 1 - kept
				total += n
			}
			t.Logf("replicas=%d parallel=%d: %d of %d keys lost (%d trials)", replicas, n, lost, total, trials)
		}
	}
}
