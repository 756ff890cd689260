package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// The load scenarios (replicas, crashes, soak) run at a small scale by
// default, so that CI runs them in well under a minute on two cores next to
// the other tests. SESSIONKIT_E2E_SCALE=full runs them at the sizes of
// issue 5; SESSIONKIT_E2E_SOAK sets the soak's duration on its own.
const (
	envScale = "SESSIONKIT_E2E_SCALE"
	envSoak  = "SESSIONKIT_E2E_SOAK"
)

// loadScale holds the sizes of the load scenarios.
type loadScale struct {
	requests, sessions int           // replicas: requests spread over sessions
	users              int           // crash scenarios and soak: concurrent users
	soak               time.Duration // soak duration
}

func scale(t *testing.T) loadScale {
	t.Helper()
	s := loadScale{requests: 1500, sessions: 150, users: 12, soak: 20 * time.Second}
	switch v := os.Getenv(envScale); v {
	case "", "ci":
	case "full":
		s = loadScale{requests: 10000, sessions: 1000, users: 32, soak: 10 * time.Minute}
	default:
		t.Fatalf("%s=%q: want ci or full", envScale, v)
	}
	if v := os.Getenv(envSoak); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second {
			t.Fatalf("%s=%q: want a duration of at least 5s", envSoak, v)
		}
		s.soak = d
	}
	return s
}

// newLoadTransport returns the transport the load clients share:
// connections are kept alive, as a load balancer keeps them to its backends.
func newLoadTransport(t *testing.T) *http.Transport {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// balancer is a round-robin load balancer in front of example processes. A
// replica that fails a request at the transport level (connection refused
// or reset) is taken out of the rotation, as a load balancer's passive
// health check would.
type balancer struct {
	urls []string
	next atomic.Uint64
	mu   sync.Mutex
	down []bool

	// Users hold gate for reading while they send a request; pause holds it
	// for writing to let the replicas settle for a measurement.
	gate sync.RWMutex
}

// pause waits for the requests in flight to finish and holds back new ones
// until resume is called.
func (b *balancer) pause() (resume func()) {
	b.gate.Lock()
	return b.gate.Unlock
}

func newBalancer(procs ...*process) *balancer {
	b := &balancer{down: make([]bool, len(procs))}
	for _, p := range procs {
		b.urls = append(b.urls, p.URL)
	}
	return b
}

// pick returns the next live replica in the global rotation.
func (b *balancer) pick() int { return b.pickAt(b.next.Add(1)) }

// pickAt returns the live replica at position n of the rotation.
func (b *balancer) pickAt(n uint64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var live []int
	for i, d := range b.down {
		if !d {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return 0
	}
	return live[n%uint64(len(live))]
}

func (b *balancer) markDown(i int) {
	b.mu.Lock()
	b.down[i] = true
	b.mu.Unlock()
}

// visit is the outcome of one GET / by a user.
type visit struct {
	replica    int
	start, end time.Time
	status     int
	body       string // kept for statuses other than 200
	visits     int    // the counter shown, with status 200
	err        error  // a transport error: no HTTP response
}

// user is a browser: a cookie jar and the record of its visits, sent one
// after another.
type user struct {
	hc      *http.Client
	jar     *cookiejar.Jar
	log     []visit
	last    int  // the counter of the last 200
	started bool // POST /put has started the session

	// For the test goroutine to follow the user's progress while it runs.
	okCount     atomic.Int64 // visits with status 200
	lastOKStart atomic.Int64 // start of the last of them, in Unix nanoseconds
}

func newUser(tr *http.Transport) *user {
	jar, _ := cookiejar.New(nil)
	return &user{jar: jar, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}}
}

// get sends GET / to replica i of b and records the outcome. Until the
// user has a session it first sends POST /put, which starts one (/ counts
// the visits of a session but starts none); a POST /put that fails is
// recorded as the outcome.
func (u *user) get(ctx context.Context, b *balancer, i int) visit {
	v := visit{replica: i, start: time.Now()}
	method, path := "GET", "/"
	if !u.started {
		method, path = "POST", "/put"
	}
	req, err := http.NewRequestWithContext(ctx, method, b.urls[i]+path, nil)
	if err != nil {
		v.err = err
		return v
	}
	resp, err := u.hc.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		v.status, v.body = resp.StatusCode, string(body)
	}
	v.end = time.Now()
	v.err = err
	if err == nil && v.status == http.StatusOK && !u.started {
		u.started = true
		return u.get(ctx, b, i)
	}
	if err == nil && v.status == http.StatusOK {
		if m := visitsRe.FindStringSubmatch(v.body); m != nil {
			v.visits, _ = strconv.Atoi(m[1])
		}
		v.body = "" // the counter is all that matters; long runs keep many visits
		u.last = v.visits
		u.okCount.Add(1)
		u.lastOKStart.Store(v.start.UnixNano())
	}
	u.log = append(u.log, v)
	return v
}

