package sessionkit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// thiefRig is two kits on one database, each behind its own server, with
// the routes a thief uses, and a store of its own on the database as the
// sessionkit command has (revoke-user).
type thiefRig struct {
	a, b       *httptest.Server
	kitA, kitB *sessionkit.Kit
	cmd        *sessionmysql.Store
}

func newThiefRig(t *testing.T, extra map[string]string) *thiefRig {
	t.Helper()
	environ := mysqlEnv(t, extra)
	r := &thiefRig{}
	r.kitA, _ = startKit(t, environ)
	r.kitB, _ = startKit(t, environ)
	routes := func(kit *sessionkit.Kit) map[string]http.HandlerFunc {
		m := userRoutes(kit)
		// A route that renews the session's token, as an application does
		// on a change of privilege, and changes the session.
		m["/rotate"] = func(w http.ResponseWriter, r *http.Request) {
			if err := kit.Manager.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			kit.Manager.Put(r.Context(), "message", r.URL.Query().Get("v"))
			io.WriteString(w, "ok")
		}
		// An admin's page: ends every session of a user, from a context
		// that is not one of the user's requests.
		m["/admin-revoke-all"] = func(w http.ResponseWriter, r *http.Request) {
			n, err := kit.RevokeAll(context.Background(), r.URL.Query().Get("user"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, n)
		}
		return m
	}
	r.a, _ = serve(t, handlerFor(t, r.kitA, "chi", routes(r.kitA)))
	r.b, _ = serve(t, handlerFor(t, r.kitB, "servemux", routes(r.kitB)))
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	cfg := sessionmysql.DefaultConfig()
	cfg.CleanupInterval = 0
	cfg.HashedTokens = true
	var err error
	if r.cmd, err = sessionmysql.NewWithConfig(db, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Close() })
	return r
}

// thiefTrial logs an owner and a phone in as user, lets writers goroutines
// use the phone's cookie through both replicas, the way mode says, while
// the owner ends the phone's session by how; it reports whether any token
// the thief held afterwards is still a logged-in session on a replica.
//
// Modes: "put" changes the session and ignores every Set-Cookie; "read"
// only reads it (under an idle timeout every request saves); "rotate"
// renews the token on each request and follows the Set-Cookie it gets.
func (r *thiefRig) thiefTrial(t *testing.T, mode, how string, writers int, user string) bool {
	t.Helper()
	owner, phone := device(t, r.a), device(t, r.b)
	mustGet(t, owner, r.a, "/login?user="+user, "ok")
	mustGet(t, phone, r.b, "/login?user="+user, "ok")
	stolen := cookieOf(t, phone, r.b)

	var mu sync.Mutex
	current := stolen.Value
	held := map[string]bool{stolen.Value: true}
	stop := make(chan struct{})
	var started, wg sync.WaitGroup
	var sent atomic.Int64
	path := map[string]string{"put": "/put?v=thief", "read": "/whoami", "rotate": "/rotate?v=thief"}[mode]
	for w := range writers {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := []*httptest.Server{r.a, r.b}[w%2]
			client := &http.Client{Transport: srv.Client().Transport, Timeout: 20 * time.Second}
			first := true
			for {
				mu.Lock()
				value := current
				mu.Unlock()
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				req.AddCookie(&http.Cookie{Name: stolen.Name, Value: value})
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					for _, c := range resp.Cookies() {
						if c.Name == stolen.Name && c.Value != "" && c.MaxAge >= 0 {
							mu.Lock()
							held[c.Value] = true
							if mode == "rotate" {
								current = c.Value
							}
							mu.Unlock()
						}
					}
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
	var answer string
	switch how {
	case "revoke-others":
		_, answer = get(t, owner, r.a, "/revoke-others")
	case "revoke-id":
		for _, s := range listSessions(t, owner, r.a) {
			if !s.Current {
				get(t, owner, r.a, "/revoke?id="+s.ID)
			}
		}
	case "revoke-all":
		_, answer = get(t, owner, r.a, "/revoke-all")
	case "admin-revoke-all":
		_, answer = get(t, owner, r.b, "/admin-revoke-all?user="+user)
	case "revoke-user":
		n, err := r.cmd.RevokeUser(context.Background(), user, "")
		if err != nil {
			t.Error(err)
		}
		answer = strconv.Itoa(n)
	}
	for at := sent.Load(); sent.Load() < at+int64(4*writers); {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for value := range held {
		for _, srv := range []*httptest.Server{r.a, r.b} {
			if whoamiWith(t, srv, value) != "" {
				list, _ := r.cmd.Sessions(context.Background(), user)
				t.Logf("thief %s, %d writers, %s of %s answered %q; %d requests sent; %d sessions of the user listed after",
					mode, writers, how, user, answer, sent.Load(), len(list))
				return true
			}
		}
	}
	return false
}

// TestRevokedSessionNeverComesBackUnderEverySetting runs the thief of
// TestRevokedSessionNeverComesBack under the settings that change the
// write path (batching with one statement in flight, or none; touch
// coalescing under an idle timeout; a cleanup every second) and with the
// revocations that end a session from outside its user's requests (an
// admin's RevokeAll, sessionkit revoke-user), and a thief who renews the
// token on every request and follows the new cookie.
//
// It is a long test: 4 trials of each case take about 40s.
func TestRevokedSessionNeverComesBackUnderEverySetting(t *testing.T) {
	mysqltest.Long(t)
	t.Parallel()
	trials := 4
	if n, err := strconv.Atoi(os.Getenv("SESSIONKIT_TEST_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	setups := []struct {
		name  string
		extra map[string]string
		modes []string
	}{
		{"max-inflight=1", map[string]string{"SESSION_DB_MAX_INFLIGHT": "1"}, []string{"put", "rotate"}},
		{"unbatched", map[string]string{"SESSION_DB_MAX_INFLIGHT": "0"}, []string{"put"}},
		{"idle-timeout", map[string]string{"SESSION_IDLE_TIMEOUT": "20m"}, []string{"read", "put"}},
		{"cleanup-every-second", map[string]string{"SESSION_CLEANUP_INTERVAL": "1s"}, []string{"put", "rotate"}},
	}
	for _, setup := range setups {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			rig := newThiefRig(t, setup.extra)
			for _, mode := range setup.modes {
				hows := []string{"revoke-others", "revoke-id", "revoke-all", "admin-revoke-all", "revoke-user"}
				if mode == "rotate" {
					// A session whose token moves has no ID to revoke it
					// by for long.
					hows = []string{"revoke-others", "revoke-all", "admin-revoke-all", "revoke-user"}
				}
				for _, how := range hows {
					for _, writers := range []int{1, 4} {
						back := 0
						for i := range trials {
							if rig.thiefTrial(t, mode, how, writers, fmt.Sprintf("%s-%s-%d-%d", mode, how, writers, i)) {
								back++
							}
						}
						if back > 0 {
							t.Errorf("thief %s, %d writers, %s: the session came back or stayed in %d of %d trials", mode, writers, how, back, trials)
						}
					}
				}
			}
		})
	}
}
