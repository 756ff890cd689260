package mysql

import (
	"bytes"
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Touch coalescing. With an idle timeout, scs commits every session on every
// request so that its expiry moves, even when nothing in it changed: every
// read becomes a rewrite of the row. With Config.TouchInterval set, a Commit
// whose session holds what was last read or written for its token is not
// written while its expiry moves by less than the interval, and is written
// as an expiry-only UPDATE once it has moved further. So the stored expiry
// is early by at most TouchInterval, never late, and a request that changed
// nothing cannot overwrite a change another request just saved.
//
// What was read is remembered per request when the context carries a
// Request (sessionkit's middleware adds one), which is exact: whether the
// session changed is what the middleware read from scs just before it
// committed (see Save). Without a Request the store remembers the last read
// or write of up to touchMemory tokens, which saves the same writes between
// sequential requests, and compares a Commit's data with it: equal bytes,
// or else both decoded by scs's GobCodec (whose encoding of a map orders
// its keys at random), which costs two decodings per Commit.

// touchMemory is how many tokens the store remembers without a Request.
const touchMemory = 10000

// seen is what the store last read or wrote for a token.
type seen struct {
	data   []byte
	expiry time.Time // as stored
}

// touches remembers, without a Request, the last read or write of a bounded
// number of tokens.
type touches struct {
	mu   sync.Mutex
	seen map[string]seen
}

func (t *touches) get(token string) (seen, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.seen[token]
	return v, ok
}

func (t *touches) put(token string, v seen) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen = make(map[string]seen)
	}
	if _, ok := t.seen[token]; !ok && len(t.seen) >= touchMemory {
		for k := range t.seen { // map order is random: evict one at random
			delete(t.seen, k)
			break
		}
	}
	t.seen[token] = v
}

func (t *touches) forget(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.seen, token)
}

// remember records what was read or written for token.
func (s *Store) remember(ctx context.Context, token string, data []byte, expiry time.Time) {
	if s.cfg.TouchInterval <= 0 {
		return
	}
	data = bytes.Clone(data) // the caller may reuse its buffer
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		m.seen[token] = seen{data: data, expiry: expiry}
		m.mu.Unlock()
		return
	}
	s.touches.put(token, seen{data: data, expiry: expiry})
}

func (s *Store) forget(ctx context.Context, token string) {
	if s.cfg.TouchInterval <= 0 {
		return
	}
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		delete(m.seen, token)
		m.mu.Unlock()
	}
	s.touches.forget(token)
}

func (s *Store) recall(ctx context.Context, token string) (seen, bool) {
	if m, ok := recordOf(ctx); ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		v, ok := m.seen[token]
		return v, ok
	}
	return s.touches.get(token)
}

// touchKind says how a Commit of data with expiry is to be written.
type touchKind int

const (
	writeAll    touchKind = iota // the session changed, or nothing is known of it
	skipTouch                    // unchanged, expiry moved by less than TouchInterval
	writeExpiry                  // unchanged, expiry moved further: expiry only
)

// touchKind says how a Commit is written. Whether the session changed is
// what the middleware said (see Save), or else found by comparing data with
// what was last read or written.
func (s *Store) touchKind(ctx context.Context, token string, data []byte, expiry time.Time, save Save, described bool) touchKind {
	if s.cfg.TouchInterval <= 0 || (described && save.Changed) {
		return writeAll
	}
	last, ok := s.recall(ctx, token)
	if !ok || expiry.Before(last.expiry) || (!described && !sameSession(last.data, data)) {
		return writeAll
	}
	if expiry.Sub(last.expiry) < s.cfg.TouchInterval {
		return skipTouch
	}
	return writeExpiry
}

// sameSession reports whether two encodings hold the same deadline and
// values, for a Commit that no middleware described (see Save). scs's GobCodec encodes a map, whose order is random, so equal
// sessions of two or more values may differ byte for byte: those are
// decoded and compared. Data that scs's codec cannot decode (another codec)
// counts as the same only when it is equal byte for byte.
func sameSession(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var codec scs.GobCodec
	da, va, err := codec.Decode(a)
	if err != nil {
		return false
	}
	db, vb, err := codec.Decode(b)
	if err != nil {
		return false
	}
	return da.Equal(db) && reflect.DeepEqual(va, vb)
}
