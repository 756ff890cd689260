package mysql

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"sync"
)

// The request's record. In a context of WithRequest the store keeps, in the
// request's Request: what each Find read (for touch
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

// Request is the record of one HTTP request, which a middleware that runs
// before scs's LoadAndSave fills and passes to the store in the request's
// context (WithRequest): what the request is (its client, its cookie), and
// what happens to its session (what each Find found, and, just before scs
// commits, what the handler changed: see Saving). sessionkit's
// Kit.Middleware makes one for every request. The store keeps the rest of
// it: which sessions the request found or wrote, and which of them ended
// while it ran.
type Request struct {
	// IP is the client's address, without a port, and UserAgent its
	// User-Agent header, as the client sent it: the store records them with
	// a session bound to a user (see Sessions). It fits both to their
	// columns: it trims spaces, replaces bytes that are not UTF-8 in the
	// user agent (a header may carry any byte) and cuts both to size.
	IP, UserAgent string

	// PlainToken is the session's token as the client sent it (the
	// cookie's value), so that a Find of its hash that misses can upgrade
	// a session stored under the plain token (see
	// Config.UpgradePlainTokens). The store ignores it otherwise.
	PlainToken string

	mu      sync.Mutex
	seen    map[string]seen   // what Find read, for touch coalescing
	found   map[string]bool   // found or written: a Commit is an update
	gone    map[string]bool   // ended while the request ran: never written again
	deleted map[string]bool   // deleted by this request
	lost    bool              // a session the request found was ended by another
	retired string            // a session the request found and deleted: a renewal's source
	login   bool              // MarkLogin: the renewal is written even if its old session ended
	ended   bool              // the last Commit wrote nothing: its session ended
	skipped bool              // the last Commit wrote nothing: unchanged, expiry moved little
	save    *Save             // what Saving said of the next Commit
	sums    map[string]string // MD5 of each session's stored data, as read or written
	// iterated maps the hash of each stored token that All returned to it:
	// scs's Iterate gives the stored token to its session, and with
	// HashTokenInStore its Commit hashes it again.
	iterated map[string]string
}

// Save is what a middleware knows of the Commit that scs is about to make
// for the request, read from scs itself just before it commits: inside
// LoadAndSave, when the handler first writes the response's header, or
// after it returns. Then the store needs no decoding of the session's data
// to learn either.
type Save struct {
	// User is the user the session is bound to (the string under UserKey;
	// empty for none).
	User string
	// Changed says that the session's values or deadline differ from
	// those the request loaded. A Commit of an unchanged session is an
	// expiry-only write, or none (see Config.TouchInterval).
	Changed bool
	// Merge, if set, applies the request's changes (the keys it put or
	// removed, and its deadline if it moved it) to stored, the session as
	// another request saved it since this request read it, and returns the
	// merged session and the user it is bound to. With it, a Commit of a
	// session the request found is written only over the data the request
	// read; when another request saved the session meanwhile, the store
	// reads it again and writes the merge instead (see the package docs).
	Merge func(stored []byte) (merged []byte, user string, err error)
	// New says that the session has no token yet: a new one, or one the
	// handler put something into after scs's Destroy ended the one the
	// request had. It carries nothing of the session the request found,
	// so it is stored as a new session, not as a renewal of that one.
	New bool
}

type requestKey struct{}

// WithRequest returns a context for one request's session calls that
// carries r, or a new Request if r is nil. Add it in a middleware that
// runs before scs's LoadAndSave; sessionkit's Kit.Middleware does.
func WithRequest(ctx context.Context, r *Request) context.Context {
	if r == nil {
		r = &Request{}
	}
	return context.WithValue(ctx, requestKey{}, r)
}

// Saving records what the request's next Commit saves (see Save). Call it
// just before scs commits the session; a Commit made without it (a
// handler's own Manager.Commit) is read from its data, as by a store used
// without a Request.
func (r *Request) Saving(s Save) {
	r.mu.Lock()
	r.save = &s
	r.mu.Unlock()
}

