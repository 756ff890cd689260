package sessionkitprom_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"sessionkit.dev/internal/mysqltest"
	sessionkitprom "sessionkit.dev/prometheus"
	"sessionkit.dev/sessionkit"
)

// types is every metric the collector makes, with its type.
var types = map[string]dto.MetricType{
	"sessionkit_store_calls_total":                    dto.MetricType_COUNTER,
	"sessionkit_store_statements_total":               dto.MetricType_COUNTER,
	"sessionkit_store_errors_total":                   dto.MetricType_COUNTER,
	"sessionkit_store_split_batches_total":            dto.MetricType_COUNTER,
	"sessionkit_store_touches_total":                  dto.MetricType_COUNTER,
	"sessionkit_store_unreadable_sessions_total":      dto.MetricType_COUNTER,
	"sessionkit_store_tokens_upgraded_total":          dto.MetricType_COUNTER,
	"sessionkit_cleanup_passes_total":                 dto.MetricType_COUNTER,
	"sessionkit_cleanup_passes_skipped_total":         dto.MetricType_COUNTER,
	"sessionkit_cleanup_errors_total":                 dto.MetricType_COUNTER,
	"sessionkit_cleanup_rows_deleted_total":           dto.MetricType_COUNTER,
	"sessionkit_cleanup_statements_total":             dto.MetricType_COUNTER,
	"sessionkit_cleanup_last_start_timestamp_seconds": dto.MetricType_GAUGE,
	"sessionkit_cleanup_last_duration_seconds":        dto.MetricType_GAUGE,
	"sessionkit_cleanup_last_pass_failed":             dto.MetricType_GAUGE,
	"sessionkit_requests_in_flight":                   dto.MetricType_GAUGE,
}

