package sessionkitprom_test

import (
	"bufio"
	"context"
	"expvar"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sessionkitprom "sessionkit.dev/prometheus"
	"sessionkit.dev/sessionkit"
)

// The debug routes of examples/chi and examples/nethttp with /metrics next
// to /debug/vars, behind the same DEBUG_VARS switch. Like /debug/vars,
// /metrics tells anyone who asks about the process: serve it on an internal
// network only.
func Example() {
	kit, err := sessionkit.FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	if on, _ := strconv.ParseBool(os.Getenv("DEBUG_VARS")); on {
		expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
		mux.Handle("GET /debug/vars", expvar.Handler())

		registry := prometheus.NewRegistry()
		registry.MustRegister(
			sessionkitprom.NewCollector(kit),
			collectors.NewGoCollector(), // goroutines, memory, GC
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	}
	// The application's routes go through the session middleware; the
	// debug routes above need no session.
	app := http.NewServeMux()
	mux.Handle("/", kit.Middleware(app))

	srv := &http.Server{Addr: ":4000", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// NewCollector on a kit with the memory store, scraped once: every metric
// is there from the start, at zero until the kit has done something.
func ExampleNewCollector() {
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory"})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler) // the memory store's warning
	kit, err := sessionkit.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Shutdown(context.Background())

	registry := prometheus.NewRegistry()
	registry.MustRegister(sessionkitprom.NewCollector(kit))
	srv := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "sessionkit_store_errors_total") || strings.HasPrefix(line, "sessionkit_requests_in_flight") {
			fmt.Println(line)
		}
	}
	// Output:
	// sessionkit_requests_in_flight 0
	// sessionkit_store_errors_total{op="commit"} 0
	// sessionkit_store_errors_total{op="delete"} 0
	// sessionkit_store_errors_total{op="find"} 0
}
