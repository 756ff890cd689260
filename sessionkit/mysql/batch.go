package mysql

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Batching. At most maxInflight statements of one kind (reads or writes)
// hold a slot at once for a store. A Find or Commit that arrives while every
// slot is taken waits in a queue, and the next statement to start takes
// everything queued that one statement can take (up to batchMaxRows
// sessions and batchMaxBytes of data) into one statement: one round trip and,
// for writes, one transaction for all of them.
//
// Three rules keep one slow session from holding up the others:
//   - a statement that runs longer than slowStatement gives its slot up, so
//     that a locked row or a stalled server does not take every slot (as
//     many statements again may run past their slots, no more, so that a
//     stalled server is not sent ever more);
//   - writes are fenced by token: a Commit or Delete never runs while an
//     earlier write of the same session is still running, so writes of one
//     session are applied in the order they were made, and the calls
//     queued behind a locked row wait without taking a slot;
//   - every call waits at most until its own context ends (bounded by
//     QueryTimeout from the moment it was made), queued or running; a
//     write cancelled while the server may still apply it keeps its token
//     fenced until the server's bound on it has passed (doubtWindow).
const (
	batchMaxRows  = 64
	batchMaxBytes = 1 << 20
	slowStatement = 50 * time.Millisecond
)

// batchSizes are the session counts with a prepared statement of their own;
// a batch is padded up to the next size by repeating one of its sessions,
// which changes nothing (an upsert writes the same row twice, IN lists it
// twice). Few sizes keep the prepared statements per connection few: at
// most 17 with the store's single-session ones (Find, All, Delete, the
// expiry-only touch), and two more while UpgradePlainTokens is on, against
// the server's max_prepared_stmt_count (16382 by default) over all
// connections.
var batchSizes = []int{1, 2, 4, 8, 16, 32, 64}

type opKind uint8

const (
	opFind opKind = iota
	opCommit
	opDelete
	opTouch  // an expiry-only write
	opUpdate // a Commit of a session the request found: never an insert
	opRetire // a request's Delete of a session it found (see request.go)
	opRenew  // a Commit of a renewed token: written only while op.from is there
)

// alone reports whether an op has a statement of its own, never batched.
func (k opKind) alone() bool { return k != opFind && k != opCommit && k != opUpdate }

// op is one Find, Commit or Delete waiting for, or in, a batch.
type op struct {
	kind   opKind
	ctx    context.Context // the caller's, bounded by QueryTimeout
	token  string
	from   string // opRenew: the retired token the session is renewed from
	data   []byte // to write, or found
	expiry string // to write, or found
	found  bool
	stale  bool // found: bound to a user, last seen over a minute ago
	ended  bool // an update found its session deleted or expired
	err    error
	// user, ip, agent: a commit's values for the user columns (nil: NULL)
	user, ip, agent any
	// readSum: for an update (or a renewal), MD5 of the stored data the
	// request read, which the row must still hold; merge applies the
	// request's changes to what another request stored meanwhile (see
	// Save.Merge); merged says that it did.
	readSum string
	merge   func([]byte) ([]byte, string, error)
	merged  bool
	merges  int // how often
	// doubt: the op's statement was cancelled while the server may still
	// run it; its token stays fenced for a while (see doubtWindow).
	doubt bool
	done  chan struct{} // closed once err and the result are set; nil inline
}

// batcher queues ops of one kind and runs them in batches.
type batcher struct {
	maxInflight int  // statements that hold a slot at once
	maxRows     int  // sessions per statement: batchMaxRows, or 1 unbatched
	fence       bool // one running statement per token, in call order
	// single, when it reports true, keeps every statement to one session
	// (writes where the server gives no per-statement bound).
	single func() bool
	inline bool // a call that finds a free slot (and no fence) runs in its own goroutine
	run    func(batch []*op)
	wrap   func(error) error // adds the operation and table to an error
	stmts  []lazyStmt        // one per batchSizes entry

	closing context.Context // the store's: ends at Close

	// doubtWindow is how long a token stays fenced after its statement was
	// cancelled with the server perhaps still running it (0: not at all).
	doubtWindow func() time.Duration

	mu         sync.Mutex
	queue      []*op
	inflight   int            // statements holding a slot
	slow       int            // statements that gave their slot up and still run
	running    map[string]int // fence: running (or in doubt) ops by token
	doubts     map[*time.Timer]bool
	closed     bool
	calls      int64
	statements int64
	wg         sync.WaitGroup // drainers
}

