package mysql

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/internal/clip"
)

// Sessions of a user. A table with the user columns (CreateTable makes
// them; the ALTER TABLE that CheckUsers returns adds them to an older
// table) records, for each
// session bound to a user, the user's ID, when the session was created and
// last seen, and the IP address and user agent of its last request, so that
// a user can see and end their sessions. A session is bound to a user by the
// value UserKey in its data (sessionkit's Kit.Login puts it there); sessions
// without it (anonymous ones, and rows written by scs's mysqlstore or an
// earlier version) record no user, address or user agent, only when they
// were created and last written, and cost nothing extra.

// UserKey is the session value, a string, that binds a session to a user.
const UserKey = "sessionkit.user"

// userColumns are the optional columns, in the order the store writes them.
var userColumns = []string{"user_id", "created", "last_seen", "ip", "user_agent"}

// Sizes of the user columns. A user ID must fit (see CheckUserID); the
// address and the user agent are cut to fit.
const (
	maxUserID    = 255
	maxIP        = 45 // an IPv6 address in text
	maxUserAgent = 255
)

// lastSeenEvery is how often a session's last_seen is written at most.
const lastSeenEvery = time.Minute

// ErrNoUsers matches the error of Sessions, Revoke and RevokeUser on a table
// without the user columns; the error is a *UsersMissingError, which says
// how to add them.
var ErrNoUsers = errors.New("sessionkit/mysql: the session table has no user columns")

// ErrNoSession is returned by Revoke when the user has no session with that
// ID (it belongs to another user, or has ended already).
var ErrNoSession = errors.New("sessionkit/mysql: no such session for this user")

// UsersMissingError says how to add the user columns to a table.
type UsersMissingError struct {
	Table          string // quoted
	AlterStatement string // adds the columns and the index, ready to paste
}

func (e *UsersMissingError) Error() string {
	return fmt.Sprintf("sessionkit/mysql: session table %s has no user columns; add them with:\n%s", e.Table, e.AlterStatement)
}

// Is makes errors.Is(err, ErrNoUsers) hold.
func (e *UsersMissingError) Is(target error) bool { return target == ErrNoUsers }

// Session is one session of a user, as Sessions lists it (and
// sessionkit's Kit.Sessions, whose Session it is).
type Session struct {
	// ID names the session for Revoke. It is derived from the stored token
	// by a one-way hash: it is neither the token nor what the table stores,
	// and cannot be turned into either, so a page may show it and a form
	// send it back.
	ID string
	// Created is when the session was first saved bound to a user; zero
	// when not recorded (sessionkit's memory store records none of these
	// four).
	Created time.Time
	// LastSeen is when the session was last used, to within a minute: the
	// store writes it at most once a minute.
	LastSeen time.Time
	// IP and UserAgent are the client's address and User-Agent header as of
	// LastSeen (see Request); empty when not recorded.
	IP        string
	UserAgent string
	// Current marks the session of the request that asks. Only sessionkit's
	// Kit.Sessions knows which that is, and sets it; the store leaves it
	// false.
	Current bool
}

