package sessionkit

import (
	"bytes"
	"encoding/json"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Stats returns the MySQL store's counters: its calls and statements,
// cleanup passes run and skipped, rows deleted, the last pass's start,
// duration and error (see mysql.Stats). With the memory store they are all
// zero.
func (k *Kit) Stats() sessionmysql.Stats {
	if k.store == nil {
		return sessionmysql.Stats{}
	}
	return k.store.Stats()
}

// InFlight returns the number of requests inside Middleware at this
// moment: their handlers are running or their sessions are being saved. It
// is what Shutdown waits for, and a gauge for a dashboard; a count that
// stays up while traffic is flat means requests are waiting on the
// database.
func (k *Kit) InFlight() int {
	return k.requests.count()
}

// Vars returns Stats as a map ready for encoding/json, for expvar, a log
// line or a metrics exporter: the keys are the JSON keys that mysql.Stats
// names in its field tags (CleanupRowsDeleted is "cleanup_rows_deleted"),
// and the values are what mysql.Stats.MarshalJSON writes: counters as
// numbers (json.Number), a duration in seconds under a key ending in
// "_seconds" ("cleanup_last_duration_seconds"), a time an RFC 3339 string
// in UTC, an error its message, and a zero time or a nil error "". Counters
// the store adds show up here with no change.
//
// To serve it at /debug/vars under "sessionkit":
//
//	expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
func (k *Kit) Vars() map[string]any {
	b, err := json.Marshal(k.Stats())
	if err != nil {
		return map[string]any{"error": err.Error()} // not expected: Stats holds numbers and strings
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // counters stay exact, and print as integers
	var vars map[string]any
	if err := dec.Decode(&vars); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return vars
}
