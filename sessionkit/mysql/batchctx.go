package mysql

import (
	"context"
	"sync/atomic"
)

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
