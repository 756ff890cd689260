package mysql

import (
	"context"
	"sync/atomic"
	"time"
)

// Fences and contexts. Writes of one session run one statement at a time,
// in call order (fencedLocked); a write cancelled on this side while the
// server may still apply it keeps its session fenced until the server's
// bound on it has passed (doubtLocked). A batch's statement runs under a
// context that ends when its callers have gone (batchContext).

// fencedLocked reports whether a write of token must wait: an earlier write
// of it is running or queued.
func (b *batcher) fencedLocked(token string) bool {
	if !b.fence {
		return false
	}
	if b.running[token] > 0 {
		return true
	}
	for _, o := range b.queue {
		if o.token == token {
			return true
		}
	}
	return false
}

// doubtLocked keeps tokens fenced for d: their statement was cancelled on
// this side, and the server may still apply it until then. A later write of
// the same session waits, so that it cannot be overtaken by the earlier one.
func (b *batcher) doubtLocked(tokens []string, d time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(max(d, 0), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.doubts[t] {
			return // stopped by close
		}
		delete(b.doubts, t)
		for _, token := range tokens {
			if b.running[token]--; b.running[token] == 0 {
				delete(b.running, token)
			}
		}
		b.kickLocked()
	})
	b.doubts[t] = true
}

// batchContext returns the context a batch's statement runs under: it ends
// when every caller in the batch has gone (each caller's context is bounded
// by QueryTimeout from its call), or when the store is closed.
func (s *Store) batchContext(batch []*op) (context.Context, context.CancelFunc) {
	if len(batch) == 1 && batch[0].done == nil {
		// Run inline, in the caller's goroutine: its own context.
		return batch[0].ctx, func() {}
	}
	cancellable := false
	for _, o := range batch {
		cancellable = cancellable || o.ctx.Done() != nil
	}
	if !cancellable {
		// No caller can go (Find and Commit without a context, and no
		// QueryTimeout): nothing to watch, and a context that cannot end
		// spares the driver a goroutine hand-off per statement. Close
		// waits for such a statement, which the server bounds on MariaDB.
		return context.Background(), func() {}
	}
	ctx, cancel := context.WithCancel(s.closing)
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, o := range batch {
		stops[i] = context.AfterFunc(o.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
