package sessionkit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Sessions of a user. Login binds the request's session to a user; from
// then on the user's sessions can be listed ("your devices") and ended, one,
// all but the current one, or all, from any replica: they are rows of the
// one table, found by its user_id index. A session is bound by the value
// mysql.UserKey in its data; the store records, for such sessions only,
// when they were created and last seen, and the address and user agent of
// their last requests (see clientip.go).

var (
	// ErrNoSession matches the error of Revoke when the user has no session
	// with that ID: it is another user's, or it has ended. It is
	// mysql.ErrNoSession.
	ErrNoSession = sessionmysql.ErrNoSession

	// ErrNoUsers matches the error of Login, Sessions and the Revoke calls
	// on a session table without the user columns (a table made by scs's
	// mysqlstore or by an earlier version). The error is a
	// *mysql.UsersMissingError whose AlterStatement adds them. It is
	// mysql.ErrNoUsers.
	ErrNoUsers = sessionmysql.ErrNoUsers

	// ErrNoRequest is returned by Login and RevokeOthers when ctx is not
	// the context of a request served by Kit.Middleware, so that there is
	// no session to log in or to keep.
	ErrNoRequest = errors.New("sessionkit: the context holds no request's session: pass the context of a request served by Kit.Middleware")

	// ErrNotLoggedIn is returned by RevokeOthers when the request's session
	// is bound to no user.
	ErrNotLoggedIn = errors.New("sessionkit: the session is not logged in")
)

// Session is one session of a user, as Kit.Sessions lists it: the store's
// mysql.Session. IP and UserAgent are empty where SESSION_RECORD_IP or
// SESSION_RECORD_USER_AGENT is off; Current marks the session of the
// request in Kit.Sessions's ctx.
type Session = sessionmysql.Session

// userStore is what the kit needs of a store for the sessions of a user:
// the MySQL store has it, and memoryUsers gives it to scs's memory store.
type userStore interface {
	Sessions(ctx context.Context, userID string) ([]sessionmysql.Session, error)
	Revoke(ctx context.Context, userID, id string) error
	RevokeUser(ctx context.Context, userID, keepStoredToken string) (int, error)
}

// servedBy is the key of a mark that Middleware puts on each request's
// context, so that the kit knows the context holds the request's session
// (scs panics when asked about a context without one).
type servedBy struct{ kit *Kit }

// inRequest reports whether ctx is a request's served by k.Middleware.
func (k *Kit) inRequest(ctx context.Context) bool {
	return ctx.Value(servedBy{k}) != nil
}

// Login binds the session of the request in ctx to userID, after giving it
// a new token (scs's RenewToken): the token the browser had before, which
// may have been planted or seen by someone else, no longer works, and the
// response sets the new one. The session keeps its other values; call
// Manager.Destroy first to start from an empty session. Call it once the
// user has proved who they are, with the context of a request served by
// Middleware.
//
// A user ID is not empty, at most 255 bytes of UTF-8, and does not end in
// a space (MySQL's collations ignore trailing spaces, so "ada " would be
// "ada"): mysql.CheckUserID is the rule, and its error matches
// mysql.ErrUserID. On a table without the user columns Login changes
// nothing and returns an error matching ErrNoUsers that holds the ALTER
// TABLE to run.
func (k *Kit) Login(ctx context.Context, userID string) error {
	if err := sessionmysql.CheckUserID(userID); err != nil {
		return fmt.Errorf("sessionkit: Login: %w", err)
	}
	if !k.inRequest(ctx) {
		return fmt.Errorf("sessionkit: Login: %w", ErrNoRequest)
	}
	if err := k.checkUserColumns(ctx); err != nil {
		return usersError("Login", err)
	}
	// The user has just proved who they are: the new session is stored
	// even if the one it replaces was revoked while this request ran.
	sessionmysql.MarkLogin(ctx)
	if err := k.Manager.RenewToken(ctx); err != nil {
		return fmt.Errorf("sessionkit: Login: %w", err)
	}
	k.Manager.Put(ctx, sessionmysql.UserKey, userID)
	return nil
}

// UserID returns the user that Login bound the session of the request in
// ctx to, or "" when the session is bound to none, or ctx is not the
// context of a request served by Middleware. Manager.Destroy (logging out)
// unbinds it. A mysql.UserKey value put by hand that mysql.CheckUserID
// refuses binds the session to no user, here as in the store.
func (k *Kit) UserID(ctx context.Context) string {
	if !k.inRequest(ctx) {
		return ""
	}
	id := k.Manager.GetString(ctx, sessionmysql.UserKey)
	if sessionmysql.CheckUserID(id) != nil {
		return ""
	}
	return id
}

// Sessions returns the unexpired sessions bound to userID, most recently
// seen first, with one indexed query; Current marks the session of the
// request in ctx, if ctx is a request's. It needs no request: an
// administrator's page may list any user's sessions.
//
// With the memory store (development only) it decodes every session to
// find the user's, and only ID and Current are set.
func (k *Kit) Sessions(ctx context.Context, userID string) ([]Session, error) {
	if err := sessionmysql.CheckUserID(userID); err != nil {
		return nil, fmt.Errorf("sessionkit: Sessions: %w", err)
	}
	list, err := k.users.Sessions(ctx, userID)
	if err != nil {
		return nil, usersError("Sessions", err)
	}
	if current := k.currentID(ctx); current != "" {
		for i := range list {
			list[i].Current = list[i].ID == current
		}
	}
	return list, nil
}