// TestCollectorScrapedOverHTTP serves a kit on a real database and its
// collector through promhttp, each on an HTTP server of its own. A browser
// with a cookie jar starts a session and reads it twice, a request is held
// inside the middleware, and the background cleanup deletes an expired
// session; then the session table is dropped, so that a Find, a Commit, a
// Delete and the cleanup fail. Each scrape is checked for the metrics'
// names, types, labels and values.
func TestCollectorScrapedOverHTTP(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.DSN(t)
	kit := startKit(t, map[string]string{
		"SESSION_MYSQL_DSN":        dsn,
		"SESSION_CREATE_TABLE":     "true",
		"SESSION_COOKIE_SECURE":    "false", // the test servers are plain HTTP
		"SESSION_CLEANUP_INTERVAL": "200ms",
		"SESSION_DB_QUERY_TIMEOUT": "2s",
	})
	db := mysqltest.Open(t, dsn)
	if _, err := db.Exec("INSERT INTO sessions (token, data, expiry) VALUES ('expired', '', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)"); err != nil {
		t.Fatal(err)
	}
	began := time.Now()

	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "hello")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, kit.Manager.GetString(r.Context(), "message"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Manager.Destroy(r.Context()); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	app := httptest.NewServer(kit.Middleware(mux))
	t.Cleanup(app.Close)

	collector := sessionkitprom.NewCollector(kit)
	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(collector)
	metrics := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(metrics.Close)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	send(t, browser, http.MethodPost, app.URL+"/put", http.StatusOK, "ok")
	send(t, browser, http.MethodGet, app.URL+"/get", http.StatusOK, "hello")
	send(t, browser, http.MethodGet, app.URL+"/get", http.StatusOK, "hello")

	// A request held inside the middleware is in flight, and only while it
	// is there.
	held := make(chan struct{})
	go func() {
		defer close(held)
		send(t, http.DefaultClient, http.MethodGet, app.URL+"/wait", http.StatusOK, "")
	}()
	<-entered
	if err := testutil.ScrapeAndCompare(metrics.URL, strings.NewReader(`
# HELP sessionkit_requests_in_flight Requests inside the session middleware: handlers running or sessions being saved.
# TYPE sessionkit_requests_in_flight gauge
sessionkit_requests_in_flight 1
`), "sessionkit_requests_in_flight"); err != nil {
		t.Errorf("with a request held in the middleware: %v", err)
	}
	close(release)
	<-held
	eventually(t, "the held request to leave the middleware", func() bool { return kit.InFlight() == 0 })
	eventually(t, "the cleanup to delete the expired session", func() bool { return kit.Stats().CleanupRowsDeleted == 1 })

	got := scrape(t, metrics.URL)
	checkTypes(t, got)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		// One Commit (POST /put) and two Finds (the GETs with the
		// cookie), one at a time: a statement each.
		{"sessionkit_store_calls_total", map[string]string{"kind": "read"}, 2},
		{"sessionkit_store_calls_total", map[string]string{"kind": "write"}, 1},
		{"sessionkit_store_statements_total", map[string]string{"kind": "read"}, 2},
		{"sessionkit_store_statements_total", map[string]string{"kind": "write"}, 1},
		{"sessionkit_store_errors_total", map[string]string{"op": "find"}, 0},
		{"sessionkit_store_errors_total", map[string]string{"op": "commit"}, 0},
		{"sessionkit_store_errors_total", map[string]string{"op": "delete"}, 0},
		{"sessionkit_store_split_batches_total", nil, 0},
		{"sessionkit_store_touches_total", map[string]string{"outcome": "skipped"}, 0},
		{"sessionkit_store_touches_total", map[string]string{"outcome": "written"}, 0},
		{"sessionkit_store_unreadable_sessions_total", nil, 0},
		{"sessionkit_store_tokens_upgraded_total", nil, 0},
		{"sessionkit_cleanup_rows_deleted_total", nil, 1},
		{"sessionkit_cleanup_passes_skipped_total", nil, 0}, // one replica
		{"sessionkit_cleanup_errors_total", nil, 0},
		{"sessionkit_cleanup_last_pass_failed", nil, 0},
		{"sessionkit_requests_in_flight", nil, 0},
	} {
		if v := value(t, got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	passes := value(t, got, "sessionkit_cleanup_passes_total", nil)
	if statements := value(t, got, "sessionkit_cleanup_statements_total", nil); passes < 1 || statements < passes {
		t.Errorf("%v passes in %v DELETE statements: want at least one pass, and a statement for each", passes, statements)
	}
	start := time.Unix(0, int64(value(t, got, "sessionkit_cleanup_last_start_timestamp_seconds", nil)*1e9))
	if start.Before(began.Add(-time.Second)) || start.After(time.Now()) {
		t.Errorf("sessionkit_cleanup_last_start_timestamp_seconds is %v: want a time since the test began (%v)", start, began)
	}
	if d := value(t, got, "sessionkit_cleanup_last_duration_seconds", nil); d < 0 || d > 10 {
		t.Errorf("sessionkit_cleanup_last_duration_seconds = %v: want seconds", d)
	}

	// Without the table, the next Find, Commit and Delete fail, each
	// counted under its operation, and so do the cleanup passes.
	if _, err := db.Exec("DROP TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	send(t, browser, http.MethodGet, app.URL+"/get", http.StatusInternalServerError, "")                // Find
	send(t, http.DefaultClient, http.MethodPost, app.URL+"/put", http.StatusInternalServerError, "")    // Commit: no cookie, no Find
	send(t, http.DefaultClient, http.MethodPost, app.URL+"/logout", http.StatusInternalServerError, "") // Delete
	if err := testutil.ScrapeAndCompare(metrics.URL, strings.NewReader(`
# HELP sessionkit_store_errors_total Calls of the session store's Find, Commit and Delete that returned an error.
# TYPE sessionkit_store_errors_total counter
sessionkit_store_errors_total{op="commit"} 1
sessionkit_store_errors_total{op="delete"} 1
sessionkit_store_errors_total{op="find"} 1
`), "sessionkit_store_errors_total"); err != nil {
		t.Errorf("after a failed Find, Commit and Delete: %v", err)
	}
	eventually(t, "a cleanup pass to fail", func() bool { return kit.Stats().CleanupErrors >= 1 })
	got = scrape(t, metrics.URL)
	if v := value(t, got, "sessionkit_cleanup_errors_total", nil); v < 1 {
		t.Errorf("sessionkit_cleanup_errors_total = %v after a failed pass, want at least 1", v)
	}
	if v := value(t, got, "sessionkit_cleanup_last_pass_failed", nil); v != 1 {
		t.Errorf("sessionkit_cleanup_last_pass_failed = %v without the table, want 1", v)
	}

	if problems, err := testutil.CollectAndLint(collector); err != nil || len(problems) > 0 {
		t.Errorf("CollectAndLint: %v %v", problems, err)
	}
}

// TestCollectorOfAMemoryKit checks that a kit without MySQL has every
// metric, at zero.
func TestCollectorOfAMemoryKit(t *testing.T) {
	t.Parallel()
	kit := startKit(t, map[string]string{"SESSION_STORE": "memory"})
	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(sessionkitprom.NewCollector(kit))
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		got[f.GetName()] = f
	}
	checkTypes(t, got)
	for name, f := range got {
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue() + m.GetGauge().GetValue(); v != 0 {
				t.Errorf("%s%v = %v, want 0", name, m.GetLabel(), v)
			}
		}
	}
	if problems, err := testutil.GatherAndLint(registry); err != nil || len(problems) > 0 {
		t.Errorf("GatherAndLint: %v %v", problems, err)
	}
}

// startKit makes a kit from environ, quiet, shut down when t ends.
func startKit(t *testing.T, environ map[string]string) *sessionkit.Kit {
	t.Helper()
	cfg, err := sessionkit.LoadConfigFrom(environ)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kit, err := sessionkit.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kit.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return kit
}

// send makes a request with client and checks its status and, if want is
// not empty, its body.
func send(t *testing.T, client *http.Client, method, url string, status int, want string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
		return
	}
	if resp.StatusCode != status || (want != "" && string(body) != want) {
		t.Errorf("%s %s: %d %q, want %d %q", method, url, resp.StatusCode, body, status, want)
	}
}

// scrape gets url as Prometheus does and parses the text it answers.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return families
}

// checkTypes checks that got holds exactly the collector's metrics, each
// with its type and a help text.
func checkTypes(t *testing.T, got map[string]*dto.MetricFamily) {
	t.Helper()
	for name, want := range types {
		f, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is missing", name)
		case f.GetType() != want:
			t.Errorf("%s is a %v, want a %v", name, f.GetType(), want)
		case f.GetHelp() == "":
			t.Errorf("%s has no help text", name)
		}
	}
	for name := range got {
		if _, ok := types[name]; !ok {
			t.Errorf("%s is not a metric of the collector", name)
		}
	}
}

// value returns the value of the metric name with exactly these labels.
func value(t *testing.T, got map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := got[name]
	if !ok {
		t.Errorf("%s is missing", name)
		return -1
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if match {
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Errorf("%s has no series with labels %v", name, labels)
	return -1
}

// eventually waits up to 10s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