func newBatcher(maxInflight, maxRows int, query func(rows int, d dialect) string, run func([]*op), wrap func(error) error) *batcher {
	b := &batcher{maxInflight: maxInflight, maxRows: maxRows, run: run, wrap: wrap,
		stmts: make([]lazyStmt, len(batchSizes)), running: map[string]int{}, doubts: map[*time.Timer]bool{}}
	for i, n := range batchSizes {
		b.stmts[i].build = func(d dialect) string { return query(n, d) }
	}
	return b
}

// do runs o, in a batch or alone, and returns its error; it returns when o is
// done or o.ctx ends, whichever comes first. When o.ctx ends while o is
// queued it is withdrawn; when its statement is already running, do returns
// the context's error and the statement ends on its own (see runWrites).
func (b *batcher) do(o *op) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.wrap(ErrClosed)
	}
	b.calls++
	if b.inline && b.canStartLocked() && !b.fencedLocked(o.token) {
		// A free slot: run o here, under its caller's context, as an
		// unbatched call would, with no goroutine to hand over to.
		b.inflight++
		b.statements++
		if b.fence {
			b.running[o.token]++
		}
		b.mu.Unlock()
		if b.execute([]*op{o}) {
			b.mu.Lock()
			b.releaseLocked()
			b.mu.Unlock()
		}
		return o.err
	}
	o.done = make(chan struct{})
	b.queue = append(b.queue, o)
	b.kickLocked()
	b.mu.Unlock()

	select {
	case <-o.done:
		return o.err
	case <-o.ctx.Done():
	}
	b.mu.Lock()
	if i := slices.Index(b.queue, o); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		b.mu.Unlock()
		return b.wrap(o.ctx.Err())
	}
	b.mu.Unlock()
	select {
	case <-o.done: // finished meanwhile: report what happened
		return o.err
	default:
		return b.wrap(o.ctx.Err())
	}
}

// kickLocked starts a drainer when a slot is free and an op can run.
func (b *batcher) kickLocked() {
	if b.closed || !b.canStartLocked() || !b.runnableLocked() {
		return
	}
	b.inflight++
	b.wg.Add(1)
	go b.drain()
}

// canStartLocked reports whether a statement may start: a slot is free, and
// fewer than maxSlow statements are still running after giving theirs up,
// so that a stalled server is not sent ever more statements.
func (b *batcher) canStartLocked() bool {
	return b.inflight < b.maxInflight && b.slow < b.maxSlow()
}

// maxSlow is how many statements may run past their slots: several locked
// sessions at once must not stop the others, but a stalled server must not
// be sent a statement per call either.
func (b *batcher) maxSlow() int {
	if b.maxInflight > math.MaxInt/8 {
		return b.maxInflight
	}
	return 8 * b.maxInflight
}

// releaseLocked gives a slot back and hands it on to queued work.
func (b *batcher) releaseLocked() {
	b.inflight--
	b.kickLocked()
}

// rowsLimit is how many sessions one statement takes now.
func (b *batcher) rowsLimit() int {
	if b.single != nil && b.single() {
		return 1
	}
	return b.maxRows
}

// runnableLocked reports whether a queued op may start now.
func (b *batcher) runnableLocked() bool {
	if !b.fence {
		return len(b.queue) > 0
	}
	for _, o := range b.queue {
		if b.running[o.token] == 0 {
			return true
		}
	}
	return false
}