// takeSave returns what Saving said of this Commit, once.
func takeSave(ctx context.Context) (Save, bool) {
	m, ok := recordOf(ctx)
	if !ok {
		return Save{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.save == nil {
		return Save{}, false
	}
	s := *m.save
	m.save = nil
	return s, true
}

// recordOf returns the request's record in ctx, its maps made.
func recordOf(ctx context.Context) (*Request, bool) {
	m, ok := ctx.Value(requestKey{}).(*Request)
	if !ok {
		return nil, false
	}
	m.mu.Lock()
	if m.found == nil {
		m.seen, m.found, m.gone, m.deleted = map[string]seen{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		m.sums = map[string]string{}
	}
	m.mu.Unlock()
	return m, true
}

// SessionEnded reports whether the last Commit made in ctx (a context of
// WithRequest, or one derived from it) wrote nothing
// because its session had been deleted or had expired since the request
// found it (revoked, logged out in another tab, removed by cleanup), or
// because it would have carried such a session on under a new token.
// sessionkit's middleware then sends no session cookie.
func SessionEnded(ctx context.Context) bool {
	m, ok := recordOf(ctx)
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
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.login = true
		m.mu.Unlock()
	}
}

// markFound records that the request found token's session, stored as
// stored.
func markFound(ctx context.Context, token string, stored []byte) {
	if m, ok := recordOf(ctx); ok {
		sum := dataSum(stored)
		m.mu.Lock()
		m.found[token] = true
		m.sums[token] = sum
		m.mu.Unlock()
	}
}

// dataSum is what MD5(data) gives for stored on the server.
func dataSum(stored []byte) string {
	sum := md5.Sum(stored)
	return hex.EncodeToString(sum[:])
}

// readSum returns the sum of token's stored data as the request last read
// or wrote it, when the request can merge (see Save.Merge).
func readSum(ctx context.Context, token string, save Save) string {
	m, ok := recordOf(ctx)
	if !ok || save.Merge == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sums[token]
}

// markSum records what the request wrote for token.
func markSum(ctx context.Context, token string, stored []byte) {
	if m, ok := recordOf(ctx); ok {
		sum := dataSum(stored)
		m.mu.Lock()
		m.sums[token] = sum
		m.mu.Unlock()
	}
}

// markWritten records that a Commit wrote token's session: its next Commit
// is an update, and the request's last Commit did not end.
func markWritten(ctx context.Context, token string) {
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.found[token] = true
		m.ended = false
		m.mu.Unlock()
	}
}

// markEnded records that a Commit wrote nothing for token: its session
// ended while the request ran, or would have carried on one that did.
func markEnded(ctx context.Context, token string) {
	if m, ok := recordOf(ctx); ok {
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
func commitMode(ctx context.Context, token string, save Save) (kind opKind, from string, login bool) {
	m, ok := recordOf(ctx)
	if !ok {
		return opCommit, "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.gone[token], m.lost && !m.found[token] && !m.login && !save.New:
		return opDelete, "", false
	case m.found[token]:
		return opUpdate, "", false
	case m.retired != "" && !save.New:
		// A login's session is written even when the one it renews has
		// ended meanwhile: its user has just proved who they are.
		return opRenew, m.retired, m.login
	}
	return opCommit, "", false
}

// Skipped reports whether the request's last Commit wrote nothing because
// its session had not changed and its expiry had moved by less than
// Config.TouchInterval. The stored expiry is then within TouchInterval of
// the one the client's cookie carries when the client sent the session's
// own cookie, so sessionkit's middleware sends no session cookie (unless
// the request came with the legacy cookie, which it replaces): a response
// that only read cannot replace a newer cookie that another of the
// client's requests set meanwhile (a Login in another tab).
func (r *Request) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

// markSkipped records whether the last Commit in ctx was a skipped touch.
func markSkipped(ctx context.Context, skipped bool) {
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.skipped = skipped
		m.mu.Unlock()
	}
}

// markRetired records that the request retired token's session (see
// opRetire): a new token committed next is renewed from it.
func markRetired(ctx context.Context, token string) {
	if m, ok := recordOf(ctx); ok {
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
	m, ok := recordOf(ctx)
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

// markIterated records that All returned token's session, for stored
// under hashed tokens.
func markIterated(ctx context.Context, token string) {
	if m, ok := recordOf(ctx); ok {
		h := HashToken(token)
		m.mu.Lock()
		if m.iterated == nil {
			m.iterated = map[string]string{}
		}
		m.iterated[h] = token
		m.mu.Unlock()
	}
}

// storedToken returns the token a Commit or Delete in ctx is for: the one
// All returned, when token is its hash (scs's Iterate under
// HashTokenInStore), or token.
func storedToken(ctx context.Context, token string) string {
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		if t, ok := m.iterated[token]; ok {
			return t
		}
	}
	return token
}

// renewedFrom returns the session the request in ctx retired and may
// renew.
func renewedFrom(ctx context.Context) string {
	m, ok := recordOf(ctx)
	if !ok {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.retired
}

// markRenewed records that the retired session moved to a new token
// (which markWritten records).
func markRenewed(ctx context.Context) {
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.retired = ""
		m.mu.Unlock()
	}
}

// beforeDelete reports whether a Delete of token in ctx deletes a session
// the request found and has not deleted itself: if no row is deleted, that
// session was ended by another request.
func beforeDelete(ctx context.Context, token string) (foundByRequest bool) {
	m, ok := recordOf(ctx)
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
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.gone[token], m.lost = true, true
		m.mu.Unlock()
	}
}
