package sessionkitprom

import (
	"context"
	"log/slog"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// exported names, for each field of the store's Stats, the metric that
// carries it. A field the store gains fails TestEveryStatIsExported until
// the collector exports it and it is added here.
var exported = map[string]string{
	"FindCalls":           "sessionkit_store_calls_total",
	"FindStatements":      "sessionkit_store_statements_total",
	"CommitCalls":         "sessionkit_store_calls_total",
	"CommitStatements":    "sessionkit_store_statements_total",
	"SplitBatches":        "sessionkit_store_split_batches_total",
	"TouchesSkipped":      "sessionkit_store_touches_total",
	"TouchesWritten":      "sessionkit_store_touches_total",
	"FindErrors":          "sessionkit_store_errors_total",
	"CommitErrors":        "sessionkit_store_errors_total",
	"DeleteErrors":        "sessionkit_store_errors_total",
	"UnreadableSessions":  "sessionkit_store_unreadable_sessions_total",
	"TokensUpgraded":      "sessionkit_store_tokens_upgraded_total",
	"CleanupPasses":       "sessionkit_cleanup_passes_total",
	"CleanupSkipped":      "sessionkit_cleanup_passes_skipped_total",
	"CleanupErrors":       "sessionkit_cleanup_errors_total",
	"CleanupRowsDeleted":  "sessionkit_cleanup_rows_deleted_total",
	"CleanupStatements":   "sessionkit_cleanup_statements_total",
	"CleanupLastStart":    "sessionkit_cleanup_last_start_timestamp_seconds",
	"CleanupLastDuration": "sessionkit_cleanup_last_duration_seconds",
	"CleanupLastError":    "sessionkit_cleanup_last_pass_failed",
}

// TestEveryStatIsExported checks that each field of the store's Stats has
// a metric, so that a counter the store adds does not go missing from
// /metrics while it shows up in Kit.Vars.
func TestEveryStatIsExported(t *testing.T) {
	t.Parallel()
	fields := reflect.TypeFor[sessionmysql.Stats]()
	for i := range fields.NumField() {
		f := fields.Field(i)
		if f.IsExported() && exported[f.Name] == "" {
			t.Errorf("mysql.Stats.%s has no metric: export it in collector.go and name it in exported", f.Name)
		}
	}
	for name := range exported {
		if _, ok := fields.FieldByName(name); !ok {
			t.Errorf("exported names %s, which mysql.Stats no longer has", name)
		}
	}
}

// TestExportedNamesAreCollected checks that the metrics named in exported
// are the ones the collector makes.
func TestExportedNamesAreCollected(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	kit, err := sessionkit.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer kit.Shutdown(context.Background())
	c := NewCollector(kit)
	for field, name := range exported {
		if testutil.CollectAndCount(c, name) == 0 {
			t.Errorf("%s: the collector makes no %s", field, name)
		}
	}
}
