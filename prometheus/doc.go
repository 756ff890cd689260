// Package sessionkitprom exports the counters of a sessionkit.Kit as
// Prometheus metrics. It is a module of its own, sessionkit.dev/prometheus,
// so that sessionkit itself does not depend on the Prometheus client.
//
// Register the collector on the registry that your /metrics handler serves:
//
//	registry := prometheus.NewRegistry()
//	registry.MustRegister(sessionkitprom.NewCollector(kit))
//	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
//
// Like /debug/vars, /metrics tells anyone who asks about the process: serve
// it on an internal network only.
//
// The collector reads the kit at scrape time (Kit.Stats and Kit.InFlight)
// and keeps nothing between scrapes. A counter starts at zero when the kit
// is made. With the memory store every store and cleanup metric is zero.
//
// The session store, for the calls that scs makes on each request:
//
//	sessionkit_store_calls_total{kind="read"|"write"}       counter: Find; Commit and Delete
//	sessionkit_store_statements_total{kind="read"|"write"}  counter: the statements that served them
//	sessionkit_store_errors_total{op="find"|"commit"|"delete"}  counter: calls that returned an error
//	sessionkit_store_split_batches_total                    counter: write batches split to isolate a refused session
//	sessionkit_store_touches_total{outcome="skipped"|"written"}  counter: commits that only moved the expiry
//	sessionkit_store_unreadable_sessions_total              counter: stored sessions that could not be read, treated as missing
//	sessionkit_store_tokens_upgraded_total                  counter: sessions moved from a plain token to its hash
//
// Calls per statement is the mean batch size: for the last five minutes,
//
//	rate(sessionkit_store_calls_total[5m]) / rate(sessionkit_store_statements_total[5m])
//
// The store keeps no distribution of batch sizes, so there is no histogram.
// An error counted under op="find" or op="commit" is also a 500 from the
// middleware; the errors include queries that hit SESSION_DB_QUERY_TIMEOUT
// and requests whose client went away.
//
// The background cleanup of expired sessions:
//
//	sessionkit_cleanup_passes_total                 counter: passes that ran to the end or to an error
//	sessionkit_cleanup_passes_skipped_total         counter: passes skipped, another replica held the lock
//	sessionkit_cleanup_errors_total                 counter: passes that ended in an error
//	sessionkit_cleanup_rows_deleted_total           counter: expired sessions deleted
//	sessionkit_cleanup_statements_total             counter: DELETE statements
//	sessionkit_cleanup_last_start_timestamp_seconds gauge: start of the last pass (Unix time), 0 before the first
//	sessionkit_cleanup_last_duration_seconds        gauge: duration of the last pass
//	sessionkit_cleanup_last_pass_failed             gauge: 1 if the last pass ended in an error
//
// Each replica counts its own passes; across replicas, passes plus skipped
// passes grow by about one per replica per SESSION_CLEANUP_INTERVAL, and a
// cleanup that stopped shows as
//
//	time() - max(sessionkit_cleanup_last_start_timestamp_seconds) > 3 * <interval>
//
// The middleware:
//
//	sessionkit_requests_in_flight  gauge: requests inside Kit.Middleware
//
// A value of sessionkit_requests_in_flight that climbs while traffic does
// not means requests wait on the database.
package sessionkitprom
