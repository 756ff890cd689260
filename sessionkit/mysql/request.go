package mysql

import (
	"context"
	"sync"
)

// The request's record. In a context of WithRequest (or WithReadMemo) the
// store keeps one memo per request: what each Find read (for touch
// coalescing), which sessions the request found or wrote, and which of them
// ended while it ran. From it follow the rules that keep an ended session
// ended:
//   - a Commit of a session the request found or wrote is an update, never
//     an insert (see Store.update);
//   - a session a Commit or a Delete found ended is never written again in
//     this request (scs commits again after a handler's own
//     Manager.Commit);
//   - once a session the request found has ended, no new session is
//     inserted in this request (scs's RenewToken would otherwise carry the
//     ended session's values, its user included, to a new token), unless
//     the request logs a user in (MarkLogin): the user has just proved who
//     they are;
//   - a Delete of a session the request found (scs's RenewToken and
//     Destroy) retires its row instead: it expires it now and leaves it
//     for cleanup, bound to its user. A new token committed later in the
//     request (the renewed one) is inserted in one transaction with the
//     deletion of the retired row, and only while that row is still there:
//     whatever ended the session in between (a revocation, which deletes
//     the user's retired rows too, a logout in another tab) ends the
//     renewed one with it. Without the retired row, a revocation running
//     between RenewToken and the request's Commit would find neither
//     token, and the new one would be inserted still bound to the user.

type memoKey struct{}

// memo is one request's record.
type memo struct {
	mu      sync.Mutex
	seen    map[string]seen // what Find read, for touch coalescing
	found   map[string]bool // found or written: a Commit is an update
	gone    map[string]bool // ended while the request ran: never written again
	deleted map[string]bool // deleted by this request
	lost    bool            // a session the request found was ended by another
	retired string          // a session the request found and deleted: a renewal's source
	login   bool            // MarkLogin: a new session may follow a lost one
	ended   bool            // the last Commit wrote nothing: its session ended
}

// WithReadMemo returns a context in which the store keeps the record of one
// request: what each Find read, so that its Commit can tell whether the
// session changed (see Config.TouchInterval), and which sessions it found,
// so that a session ended meanwhile stays ended (see the package docs).
// Add it in a middleware that runs before scs's LoadAndSave; sessionkit's
// Kit.Middleware does, through WithRequest.
func WithReadMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{seen: map[string]seen{}, found: map[string]bool{},
		gone: map[string]bool{}, deleted: map[string]bool{}})
}

func memoOf(ctx context.Context) (*memo, bool) {
	m, ok := ctx.Value(memoKey{}).(*memo)
	return m, ok
}

// SessionEnded reports whether the last Commit made in ctx (a context of
// WithRequest or WithReadMemo, or one derived from it) wrote nothing
// because its session had been deleted or had expired since the request
// found it (revoked, logged out in another tab, removed by cleanup), or
// because it would have carried such a session on under a new token.
// sessionkit's middleware then sends no session cookie.
func SessionEnded(ctx context.Context) bool {
	m, ok := memoOf(ctx)
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}

// MarkLogin tells the store that the request in ctx logs a user in: its
// next new session is stored even when the session it replaces ended while
// the request ran. sessionkit's Kit.Login calls it.
func MarkLogin(ctx context.Context) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.login = true
		m.mu.Unlock()
	}
}

// markFound records that the request found token's session.
func markFound(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.found[token] = true
		m.mu.Unlock()
	}
}

// markWritten records that a Commit wrote token's session: its next Commit
// is an update, and the request's last Commit did not end.
func markWritten(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.found[token] = true
		m.ended = false
		m.mu.Unlock()
	}
}

// markEnded records that a Commit wrote nothing for token: its session
// ended while the request ran, or would have carried on one that did.
func markEnded(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.gone[token], m.ended = true, true
		if m.found[token] {
			m.lost = true
		}
		m.mu.Unlock()
	}
}

// commitMode says how a Commit of token in ctx is written: not at all
// (opDelete, as a marker) for a session that ended in this request or that
// would carry on one that did; an update for a session the request found
// or wrote; a renewal from the retired token (opRenew, from) for a new
// token after the request retired the session it found, unless it logs a
// user in; an upsert for any other (a new session, a login's token, and
// every session of a store used without a request's record, as with scs's
// stores).
func commitMode(ctx context.Context, token string) (kind opKind, from string) {
	m, ok := memoOf(ctx)
	if !ok {
		return opCommit, ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.gone[token], m.lost && !m.found[token] && !m.login:
		return opDelete, ""
	case m.found[token]:
		return opUpdate, ""
	case m.retired != "" && !m.login:
		return opRenew, m.retired
	}
	return opCommit, ""
}

// markRetired records that the request retired token's session (see
// opRetire): a new token committed next is renewed from it.
func markRetired(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.retired = token
		m.mu.Unlock()
	}
}

// FinishRequest deletes the row of a session that the request in ctx
// retired (scs's Destroy, or a RenewToken whose new token was not saved)
// and did not renew: with the session saved, no renewal can follow. Call
// it once the request's session is saved; sessionkit's middleware calls it
// just before the response's header is sent. A retired row is no session
// already (it has expired), so a call left out only leaves the row to
// cleanup.
func (s *Store) FinishRequest(ctx context.Context) error {
	m, ok := memoOf(ctx)
	if !ok {
		return nil
	}
	m.mu.Lock()
	token := m.retired
	m.retired = ""
	m.mu.Unlock()
	if token == "" {
		return nil
	}
	_, err := s.remove(ctx, token, false)
	return err
}

// markRenewed records that the retired session moved to token.
func markRenewed(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.retired = ""
		m.found[token] = true
		m.ended = false
		m.mu.Unlock()
	}
}

// beforeDelete reports whether a Delete of token in ctx deletes a session
// the request found and has not deleted itself: if no row is deleted, that
// session was ended by another request.
func beforeDelete(ctx context.Context, token string) (foundByRequest bool) {
	m, ok := memoOf(ctx)
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	foundByRequest = m.found[token] && !m.deleted[token]
	// A later Commit of the token in this request (a handler that revoked
	// its own session without scs's Destroy) is an update of a row that is
	// gone: it writes nothing.
	m.found[token], m.deleted[token] = true, true
	return foundByRequest
}

// markLost records that a session the request found was ended by another
// request before this one deleted it.
func markLost(ctx context.Context, token string) {
	if m, ok := memoOf(ctx); ok {
		m.mu.Lock()
		m.gone[token], m.lost = true, true
		m.mu.Unlock()
	}
}