// Revoke ends the session with this ID (a Session.ID) if it is bound to
// userID; otherwise it ends nothing and returns an error matching
// ErrNoSession, so that an ID from another user's list, or a forged one,
// does nothing. The session has no data on its next request, on any
// replica (see "Log out everywhere" in docs/users.md for what that does and
// does not guarantee).
//
// When it is the session of the request in ctx, Revoke ends it as
// Manager.Destroy does: the response expires its cookie, and the end of
// the request does not save it again.
func (k *Kit) Revoke(ctx context.Context, userID, sessionID string) error {
	if err := sessionmysql.CheckUserID(userID); err != nil {
		return fmt.Errorf("sessionkit: Revoke: %w", err)
	}
	if err := k.checkUserColumns(ctx); err != nil {
		return usersError("Revoke", err)
	}
	if id := k.currentID(ctx); id != "" && id == sessionID && k.UserID(ctx) == userID {
		if err := k.Manager.Destroy(ctx); err != nil {
			return fmt.Errorf("sessionkit: Revoke: %w", err)
		}
		return nil
	}
	if err := k.users.Revoke(ctx, userID, sessionID); err != nil {
		return usersError("Revoke", err)
	}
	return nil
}

// RevokeOthers ends every session of the user the request's session is
// bound to but that one ("log out everywhere else"), and returns how many
// it ended. Other users' sessions and anonymous ones are not touched. ctx
// must be the context of a request served by Middleware (ErrNoRequest
// otherwise) whose session is logged in (ErrNotLoggedIn otherwise).
func (k *Kit) RevokeOthers(ctx context.Context) (int, error) {
	if !k.inRequest(ctx) {
		return 0, fmt.Errorf("sessionkit: RevokeOthers: %w", ErrNoRequest)
	}
	userID := k.UserID(ctx)
	if userID == "" {
		return 0, fmt.Errorf("sessionkit: RevokeOthers: %w", ErrNotLoggedIn)
	}
	keep := ""
	if token := k.Manager.Token(ctx); token != "" {
		keep = k.storedToken(token)
	}
	n, err := k.users.RevokeUser(ctx, userID, keep)
	if err != nil {
		return 0, usersError("RevokeOthers", err)
	}
	return n, nil
}

// RevokeAll ends every session bound to userID, for example after a
// password change or when an account is closed, and returns how many it
// ended. It needs no request: a background job or an administrator's
// request can call it. When ctx is a request of one of the user's sessions,
// that session ends too, as with Manager.Destroy (its cookie is expired);
// to stay logged in on this device, use RevokeOthers, or call Login again
// after RevokeAll.
func (k *Kit) RevokeAll(ctx context.Context, userID string) (int, error) {
	if err := sessionmysql.CheckUserID(userID); err != nil {
		return 0, fmt.Errorf("sessionkit: RevokeAll: %w", err)
	}
	n, err := k.users.RevokeUser(ctx, userID, "")
	if err != nil {
		return 0, usersError("RevokeAll", err)
	}
	if k.UserID(ctx) == userID {
		// The request's own session: its row is gone; Destroy keeps the end
		// of the request from saving it again.
		if err := k.Manager.Destroy(ctx); err != nil {
			return n, fmt.Errorf("sessionkit: RevokeAll: %w", err)
		}
	}
	return n, nil
}

// currentID is the Session.ID of the request's session in ctx, or "" when
// ctx holds none or the session has no token yet.
func (k *Kit) currentID(ctx context.Context) string {
	if !k.inRequest(ctx) {
		return ""
	}
	token := k.Manager.Token(ctx)
	if token == "" {
		return ""
	}
	return sessionmysql.SessionID(k.storedToken(token))
}

// storedToken is what the store keeps for a session token: with
// HashTokenInStore (SESSION_HASH_TOKEN) the SHA-256 of the token in
// unpadded base64url, as scs computes it, and otherwise the token.
func (k *Kit) storedToken(token string) string {
	if !k.Manager.HashTokenInStore {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkUserColumns returns an error matching ErrNoUsers when the session
// table lacks the user columns. The store reads the table's columns once,
// and keeps the statements it made for them until a restart, so the answer
// costs a query only the first time; an error of the database is not
// remembered.
func (k *Kit) checkUserColumns(ctx context.Context) error {
	if k.store == nil {
		return nil
	}
	return k.store.CheckUsers(ctx)
}

// usersError is the error of a call about the sessions of a user: the
// call's name and the store's error, with what to do after the ALTER TABLE
// on a table without the user columns.
func usersError(call string, err error) error {
	if errors.Is(err, ErrNoUsers) {
		return fmt.Errorf("sessionkit: %s: %w\nthen restart the service: a running store keeps using the table as it was", call, err)
	}
	return fmt.Errorf("sessionkit: %s: %w", call, err)
}
