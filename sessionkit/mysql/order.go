package mysql

import "time"

// writeOrder keeps the writes of each session in call order: a write starts
// only when no earlier write of its token is running, queued ahead of it or
// in doubt. A write is in doubt when its callers have gone while the server
// may still apply it; its token stays held until the server's bound on the
// statement has passed (the doubt window, Store.doubtWindow), so that a
// later write of the session cannot be overtaken by it.
//
// Its methods run under the lock of its batcher, and do nothing on a nil
// *writeOrder: Finds are not ordered.
type writeOrder struct {
	b      *batcher
	held   map[string]int       // writes running or in doubt, by token
	behind map[string]bool      // tokens of writes left queued by the batch being taken (nil: none)
	doubts map[*time.Timer]bool // doubt windows not yet over
}

func newWriteOrder(b *batcher) *writeOrder {
	return &writeOrder{b: b, held: map[string]int{}, doubts: map[*time.Timer]bool{}}
}

// waits reports whether a write of token called now must queue: an earlier
// write of it is running, in doubt or queued.
func (w *writeOrder) waits(token string, queue []*op) bool {
	if w == nil {
		return false
	}
	if w.held[token] > 0 {
		return true
	}
	for _, o := range queue {
		if o.token == token {
			return true
		}
	}
	return false
}

// free reports whether a queued write of token may join the batch being
// taken: no write of it is running or in doubt, and none queued before it
// was left behind.
func (w *writeOrder) free(token string) bool {
	return w == nil || w.held[token] == 0 && !w.behind[token]
}

// leave notes that a write of token stays queued: later writes of the
// token must not pass it.
func (w *writeOrder) leave(token string) {
	if w == nil {
		return
	}
	if w.behind == nil {
		w.behind = map[string]bool{}
	}
	w.behind[token] = true
}

// took holds the tokens of a batch that starts.
func (w *writeOrder) took(batch []*op) {
	if w == nil {
		return
	}
	w.behind = nil
	for _, o := range batch {
		w.held[o.token]++
	}
}

// finished lets go of the tokens of a batch whose statement, started at
// start, has ended: at once where the server answered, and at the end of
// the doubt window where a write is in doubt.
func (w *writeOrder) finished(batch []*op, start time.Time) {
	if w == nil {
		return
	}
	var doubtful []string
	for _, o := range batch {
		if o.doubt {
			doubtful = append(doubtful, o.token)
		} else {
			w.release(o.token)
		}
	}
	if len(doubtful) == 0 {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(max(time.Until(start.Add(w.b.s.doubtWindow())), 0), func() {
		w.b.mu.Lock()
		defer w.b.mu.Unlock()
		if !w.doubts[t] {
			return // stopped by close
		}
		delete(w.doubts, t)
		for _, token := range doubtful {
			w.release(token)
		}
		w.b.kickLocked()
	})
	w.doubts[t] = true
}

func (w *writeOrder) release(token string) {
	if w.held[token]--; w.held[token] == 0 {
		delete(w.held, token)
	}
}

// stop ends the doubt windows, at Close.
func (w *writeOrder) stop() {
	if w == nil {
		return
	}
	for t := range w.doubts {
		t.Stop()
	}
	clear(w.doubts)
}