// SessionID returns the ID of the session stored under storedToken (the
// token, or its hash when scs's HashTokenInStore is on), as Sessions
// reports it.
func SessionID(storedToken string) string {
	h := sha256.Sum256([]byte("sessionkit session id\x00" + storedToken))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// userOf returns the user a session's data binds it to, for a Commit that
// no middleware described (see Save): data that does not hold UserKey is
// not decoded; other data is decoded by scs's GobCodec.
func userOf(data []byte) string {
	if !bytes.Contains(data, []byte(UserKey)) {
		return ""
	}
	_, values, err := scs.GobCodec{}.Decode(data)
	if err != nil {
		return ""
	}
	user, _ := values[UserKey].(string)
	if CheckUserID(user) != nil {
		return "" // the columns cannot keep it apart from another user: bound to none
	}
	return user
}

// usersState is what the store knows of the user columns.
type usersState struct {
	known atomic.Bool // the table's columns have been read
	has   atomic.Bool // all user columns are there
}

// hasUsers reports whether the table has the user columns, reading the
// table's columns on first use.
func (s *Store) hasUsers(ctx context.Context) (bool, error) {
	if !s.users.known.Load() {
		if _, err := s.readCapacity(ctx); err != nil {
			return false, err
		}
	}
	return s.users.has.Load(), nil
}

// CheckUsers reports whether the session table has the user columns,
// which Sessions, Revoke and RevokeUser need: nil when it has them; when it
// has not, a *UsersMissingError (matching ErrNoUsers) whose AlterStatement
// adds them to a table made by scs's mysqlstore or by an earlier version;
// or the error that kept the store from reading the table's columns. The
// answer is read once, on first use: run the ALTER TABLE, then restart the
// services, since a running store keeps the statements it prepared for the
// table as it was.
func (s *Store) CheckUsers(ctx context.Context) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	ok, err := s.hasUsers(ctx)
	if err != nil {
		return s.wrap("reading the table's columns", err)
	}
	if !ok {
		return s.noUsers()
	}
	return nil
}

func (s *Store) noUsers() error {
	return &UsersMissingError{Table: s.table.quoted, AlterStatement: s.q.usersAlter + ";"}
}

