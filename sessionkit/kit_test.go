package sessionkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// TestNewMissingTableShowsCreateStatement checks that without
// SESSION_CREATE_TABLE a missing table stops New with the statement to run.
func TestNewMissingTableShowsCreateStatement(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": mysqltest.DSN(t), "SESSION_TABLE": "web_sessions"})
	if err != nil {
		t.Fatal(err)
	}
	kit, err := sessionkit.New(t.Context(), cfg)
	if err == nil {
		kit.Shutdown(t.Context())
		t.Fatal("New succeeded without a table")
	}
	if !errors.Is(err, sessionmysql.ErrTableMissing) {
		t.Errorf("error does not match ErrTableMissing: %v", err)
	}
	for _, want := range []string{"CREATE TABLE IF NOT EXISTS `web_sessions`", "SESSION_CREATE_TABLE=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// TestCreateTableLogsWhenItCreates checks that SESSION_CREATE_TABLE=true
// logs the creation of a missing table, and nothing on the next start,
// when the table exists.
func TestCreateTableLogsWhenItCreates(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_TABLE": "web_sessions"})
	for i, want := range []int{1, 0} {
		kit, logs := startKit(t, environ)
		if err := kit.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(logs.String(), "created the session table"); n != want {
			t.Errorf("start %d: %d lines say the table was created, want %d:\n%s", i+1, n, want, logs)
		}
		if want == 1 && !strings.Contains(logs.String(), "table=`web_sessions`") {
			t.Errorf("the log does not name the table:\n%s", logs)
		}
	}
}

// TestNewUnreachableDatabase checks that New waits for a database that
// refuses connections until ctx's deadline, logging each attempt, and then
// fails with the last attempt's error, naming the server but not the
// password.
func TestNewUnreachableDatabase(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{
		"SESSION_MYSQL_DSN": "app:hunter2secret@tcp(127.0.0.1:" + strconv.Itoa(port) + ")/app",
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = sessionkit.New(ctx, cfg)
	if err == nil {
		t.Fatal("New succeeded with no server")
	}
	if took := time.Since(start); took < 1400*time.Millisecond || took > 5*time.Second {
		t.Errorf("New took %v, want it to wait until shortly before its context's deadline (2s)", took)
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(msg, "connection refused") || strings.Contains(msg, "hunter2") {
		t.Errorf("error should name the server and the last error, and not the password: %v", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error should match the refused connection: %v", err)
	}
	attempts := retryLines(t, logs.String())
	if len(attempts) < 3 {
		t.Fatalf("%d attempts logged in 2s, want at least 3:\n%s", len(attempts), logs)
	}
	for i, a := range attempts {
		if d, err := time.ParseDuration(a.Delay); a.Attempt != i+1 || err != nil || d <= 0 || !strings.Contains(a.Err, "connection refused") {
			t.Errorf("attempt line %d: %+v, want attempt %d with a delay and the error", i, a, i+1)
		}
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log shows the password:\n%s", logs)
	}
}

// retryLine is the log line of a failed attempt to reach the database.
type retryLine struct {
	Msg      string
	Database string
	Attempt  int
	Delay    string
	Err      string
}

// retryLines returns the retry lines of a JSON log.
func retryLines(t *testing.T, logs string) []retryLine {
	t.Helper()
	var out []retryLine
	for line := range strings.Lines(logs) {
		var l retryLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if strings.Contains(l.Msg, "retrying") {
			out = append(out, l)
		}
	}
	return out
}

// TestNewWaitsForTheDatabase starts New while the database is down and
// the database a moment later: New returns a working kit.
func TestNewWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t)
	dsn := server.Database(t).FormatDSN()
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": dsn, "SESSION_CREATE_TABLE": "true"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	type result struct {
		kit *sessionkit.Kit
		err error
	}
	done := make(chan result, 1)
	go func() {
		kit, err := sessionkit.New(ctx, cfg)
		done <- result{kit, err}
	}()
	for len(retryLines(t, logs.String())) < 2 {
		select {
		case r := <-done:
			t.Fatalf("New returned (%v) while the database was down", r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("New after the database came up: %v\n%s", r.err, logs)
	}
	t.Cleanup(func() { r.kit.Shutdown(context.Background()) })
	if err := r.kit.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if !strings.Contains(logs.String(), "database reachable") {
		t.Errorf("no log line says the database was reached:\n%s", logs)
	}
}

// TestNewDoesNotWaitForAWrongPassword checks that an answer of the server
// that waiting cannot change ends New at once.
func TestNewDoesNotWaitForAWrongPassword(t *testing.T) {
	t.Parallel()
	c := mysqltest.Config(t)
	c.User, c.Passwd = "nobody", "hunter2secret"
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_MYSQL_DSN": c.FormatDSN()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = sessionkit.New(ctx, cfg)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || (me.Number != 1045 && me.Number != 1698) {
		t.Fatalf("New with a wrong password: %v, want Access denied", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("New took %v to give up on a wrong password", took)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestNewWithDBLeavesPoolOpen checks that the caller's pool outlives the
// kit.
func TestNewWithDBLeavesPoolOpen(t *testing.T) {
	t.Parallel()
	db := mysqltest.DB(t)
	cfg := sessionkit.DefaultConfig()
	cfg.CreateTable = true
	kit, err := sessionkit.NewWithDB(t.Context(), cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put", "ok")
	mustGet(t, client, srv, "/get", "hello")
	if err := kit.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Errorf("the caller's pool was closed: %v", err)
	}
	if n := len(storedTokens(t, db)); n != 1 {
		t.Errorf("%d sessions stored, want 1", n)
	}
}

// TestDatabaseOutage stops the database under a running kit: session
// requests get a plain 500 from the ErrorFunc, the log has the request but
// not the token, and all works again once the database is back.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t)
	kit, logs := startKit(t, map[string]string{
		"SESSION_MYSQL_DSN": server.Database(t).FormatDSN(), "SESSION_CREATE_TABLE": "true",
		"SESSION_DB_QUERY_TIMEOUT": "2s",
	})
	srv, client := serve(t, handlerFor(t, kit, "chi", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put", "ok")
	token := cookieValue(t, client, srv, sessionkit.HostCookieName)

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, body := get(t, client, srv, "/get")
		if resp.StatusCode != http.StatusInternalServerError || body != "Internal Server Error\n" {
			t.Fatalf("with the database down: %d %q, want a plain 500", resp.StatusCode, body)
		}
	}
	if err := kit.Ready(t.Context()); err == nil {
		t.Error("Ready is nil with the database down")
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "method=GET") || !strings.Contains(out, "path=/get") {
		t.Errorf("the error log lacks the request:\n%s", out)
	}
	if strings.Contains(out, token) || strings.Contains(out, hashToken(token)) {
		t.Errorf("the log shows the session token:\n%s", out)
	}

	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := get(t, client, srv, "/get")
		if resp.StatusCode == http.StatusOK && body == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %d %q, want 200 hello", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := kit.Ready(t.Context()); err != nil {
		t.Errorf("Ready after restart: %v", err)
	}
}

// TestShutdownWaitsForRequestInFlight shuts the kit down while a slow
// request runs: Shutdown returns only after the request has finished and
// saved its session, and then the kit's connections are gone.
func TestShutdownWaitsForRequestInFlight(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, nil)
	kit, _ := startKit(t, environ)
	started, release := make(chan struct{}), make(chan struct{})
	routes := sessionRoutes(kit)
	routes["/slow"] = func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		kit.Manager.Put(r.Context(), "message", "slow")
		io.WriteString(w, "done")
	}
	srv, client := serve(t, handlerFor(t, kit, "servemux", routes))
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])

	type result struct {
		status int
		body   string
	}
	reqDone := make(chan result, 1)
	go func() {
		resp, err := client.Get(srv.URL + "/slow")
		if err != nil {
			reqDone <- result{body: err.Error()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		reqDone <- result{resp.StatusCode, string(body)}
	}()
	<-started

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- kit.Shutdown(context.Background()) }()
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	if resp, _ := get(t, client, srv, "/get"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a request during shutdown got %d, want 503", resp.StatusCode)
	}
	close(release)
	if r := <-reqDone; r.status != http.StatusOK || r.body != "done" {
		t.Fatalf("slow request: %d %q, want 200 done", r.status, r.body)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(storedTokens(t, db)); n != 1 {
		t.Errorf("%d sessions stored, want the slow request's", n)
	}
	if err := kit.Ready(t.Context()); !errors.Is(err, sessionkit.ErrShutdown) {
		t.Errorf("Ready after Shutdown: %v, want ErrShutdown", err)
	}
	// The pool is closed: the server sees no connection to the database
	// but the test's own.
	dbName := strings.TrimPrefix(environ["SESSION_MYSQL_DSN"][strings.LastIndex(environ["SESSION_MYSQL_DSN"], "/"):], "/")
	dbName, _, _ = strings.Cut(dbName, "?")
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the kit still open after Shutdown", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := kit.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestShutdownDeadline checks that Shutdown gives up waiting when its
// context ends, and says so, and that later calls return the same.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	started, release := make(chan struct{}), make(chan struct{})
	srv, client := serve(t, kit.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})))
	var wg sync.WaitGroup
	wg.Go(func() {
		if resp, err := client.Get(srv.URL); err == nil {
			resp.Body.Close()
		}
	})
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := kit.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 requests still running") {
		t.Errorf("Shutdown: %v, want the deadline and the running request", err)
	}
	if again := kit.Shutdown(t.Context()); !errors.Is(again, context.DeadlineExceeded) {
		t.Errorf("second Shutdown: %v, want the first one's result", again)
	}
	close(release)
	wg.Wait()
}