// run has the user visit / on the balancer's replicas, one request after
// another with a pause between them, until stop is closed. A replica that
// fails a request without an answer is taken out of the rotation.
func (u *user) run(ctx context.Context, lb *balancer, pause time.Duration, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		lb.gate.RLock()
		i := lb.pick()
		v := u.get(ctx, lb, i)
		lb.gate.RUnlock()
		if v.err != nil {
			lb.markDown(i)
		}
		time.Sleep(pause)
	}
}

// startUsers starts n users on lb; stopUsers stops them and waits.
func startUsers(ctx context.Context, tr *http.Transport, lb *balancer, n int, pause time.Duration) (users []*user, stopUsers func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		u := newUser(tr)
		users = append(users, u)
		wg.Go(func() { u.run(ctx, lb, pause, stop) })
	}
	var once sync.Once
	return users, func() {
		once.Do(func() { close(stop) })
		wg.Wait()
	}
}

// waitUsers waits until done holds for every user.
func waitUsers(t *testing.T, users []*user, timeout time.Duration, what string, done func(u *user) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		waiting := 0
		for _, u := range users {
			if !done(u) {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d users still wait until %s", timeout, waiting, len(users), what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// token is the session token in the user's jar.
func (u *user) token(base string) string {
	u2, err := url.Parse(base)
	if err != nil {
		return ""
	}
	for _, ck := range u.jar.Cookies(u2) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	return ""
}

// checkCounters checks that the counters a user saw with status 200 run
// 1, 2, 3, ... with no value lost or repeated. A request that failed without
// an answer (a process or the database died under it) may or may not have
// committed: after one, and only then, the counter may skip a value. It
// returns the number of such skips, which the scenarios report.
func (u *user) checkCounters(allowSkipAfter func(v visit) bool) (skips int, err error) {
	want, doubt := 1, false
	for _, v := range u.log {
		if v.err == nil && v.status == http.StatusOK {
			switch {
			case v.visits == want:
			case v.visits == want+1 && doubt:
				skips++
			default:
				return skips, fmt.Errorf("visit at %s to replica %d showed %d visits, want %d (a commit lost or repeated)",
					v.start.Format(time.StampMicro), v.replica, v.visits, want)
			}
			want, doubt = v.visits+1, false
			continue
		}
		if allowSkipAfter(v) {
			doubt = true
		}
	}
	return skips, nil
}

// hashedTokens returns what the sessions table holds for the tokens under
// SESSION_HASH_TOKEN=true, the default: base64url(SHA-256(token)).
func hashedTokens(tokens []string) []any {
	out := make([]any, len(tokens))
	for i, tok := range tokens {
		sum := sha256.Sum256([]byte(tok))
		out[i] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return out
}

// countStored counts the rows of the sessions table for the tokens.
func countStored(ctx context.Context, db *sql.DB, tokens []string) (int, error) {
	total := 0
	for chunk := range slices.Chunk(hashedTokens(tokens), 500) {
		q := "SELECT COUNT(*) FROM sessions WHERE token IN (?" + strings.Repeat(",?", len(chunk)-1) + ")"
		var n int
		if err := db.QueryRowContext(ctx, q, chunk...).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// seedExpired inserts n sessions that expired an hour ago, for cleanup to
// delete. Each row is a statement of its own: a multi-row INSERT into the
// range that a cleanup DELETE is scanning can deadlock with it (InnoDB error
// 1213, and the DELETE, which holds fewer rows, is the victim), while a
// single-row INSERT holds no lock the DELETE waits for.
func seedExpired(ctx context.Context, db *sql.DB, n int) error {
	stmt, err := db.PrepareContext(ctx,
		"INSERT INTO sessions (token, data, expiry) VALUES (?, 'expired', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)")
	if err != nil {
		return fmt.Errorf("seeding expired sessions: %w", err)
	}
	defer stmt.Close()
	for range n {
		var b [32]byte
		rand.Read(b[:])
		if _, err := stmt.ExecContext(ctx, base64.RawURLEncoding.EncodeToString(b[:])); err != nil {
			return fmt.Errorf("seeding expired sessions: %w", err)
		}
	}
	return nil
}

// seedExpiredBulk is seedExpired in multi-row statements, fast but only
// safe while no cleanup runs on the table. It creates the table first.
func seedExpiredBulk(ctx context.Context, db *sql.DB, n int) error {
	if err := sessionmysql.NewWithCleanupInterval(db, 0).CreateTable(ctx); err != nil {
		return err
	}
	for n > 0 {
		k := min(n, 500)
		args := make([]any, k)
		for i := range args {
			var b [32]byte
			rand.Read(b[:])
			args[i] = base64.RawURLEncoding.EncodeToString(b[:])
		}
		row := "(?, 'expired', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)"
		q := "INSERT INTO sessions (token, data, expiry) VALUES " + row + strings.Repeat(","+row, k-1)
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("seeding expired sessions: %w", err)
		}
		n -= k
	}
	return nil
}

// countExpired counts the sessions that cleanup has still to delete.
func countExpired(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE expiry <= UTC_TIMESTAMP(6)").Scan(&n)
	return n, err
}

// debugVars is what the examples serve at /debug/vars with DEBUG_VARS=true.
type debugVars struct {
	Sessionkit struct {
		Passes              int64   `json:"cleanup_passes"`
		Skipped             int64   `json:"cleanup_skipped"`
		Errors              int64   `json:"cleanup_errors"`
		RowsDeleted         int64   `json:"cleanup_rows_deleted"`
		Statements          int64   `json:"cleanup_statements"`
		LastStart           string  `json:"cleanup_last_start"`
		LastDurationSeconds float64 `json:"cleanup_last_duration_seconds"`
		LastError           string  `json:"cleanup_last_error"`
	} `json:"sessionkit"`
	Goroutines int `json:"goroutines"`
	Memstats   struct {
		HeapAlloc uint64 `json:"HeapAlloc"`
	} `json:"memstats"`
}

var varsClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// readVars gets base/debug/vars.
func readVars(base string) (debugVars, error) {
	var v debugVars
	resp, err := varsClient.Get(base + "/debug/vars")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s/debug/vars: status %d", base, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("GET %s/debug/vars: %w", base, err)
	}
	return v, nil
}

func mustReadVars(t *testing.T, base string) debugVars {
	t.Helper()
	v, err := readVars(base)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// residentKB reads the resident memory of a process from /proc.
func residentKB(pid int) (int, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cleanupPass is a "sessionkit/mysql: cleanup pass" debug log line.
type cleanupPass struct {
	replica    int
	start, end time.Time
	deleted    int64
}

// cleanupPasses reads the cleanup passes from a process's logs.
func cleanupPasses(replica int, logs string) []cleanupPass {
	var out []cleanupPass
	for line := range strings.Lines(logs) {
		var rec struct {
			Msg        string
			Start, End time.Time
			Deleted    int64
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sessionkit/mysql: cleanup pass" {
			out = append(out, cleanupPass{replica, rec.Start, rec.End, rec.Deleted})
		}
	}
	return out
}

// checkNoPanic fails the test if a process's logs mention a panic.
func checkNoPanic(t *testing.T, p *process) {
	t.Helper()
	for line := range strings.Lines(p.stderr.String()) {
		if strings.Contains(strings.ToLower(line), "panic") {
			t.Errorf("%s (pid %d) logged a panic: %s", p.name, p.cmd.Process.Pid, line)
		}
	}
}

// exampleNamed returns the example with that directory name.
func exampleNamed(name string) *example {
	for _, ex := range examples {
		if ex.name == name {
			return ex
		}
	}
	panic("no example " + name)
}
