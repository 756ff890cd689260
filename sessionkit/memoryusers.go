package sessionkit

import (
	"bytes"
	"context"
	"slices"
	"strings"

	"github.com/alexedwards/scs/v2"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// memoryUsers finds the sessions of a user in scs's memory store
// (SESSION_STORE=memory, for development): it has no index and records
// nothing about a session, so each call decodes every session to find the
// user's, and a Session has only its ID.
type memoryUsers struct {
	store interface {
		scs.Store
		scs.IterableStore
	}
	codec scs.Codec
}

// tokens returns the stored tokens of the unexpired sessions bound to
// userID.
func (m memoryUsers) tokens(userID string) ([]string, error) {
	all, err := m.store.All()
	if err != nil {
		return nil, err
	}
	var tokens []string
	for token, data := range all {
		if !bytes.Contains(data, []byte(sessionmysql.UserKey)) {
			continue // not bound to a user: no need to decode it
		}
		_, values, err := m.codec.Decode(data)
		if err != nil {
			continue
		}
		if user, _ := values[sessionmysql.UserKey].(string); user == userID {
			tokens = append(tokens, token)
		}
	}
	return tokens, nil
}

// Sessions lists the user's sessions, in the order of their IDs.
func (m memoryUsers) Sessions(_ context.Context, userID string) ([]sessionmysql.Session, error) {
	tokens, err := m.tokens(userID)
	if err != nil {
		return nil, err
	}
	list := make([]sessionmysql.Session, 0, len(tokens))
	for _, token := range tokens {
		list = append(list, sessionmysql.Session{ID: sessionmysql.SessionID(token)})
	}
	slices.SortFunc(list, func(a, b sessionmysql.Session) int { return strings.Compare(a.ID, b.ID) })
	return list, nil
}

// Revoke deletes the user's session with this ID, or returns ErrNoSession.
func (m memoryUsers) Revoke(_ context.Context, userID, id string) error {
	tokens, err := m.tokens(userID)
	if err != nil {
		return err
	}
	for _, token := range tokens {
		if sessionmysql.SessionID(token) == id {
			return m.store.Delete(token)
		}
	}
	return ErrNoSession
}

// RevokeUser deletes the user's sessions but keep.
func (m memoryUsers) RevokeUser(_ context.Context, userID, keep string) (int, error) {
	tokens, err := m.tokens(userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, token := range tokens {
		if token == keep {
			continue
		}
		if err := m.store.Delete(token); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
