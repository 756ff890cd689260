package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// The shape of the data set every store holds.
const (
	// SessionCount is how many sessions each store holds; Find and Commit
	// pick one of them at random.
	SessionCount = 1000
	// SessionSize is the length of each session's data: a few hundred
	// bytes, about what scs's gob codec makes of a user id, a flash message
	// and a CSRF token.
	SessionSize = 320
	// SessionLifetime is how far in the future every expiry lies.
	SessionLifetime = 24 * time.Hour
)

// Sessions is the data set: tokens as scs makes them (32 random bytes,
// base64url without padding: 43 characters) and random data for each.
type Sessions struct {
	Tokens []string
	Data   [][]byte
}

// NewSessions returns n sessions of size bytes of data each.
func NewSessions(n, size int) Sessions {
	s := Sessions{Tokens: make([]string, n), Data: make([][]byte, n)}
	for i := range n {
		var b [32]byte
		rand.Read(b[:])
		s.Tokens[i] = base64.RawURLEncoding.EncodeToString(b[:])
		s.Data[i] = make([]byte, size)
		rand.Read(s.Data[i])
	}
	return s
}

// Op is one store operation as the benchmark calls it, over and over, from
// one or many goroutines at once.
type Op func() error

// Find returns an Op that finds a random session and fails if it is missing,
// so that a benchmark can never quietly measure misses.
func (s Sessions) Find(store scs.Store) Op {
	return func() error {
		token := s.Tokens[mathrand.IntN(len(s.Tokens))]
		_, found, err := store.Find(token)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("find %s: session not found", token)
		}
		return nil
	}
}

// Commit returns an Op that rewrites a random existing session with its data
// and a fresh expiry.
func (s Sessions) Commit(store scs.Store) Op {
	return func() error {
		i := mathrand.IntN(len(s.Tokens))
		return store.Commit(s.Tokens[i], s.Data[i], time.Now().Add(SessionLifetime))
	}
}

// Seed commits every session to store from goroutines goroutines, which also
// opens that many connections and lets each prepare what the store prepares.
func (s Sessions) Seed(ctx context.Context, store scs.Store, goroutines int) error {
	expiry := time.Now().Add(SessionLifetime)
	return s.each(ctx, goroutines, func(i int) error {
		return store.Commit(s.Tokens[i], s.Data[i], expiry)
	})
}

// Warm finds every session once from goroutines goroutines, so that the
// measured runs start with warm connections, statements and buffer pool.
func (s Sessions) Warm(ctx context.Context, store scs.Store, goroutines int) error {
	return s.each(ctx, goroutines, func(i int) error {
		_, found, err := store.Find(s.Tokens[i])
		if err == nil && !found {
			err = fmt.Errorf("find %s: session not found after seeding", s.Tokens[i])
		}
		return err
	})
}

// each calls f for every session index, spread over goroutines, and returns
// the first error.
func (s Sessions) each(ctx context.Context, goroutines int, f func(i int) error) error {
	indexes := make(chan int)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range indexes {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range s.Tokens {
		select {
		case indexes <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(indexes)
	go func() { wg.Wait(); close(errs) }()
	for e := range errs {
		if err == nil {
			err = e
		}
	}
	return err
}