// Sessions returns the unexpired sessions bound to userID, most recently
// seen first, with one indexed query. On a table without the user columns
// it returns an error matching ErrNoUsers.
func (s *Store) Sessions(ctx context.Context, userID string) ([]Session, error) {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	if err := CheckUserID(userID); err != nil {
		return nil, err
	}
	if ok, err := s.hasUsers(ctx); err != nil {
		return nil, s.wrap("listing sessions", err)
	} else if !ok {
		return nil, s.noUsers()
	}
	if err := s.checkCluster(ctx); err != nil {
		return nil, s.wrap("listing sessions", err)
	}
	rows, err := s.db.QueryContext(ctx, causalRead(dialect(s.dialect.Load()), s.causalReads(), s.q.userSessions), userID, userID)
	if err != nil {
		return nil, s.wrap("listing sessions", err)
	}
	defer rows.Close()
	var list []Session
	for rows.Next() {
		var token string
		var created, seen, ip, agent *string
		if err := rows.Scan(&token, &created, &seen, &ip, &agent); err != nil {
			return nil, s.wrap("listing sessions", err)
		}
		list = append(list, Session{ID: SessionID(token), Created: parseExpiry(created), LastSeen: parseExpiry(seen),
			IP: deref(ip), UserAgent: deref(agent)})
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("listing sessions", err)
	}
	return list, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseExpiry reads a time the store formatted as text; nil or bad is zero.
func parseExpiry(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(expiryLayout, *s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// userRow is one row of a user: a session, or a retired one (see
// request.go) that has expired.
type userRow struct {
	token string
	live  bool // not expired, or retired a moment ago
}

// userRows lists userID's rows, retired ones included: deleting a retired
// row ends the renewal that may be under way from it.
func (s *Store) userRows(ctx context.Context, userID string) ([]userRow, error) {
	if err := s.checkUserRows(ctx, userID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q.userRows(dialect(s.dialect.Load()), s.causalReads(), false), userID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []userRow
	for rows.Next() {
		var r userRow
		if err := rows.Scan(&r.token, &r.live); err != nil {
			return nil, err
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// Revoke ends the session with this ID if it is bound to userID; otherwise
// it changes nothing and returns ErrNoSession. Like Delete, it runs after
// every earlier write of that session made through this store. A renewal
// of the session under way (scs's RenewToken) ends with it.
func (s *Store) Revoke(ctx context.Context, userID, id string) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	rows, err := s.userRows(ctx, userID)
	if err != nil {
		return s.wrapUsers("revoking a session", err)
	}
	for _, r := range rows {
		if SessionID(r.token) == id {
			// A retired row (expired now, see request.go) is deleted too,
			// which ends a renewal under way from it; but it is no
			// session.
			if _, err := s.remove(ctx, r.token, false); err != nil || !r.live {
				return cmp.Or(err, ErrNoSession)
			}
			return nil
		}
	}
	return ErrNoSession
}

// RevokeUser ends every session bound to userID but the one stored under
// keepStoredToken (the token, or its hash with HashTokenInStore; empty
// keeps none), and returns how many it ended: "log out everywhere else",
// or everywhere after a password change. It lists and deletes the user's
// rows in one transaction, with a locking read, so that no renewal under
// way (scs's RenewToken: see the package docs) can move a session of the
// user to a new token in between: either the renewal is written first and
// its new token is deleted, or the renewal finds its session gone. With a
// keepStoredToken, a session the request in ctx is renewing (the one it
// found before its RenewToken) is kept too: it is the request's own.
func (s *Store) RevokeUser(ctx context.Context, userID, keepStoredToken string) (int, error) {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	keep := func(token string) bool {
		return token == keepStoredToken || (keepStoredToken != "" && token == renewedFrom(ctx))
	}
	var ended []userRow
	err := s.checkUserRows(ctx, userID)
	// Its locks on the user_id index meet other transactions' (other
	// revocations, renewals, on a cluster other nodes' writes): a deadlock
	// or a certification conflict is tried again, more often than a
	// session's write, after a short random pause.
	for attempt := 0; err == nil; attempt++ {
		ended, err = s.deleteUserRows(ctx, userID, keep)
		if err == nil || !isConflict(err) || attempt == revokeRetries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 4)))):
			err = nil
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		return 0, s.wrapUsers("revoking sessions", err)
	}
	n := 0
	for _, r := range ended {
		s.forget(ctx, r.token)
		if beforeDelete(ctx, r.token) {
			markLost(ctx, r.token) // the request's own session: not written again
		}
		if r.live {
			n++
		}
	}
	return n, nil
}

// checkUserRows checks userID and that the table has the user columns, and
// learns whether the server is a cluster node (for causal reads).
func (s *Store) checkUserRows(ctx context.Context, userID string) error {
	if err := CheckUserID(userID); err != nil {
		return err
	}
	if ok, err := s.hasUsers(ctx); err != nil {
		return err
	} else if !ok {
		return s.noUsers()
	}
	return s.checkCluster(ctx)
}

// deleteUserRows deletes userID's rows but those keep keeps, in one
// transaction, and returns them. The locking read is repeated after each
// deletion until it finds nothing more: a row another transaction inserted
// while the read waited for a lock (a renewal's new token) may lie where the
// read had passed, and the repeated read, which holds its locks, sees it.
func (s *Store) deleteUserRows(ctx context.Context, userID string, keep func(string) bool) ([]userRow, error) {
	if s.causalReads() {
		// On a cluster node, wait until the node has applied what the
		// cluster committed (the causal read does), so that the locking
		// read below sees it.
		if _, err := s.userRows(ctx, userID); err != nil {
			return nil, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, or on an error already returned
	var ended []userRow
	for range revokeRounds {
		found, err := s.lockUserRows(ctx, tx, userID, keep)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			break
		}
		for chunk := range slices.Chunk(found, 500) {
			args := make([]any, 0, 2*len(chunk))
			for range 2 {
				for _, r := range chunk {
					args = append(args, r.token)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q.deleteTokens(len(chunk)), args...); err != nil {
				return nil, err
			}
		}
		for _, r := range found {
			// A row found again (its deletion had not reached it, as a
			// cluster node may let happen) counts once.
			if !slices.ContainsFunc(ended, func(e userRow) bool { return e.token == r.token }) {
				ended = append(ended, r)
			}
		}
	}
	return ended, tx.Commit()
}

// revokeRounds bounds deleteUserRows' repeated reads, revokeRetries
// RevokeUser's attempts after a conflict.
const (
	revokeRounds  = 10
	revokeRetries = 10
)

// lockUserRows reads and locks userID's rows but those keep keeps.
func (s *Store) lockUserRows(ctx context.Context, tx *sql.Tx, userID string, keep func(string) bool) ([]userRow, error) {
	rows, err := tx.QueryContext(ctx, s.q.userRows(dialect(s.dialect.Load()), false, true), userID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []userRow
	for rows.Next() {
		var r userRow
		if err := rows.Scan(&r.token, &r.live); err != nil {
			return nil, err
		}
		if !keep(r.token) {
			found = append(found, r)
		}
	}
	return found, rows.Err()
}

// wrapUsers wraps err unless it already says what is wrong.
func (s *Store) wrapUsers(what string, err error) error {
	if errors.Is(err, ErrNoUsers) || errors.Is(err, ErrUserID) {
		return err
	}
	return s.wrap(what, err)
}

// ErrUserID matches the error of CheckUserID, and of the calls that take a
// user ID, for a user ID the store cannot keep apart from another.
var ErrUserID = errors.New("sessionkit/mysql: invalid user ID")

// CheckUserID returns an error matching ErrUserID unless userID is a user
// ID the user_id column keeps exactly: not empty, at most 255 bytes, UTF-8
// (the column is utf8mb4), and not ending in a space (MySQL's collations
// ignore trailing spaces, so "ada " would count as "ada" wherever the
// column is grouped or compared by its collation). Sessions, Revoke and
// RevokeUser refuse such an ID, and a session whose UserKey value is one
// is bound to no user.
func CheckUserID(userID string) error {
	switch {
	case userID == "":
		return fmt.Errorf("%w: empty; want 1 to %d bytes", ErrUserID, maxUserID)
	case len(userID) > maxUserID:
		return fmt.Errorf("%w: %d bytes; want 1 to %d bytes", ErrUserID, len(userID), maxUserID)
	case !utf8.ValidString(userID):
		return fmt.Errorf("%w: not UTF-8", ErrUserID)
	case strings.HasSuffix(userID, " "):
		return fmt.Errorf("%w: ends in a space, which MySQL ignores when it compares", ErrUserID)
	}
	return nil
}

// seenStale updates last_seen (and the request's IP and user agent) of a
// session bound to a user whose last_seen is older than lastSeenEvery: a
// read does not otherwise write. Errors are logged, not returned: the read
// has succeeded.
func (s *Store) seenStale(ctx context.Context, token string) {
	ip, agent := requestArgs(ctx)
	stmt, err := s.prepare(ctx, &s.seenStmt)
	if err == nil {
		_, err = stmt.ExecContext(ctx, ip, agent, token, token)
	}
	if err != nil && ctx.Err() == nil {
		s.log().Debug("sessionkit/mysql: updating last_seen", "table", s.table.quoted, "err", err)
	}
}

// nullable is nil for an empty string, so that COALESCE keeps what is stored.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// userArgs are a commit's values for the user columns: NULLs for a session
// bound to no user. The user is what the middleware said (see Save), or
// read from data.
func userArgs(ctx context.Context, data []byte, save Save, described bool) (user, ip, agent any) {
	u := save.User
	if !described {
		u = userOf(data)
	} else if CheckUserID(u) != nil {
		u = ""
	}
	if u == "" {
		return nil, nil, nil
	}
	ip, agent = requestArgs(ctx)
	return u, ip, agent
}

// requestArgs are the request's IP address and user agent as the columns
// take them: cut to size, a user agent that is not UTF-8 (an HTTP header
// may carry any byte) repaired, empty ones NULL.
func requestArgs(ctx context.Context) (ip, agent any) {
	r, ok := ctx.Value(requestKey{}).(*Request)
	if !ok {
		return nil, nil
	}
	ua := strings.TrimSpace(strings.ToValidUTF8(r.UserAgent, "\uFFFD"))
	return nullable(clip.Prefix(strings.TrimSpace(r.IP), maxIP)), nullable(clip.Prefix(ua, maxUserAgent))
}
