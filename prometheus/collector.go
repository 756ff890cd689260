package sessionkitprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"sessionkit.dev/sessionkit"
)

// collector reads a kit's counters each time it is scraped: it keeps no
// state of its own and starts no goroutine.
type collector struct {
	kit *sessionkit.Kit

	storeCalls, storeStatements *prometheus.Desc
	storeErrors                 *prometheus.Desc
	storeSplitBatches           *prometheus.Desc
	storeTouches                *prometheus.Desc
	storeUnreadable             *prometheus.Desc
	storeTokensUpgraded         *prometheus.Desc

	cleanupPasses, cleanupSkipped, cleanupErrors *prometheus.Desc
	cleanupRowsDeleted, cleanupStatements        *prometheus.Desc
	cleanupLastStart, cleanupLastDuration        *prometheus.Desc
	cleanupLastFailed                            *prometheus.Desc

	requestsInFlight *prometheus.Desc
}

// NewCollector returns a Prometheus collector of k's counters: those of its
// store (Kit.Stats) and the requests inside its middleware
// (Kit.InFlight). It reads them at each scrape, so it costs nothing
// between scrapes; register it once per kit, on the registry your /metrics
// handler serves. The metrics are named in the package docs. With the
// memory store every store and cleanup metric is zero.
func NewCollector(k *sessionkit.Kit) prometheus.Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sessionkit_"+name, help, labels, nil)
	}
	return &collector{
		kit: k,

		storeCalls: desc("store_calls_total",
			"Calls of the session store: kind=\"read\" counts Find, kind=\"write\" Commit and Delete.", "kind"),
		storeStatements: desc("store_statements_total",
			"SQL statements that served the store's calls; calls per statement is the mean batch size.", "kind"),
		storeErrors: desc("store_errors_total",
			"Calls of the session store's Find, Commit and Delete that returned an error.", "op"),
		storeSplitBatches: desc("store_split_batches_total",
			"Write batches the server refused, split to find the session it refused."),
		storeTouches: desc("store_touches_total",
			"Commits that only moved a session's expiry: skipped (by less than the touch interval) or written as an expiry-only UPDATE.", "outcome"),
		storeUnreadable: desc("store_unreadable_sessions_total",
			"Stored sessions that could not be read (encrypted with a key no longer configured, altered, or copied under another token) and were treated as missing."),
		storeTokensUpgraded: desc("store_tokens_upgraded_total",
			"Sessions moved from a plain token to its hash on first use."),

		cleanupPasses: desc("cleanup_passes_total",
			"Cleanup passes that ran to the end or to an error."),
		cleanupSkipped: desc("cleanup_passes_skipped_total",
			"Cleanup passes skipped because another replica held the cleanup lock."),
		cleanupErrors: desc("cleanup_errors_total",
			"Cleanup passes that ended in an error."),
		cleanupRowsDeleted: desc("cleanup_rows_deleted_total",
			"Expired sessions deleted by the cleanup and by DeleteExpired."),
		cleanupStatements: desc("cleanup_statements_total",
			"DELETE statements run by the cleanup and by DeleteExpired."),
		cleanupLastStart: desc("cleanup_last_start_timestamp_seconds",
			"When the last cleanup pass started, in seconds since the Unix epoch; 0 before the first pass."),
		cleanupLastDuration: desc("cleanup_last_duration_seconds",
			"How long the last cleanup pass took."),
		cleanupLastFailed: desc("cleanup_last_pass_failed",
			"1 if the last cleanup pass ended in an error, 0 if it succeeded or none has run."),

		requestsInFlight: desc("requests_in_flight",
			"Requests inside the session middleware: handlers running or sessions being saved."),
	}
}

// Describe sends the descriptors of every metric the collector makes.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.storeCalls, c.storeStatements, c.storeErrors, c.storeSplitBatches, c.storeTouches,
		c.storeUnreadable, c.storeTokensUpgraded,
		c.cleanupPasses, c.cleanupSkipped, c.cleanupErrors, c.cleanupRowsDeleted, c.cleanupStatements,
		c.cleanupLastStart, c.cleanupLastDuration, c.cleanupLastFailed,
		c.requestsInFlight,
	} {
		ch <- d
	}
}

// Collect reads the kit's counters, from one snapshot of Stats, and sends
// them as metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.kit.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}

	counter(c.storeCalls, st.FindCalls, "read")
	counter(c.storeCalls, st.CommitCalls, "write")
	counter(c.storeStatements, st.FindStatements, "read")
	counter(c.storeStatements, st.CommitStatements, "write")
	counter(c.storeErrors, st.FindErrors, "find")
	counter(c.storeErrors, st.CommitErrors, "commit")
	counter(c.storeErrors, st.DeleteErrors, "delete")
	counter(c.storeSplitBatches, st.SplitBatches)
	counter(c.storeTouches, st.TouchesSkipped, "skipped")
	counter(c.storeTouches, st.TouchesWritten, "written")
	counter(c.storeUnreadable, st.UnreadableSessions)
	counter(c.storeTokensUpgraded, st.TokensUpgraded)

	counter(c.cleanupPasses, st.CleanupPasses)
	counter(c.cleanupSkipped, st.CleanupSkipped)
	counter(c.cleanupErrors, st.CleanupErrors)
	counter(c.cleanupRowsDeleted, st.CleanupRowsDeleted)
	counter(c.cleanupStatements, st.CleanupStatements)
	var start, failed float64
	if !st.CleanupLastStart.IsZero() {
		start = float64(st.CleanupLastStart.UnixNano()) / 1e9
	}
	if st.CleanupLastError != nil {
		failed = 1
	}
	gauge(c.cleanupLastStart, start)
	gauge(c.cleanupLastDuration, st.CleanupLastDuration.Seconds())
	gauge(c.cleanupLastFailed, failed)

	gauge(c.requestsInFlight, float64(c.kit.InFlight()))
}
