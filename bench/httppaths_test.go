package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
)

// BenchmarkHTTPPaths runs the kit in process, with the handler of
// NewHTTPHandler behind its middleware, without and with an idle timeout:
// with one, scs commits every session on every request and the kit's touch
// coalescing decides what is written. 32 clients (16 per core on this
// 2-core machine), each with a cookie jar and a session of its own, send
// the write path (GET /: a read and a commit that changes the session)
// and the read path (GET /get). Rounds interleave the setups
// (SESSIONKIT_BENCH_HTTP_ROUNDS, 1 by default); compare ratios within one
// run.
func BenchmarkHTTPPaths(b *testing.B) {
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("SESSIONKIT_BENCH_HTTP_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	dsn := mysqltest.DSN(b)
	servers := map[string]*httptest.Server{}
	for _, idle := range []string{"0s", "30m"} {
		cfg, err := sessionkit.LoadConfigFrom(map[string]string{
			"SESSION_MYSQL_DSN":     dsn,
			"SESSION_TABLE":         "sessions_idle_" + idle,
			"SESSION_CREATE_TABLE":  "true",
			"SESSION_IDLE_TIMEOUT":  idle,
			"SESSION_COOKIE_SECURE": "false",
		})
		if err != nil {
			b.Fatal(err)
		}
		kit, err := sessionkit.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { kit.Shutdown(context.Background()) })
		srv := httptest.NewServer(NewHTTPHandler(kit.Manager, kit.Middleware))
		b.Cleanup(srv.Close)
		servers[idle] = srv
	}
	for round := range rounds {
		for _, path := range []string{"/", "/get"} {
			for _, idle := range []string{"0s", "30m"} {
				name := fmt.Sprintf("round=%d/path=%s/idle=%s", round, map[string]string{"/": "write", "/get": "read"}[path], idle)
				b.Run(name, func(b *testing.B) { benchmarkPath(b, servers[idle], path) })
			}
		}
	}
}

// benchmarkPath sends GET path from 16 goroutines per core, each a client
// with a session of its own.
func benchmarkPath(b *testing.B, srv *httptest.Server, path string) {
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Transport: srv.Client().Transport}
		get := func(path string) {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %s", path, resp.Status)
			}
		}
		get("/put") // the client's session
		for pb.Next() {
			get(path)
		}
	})
}