// drain runs batches from the queue, holding a slot, until nothing queued can
// run or its slot went to others while a statement was slow.
func (b *batcher) drain() {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		batch := b.takeLocked()
		if len(batch) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		b.statements++
		b.kickLocked() // more can run and a slot is free: another drainer
		b.mu.Unlock()
		if !b.execute(batch) {
			b.mu.Lock()
			if !b.canStartLocked() {
				b.mu.Unlock()
				return
			}
			b.inflight++
			b.mu.Unlock()
		}
	}
}

// takeLocked removes from the queue, in call order, the ops one statement
// takes: those whose token has no running write and no earlier queued write
// left behind, of one kind (a Delete or a touch runs alone), up to maxRows sessions
// and batchMaxBytes of data (the first op always fits).
func (b *batcher) takeLocked() []*op {
	var batch []*op
	var blocked map[string]bool // fence: tokens of ops left behind
	kept := b.queue[:0]
	bytes := 0
	for i, o := range b.queue {
		take := len(batch) < b.rowsLimit()
		if take && b.fence && (b.running[o.token] > 0 || blocked[o.token]) {
			take = false
		}
		if take && len(batch) > 0 && (o.kind != batch[0].kind || o.kind.alone()) {
			take = false
		}
		if take && len(batch) > 0 && bytes+len(o.data) > batchMaxBytes {
			take = false
		}
		if !take {
			if b.fence {
				if blocked == nil {
					blocked = map[string]bool{}
				}
				blocked[o.token] = true
			}
			kept = append(kept, o)
			if len(batch) == b.rowsLimit() || (len(batch) > 0 && batch[0].kind.alone()) {
				kept = append(kept, b.queue[i+1:]...)
				break
			}
			continue
		}
		batch = append(batch, o)
		bytes += len(o.data)
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	if b.fence {
		for _, o := range batch {
			b.running[o.token]++
		}
	}
	return batch
}

// execute runs a batch while holding a slot, and reports whether it still
// holds it: a statement that runs longer than slowStatement gives it up.
func (b *batcher) execute(batch []*op) (held bool) {
	start := time.Now()
	released := false
	slow := time.AfterFunc(slowStatement, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !released {
			released = true
			b.slow++
			b.releaseLocked()
		}
	})
	b.run(batch)
	slow.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	held, released = !released, true
	if !held {
		b.slow--
	}
	var doubtful []string
	for _, o := range batch {
		if o.err != nil && o.ctx.Err() == nil && b.closing != nil && b.closing.Err() != nil {
			o.err = b.wrap(ErrClosed) // cancelled by Close, not by its caller
		} else if err := o.ctx.Err(); err != nil {
			// The call's time was up before its answer came: whatever the
			// statement said (a cancelled batch, a dial that timed out, or
			// even success, which database/sql may report for a statement
			// cut short), the caller's context ended, and that is what
			// each is told; a write is then in doubt.
			o.doubt = o.doubt || (b.fence && o.kind != opFind)
			o.err = b.wrap(err)
		}
		if b.fence {
			if o.doubt {
				doubtful = append(doubtful, o.token) // stays fenced
			} else if b.running[o.token]--; b.running[o.token] == 0 {
				delete(b.running, o.token)
			}
		}
		if o.done != nil {
			close(o.done)
		}
	}
	if len(doubtful) > 0 {
		b.doubtLocked(doubtful, time.Until(start.Add(b.doubtWindow())))
	}
	if b.fence || !held {
		b.kickLocked() // a fenced write, or one held back by slow ones, may run now
	}
	return held
}

// close fails what is queued with ErrClosed and waits for the drainers.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	queued := b.queue
	b.queue = nil
	for t := range b.doubts {
		t.Stop()
	}
	clear(b.doubts)
	b.mu.Unlock()
	for _, o := range queued {
		o.err = b.wrap(ErrClosed)
		close(o.done)
	}
	b.wg.Wait()
	for i := range b.stmts {
		b.stmts[i].close()
	}
}

func (b *batcher) counts() (calls, statements int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls, b.statements
}

// sizeFor returns the index in batchSizes of the smallest statement that
// takes n sessions.
func sizeFor(n int) int {
	i := 0
	for i < len(batchSizes)-1 && batchSizes[i] < n {
		i++
	}
	return i
}
