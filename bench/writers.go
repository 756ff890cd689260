package bench

import (
	"crypto/rand"
	"encoding/base64"
	mathrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Writers are goroutines that commit sessions back to back, and record when
// each commit started and ended, so that the commits of any interval can be
// judged afterwards (for example while a cleanup ran, against an interval
// without one).
type Writers struct {
	stop atomic.Bool
	wg   sync.WaitGroup

	mu    sync.Mutex
	spans []span
	err   error
}

type span struct{ start, end time.Time }

// StartWriters starts n goroutines committing sessions of size bytes to
// store, expiring in lifetime, until Stop: random ones of tokens (existing
// sessions rewritten, as most requests that write do), or new ones when
// tokens is empty (as sign-ins and first visits do).
func StartWriters(store scs.Store, n, size int, lifetime time.Duration, tokens []string) *Writers {
	w := &Writers{}
	data := make([]byte, size)
	rand.Read(data)
	for range n {
		w.wg.Go(func() {
			var mine []span
			for !w.stop.Load() {
				var token string
				if len(tokens) > 0 {
					token = tokens[mathrand.IntN(len(tokens))]
				} else {
					token = newToken()
				}
				t0 := time.Now()
				err := store.Commit(token, data, time.Now().Add(lifetime))
				if err != nil {
					w.mu.Lock()
					if w.err == nil {
						w.err = err
					}
					w.mu.Unlock()
					continue
				}
				mine = append(mine, span{t0, time.Now()})
			}
			w.mu.Lock()
			w.spans = append(w.spans, mine...)
			w.mu.Unlock()
		})
	}
	return w
}

// Stop stops the writers, waits for them and returns the first error a
// commit returned, if any.
func (w *Writers) Stop() error {
	w.stop.Store(true)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// WriterStats describes the commits of an interval.
type WriterStats struct {
	Commits       int
	Rate          float64 // commits per second of the interval
	P50, P99, Max time.Duration
}

// Stats describes, after Stop, every commit that was running at any moment
// from from to to, also one that started before or ended after; Rate is
// their number over the interval's length.
func (w *Writers) Stats(from, to time.Time) WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ds []time.Duration
	for _, s := range w.spans {
		if s.end.After(from) && s.start.Before(to) {
			ds = append(ds, s.end.Sub(s.start))
		}
	}
	if len(ds) == 0 {
		return WriterStats{}
	}
	slices.Sort(ds)
	return WriterStats{Commits: len(ds), Rate: float64(len(ds)) / to.Sub(from).Seconds(),
		P50: ds[len(ds)/2], P99: ds[len(ds)*99/100], Max: ds[len(ds)-1]}
}

// newToken returns a token as scs makes them: 32 random bytes, base64url.
func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