// TestQueryTimeoutBoundsStuckDatabase holds a lock on the session's row
// from another connection: the request that must write it fails with a 500
// after SESSION_DB_QUERY_TIMEOUT instead of waiting for the lock, and the
// abandoned write is not applied later.
func TestQueryTimeoutBoundsStuckDatabase(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_DB_QUERY_TIMEOUT": "500ms"})
	kit, _ := startKit(t, environ)
	srv, client := serve(t, handlerFor(t, kit, "servemux", sessionRoutes(kit)))
	mustGet(t, client, srv, "/put", "ok")

	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM (SELECT token FROM sessions FOR UPDATE) locked").Scan(&n); err != nil || n != 1 {
		t.Fatalf("locking the session row: %d rows, %v", n, err)
	}
	start := time.Now()
	resp, _ := get(t, client, srv, "/put?v=blocked")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("write to a locked row: %d, want 500", resp.StatusCode)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the request took %v; the query timeout is 500ms", took)
	}
	// The kit sets innodb_lock_wait_timeout from the query timeout (rounded
	// up to 1s), so the server gives up on the abandoned write too, instead
	// of applying it once the lock is released.
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	tx.Rollback()
	resp, body := get(t, client, srv, "/get")
	if resp.StatusCode != http.StatusOK || body != "hello" {
		t.Errorf("after the lock: %d %q, want the session back", resp.StatusCode, body)
	}
}
