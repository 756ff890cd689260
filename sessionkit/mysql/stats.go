package mysql

import (
	"encoding/json"
	"time"
)

// Stats counts what the store has done since it was made: its calls and
// the statements that served them, and its cleanup. Each field's tag is
// its key in JSON (see MarshalJSON), which sessionkit's Kit.Vars and the
// examples' /debug/vars show.
type Stats struct {
	// FindCalls counts calls of Find, CommitCalls calls of Commit and
	// Delete (and their Ctx forms); FindStatements and CommitStatements
	// count the statements that served them (a Delete has one of its
	// own). Fewer statements than calls means calls were batched.
	FindCalls        int64 `json:"find_calls"`
	FindStatements   int64 `json:"find_statements"`
	CommitCalls      int64 `json:"commit_calls"`
	CommitStatements int64 `json:"commit_statements"`
	// SplitBatches counts write batches that the server refused and that
	// were split to find the session it refused.
	SplitBatches int64 `json:"split_batches"`
	// TouchesSkipped counts Commits not written because only the expiry
	// moved, by less than TouchInterval; TouchesWritten those written as an
	// expiry-only UPDATE.
	TouchesSkipped int64 `json:"touches_skipped"`
	TouchesWritten int64 `json:"touches_written"`
	// FindErrors, CommitErrors and DeleteErrors count the calls of Find,
	// Commit and Delete (and their Ctx forms) that returned an error,
	// whatever its cause: the server, the query timeout, the caller's
	// context, ErrTooLarge or ErrClosed.
	FindErrors   int64 `json:"find_errors"`
	CommitErrors int64 `json:"commit_errors"`
	DeleteErrors int64 `json:"delete_errors"`
	// UnreadableSessions counts stored sessions that Find and All could not
	// read, and treated as missing: encrypted with a key no longer
	// configured, altered, or copied under another token (see
	// Config.EncryptionKeys). TokensUpgraded counts sessions moved from a
	// plain token to its hash on first use (Config.UpgradePlainTokens).
	UnreadableSessions int64 `json:"unreadable_sessions"`
	TokensUpgraded     int64 `json:"tokens_upgraded"`

	// CleanupPasses counts the background cleanup's passes that ran to the
	// end or to an error; CleanupErrors those that ended in an error, and
	// CleanupSkipped those skipped because another replica held the
	// cleanup lock.
	CleanupPasses  int64 `json:"cleanup_passes"`
	CleanupErrors  int64 `json:"cleanup_errors"`
	CleanupSkipped int64 `json:"cleanup_skipped"`
	// CleanupRowsDeleted counts the expired sessions deleted by the
	// background cleanup and by DeleteExpired, in CleanupStatements DELETE
	// statements of at most CleanupBatchSize rows each.
	CleanupRowsDeleted int64 `json:"cleanup_rows_deleted"`
	CleanupStatements  int64 `json:"cleanup_statements"`
	// CleanupLastStart, CleanupLastDuration and CleanupLastError describe
	// the background cleanup's most recent pass that ran: when it started
	// (zero before the first), how long it took, and its error (nil when
	// it succeeded).
	CleanupLastStart    time.Time     `json:"cleanup_last_start"`
	CleanupLastDuration time.Duration `json:"cleanup_last_duration_seconds"`
	CleanupLastError    error         `json:"cleanup_last_error"`
}

// MarshalJSON encodes st as one object, each field under the key its tag
// names: the counters as numbers, CleanupLastStart as an RFC 3339 time in
// UTC ("" before the first pass), CleanupLastDuration as seconds, and
// CleanupLastError as its message ("" when the pass succeeded).
func (st Stats) MarshalJSON() ([]byte, error) {
	type counters Stats // Stats without this method, so that Marshal does not come back here
	var start, lastErr string
	if !st.CleanupLastStart.IsZero() {
		start = st.CleanupLastStart.UTC().Format(time.RFC3339Nano)
	}
	if st.CleanupLastError != nil {
		lastErr = st.CleanupLastError.Error()
	}
	return json.Marshal(struct {
		counters
		// These take the keys of the fields they stand for, which Marshal
		// would write as a time in its own zone, nanoseconds and {}: the
		// outer field wins.
		CleanupLastStart    string  `json:"cleanup_last_start"`
		CleanupLastDuration float64 `json:"cleanup_last_duration_seconds"`
		CleanupLastError    string  `json:"cleanup_last_error"`
	}{counters(st), start, st.CleanupLastDuration.Seconds(), lastErr})
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.cleanup.mu.Lock()
	st := s.cleanup.stats
	s.cleanup.mu.Unlock()
	st.FindCalls, st.FindStatements = s.reads.counts()
	st.CommitCalls, st.CommitStatements = s.writes.counts()
	st.SplitBatches = s.splits.Load()
	st.TouchesSkipped, st.TouchesWritten = s.touchesSkipped.Load(), s.touchesWritten.Load()
	st.FindErrors, st.CommitErrors, st.DeleteErrors = s.findErrors.Load(), s.commitErrors.Load(), s.deleteErrors.Load()
	st.UnreadableSessions, st.TokensUpgraded = s.unreadableRows.Load(), s.tokensUpgraded.Load()
	return st
}
