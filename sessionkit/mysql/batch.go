package mysql

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The store's concurrency is described in one paragraph in the package docs
// (# Concurrency). Its parts: batcher, below (slots, queue and batches, for
// Finds and for writes); writeOrder (the per-token order of writes and the
// doubt window, order.go); batchContext (the context a batch runs under,
// batchctx.go); commitRows (the splitting of a refused write batch,
// write.go).
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

// sizedStmts returns a statement for each of batchSizes, built by query.
func sizedStmts(query func(rows int, d dialect) string) []lazyStmt {
	stmts := make([]lazyStmt, len(batchSizes))
	for i, n := range batchSizes {
		stmts[i].build = func(d dialect) string { return query(n, d) }
	}
	return stmts
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
	login  bool   // opRenew: written even if from has ended (Kit.Login)
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
	// run it; its token stays held for a while (see writeOrder).
	doubt bool
	done  chan struct{} // closed once err and the result are set; nil inline
}

// lane is what tells the store's two batchers apart.
type lane struct {
	what    string      // the operation its errors name: "find" or "commit"
	slots   int         // Config.MaxInflight; 0: no batching
	ordered bool        // the writes: each session's run in call order
	run     func([]*op) // runs a batch's statement, setting each op's result
}

// batcher runs the calls of one lane. At most slots statements hold a slot
// at once; a call that finds one free runs at once, in its caller's
// goroutine, and any other waits in the queue until a drainer (a goroutine
// holding a slot) takes it into a batch. Without batching (slots 0) every
// call runs at once, with a statement of its own.
type batcher struct {
	lane
	s     *Store
	order *writeOrder // for an ordered lane; nil orders nothing

	mu         sync.Mutex
	queue      []*op
	inflight   int // statements holding a slot
	slow       int // statements that gave their slot up and still run
	closed     bool
	calls      int64
	statements int64
	wg         sync.WaitGroup // drainers
}

func newBatcher(s *Store, l lane) *batcher {
	b := &batcher{lane: l, s: s}
	if l.ordered {
		b.order = newWriteOrder(b)
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
	if b.canStartLocked() && !b.order.waits(o.token, b.queue) {
		// A free slot: run o here, under its caller's context, as an
		// unbatched call would, with no goroutine to hand over to.
		b.inflight++
		b.statements++
		batch := []*op{o}
		b.order.took(batch)
		b.mu.Unlock()
		if b.execute(batch) {
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

func (b *batcher) wrap(err error) error { return b.s.wrap(b.what, err) }

// kickLocked starts a drainer when a slot is free and a queued op can run.
func (b *batcher) kickLocked() {
	if b.closed || !b.canStartLocked() || !b.runnableLocked() {
		return
	}
	b.inflight++
	b.wg.Add(1)
	go b.drain()
}

// canStartLocked reports whether a statement may start: a slot is free, and
// fewer than eight times slots statements still run after giving theirs up,
// so that several locked sessions do not stop the others but a stalled
// server is not sent a statement per call either.
func (b *batcher) canStartLocked() bool {
	if b.slots == 0 {
		return true
	}
	return b.inflight < b.slots && b.slow/8 < b.slots // slow < 8*slots, without overflow
}

// releaseLocked gives a slot back and hands it on to queued work.
func (b *batcher) releaseLocked() {
	b.inflight--
	b.kickLocked()
}

// runnableLocked reports whether a queued op may start now.
func (b *batcher) runnableLocked() bool {
	for _, o := range b.queue {
		if b.order.free(o.token) {
			return true
		}
	}
	return false
}

// rowsLimit is how many sessions one statement takes now. Writes are
// batched only where the server bounds each write statement (MariaDB):
// elsewhere a batch with a locked row would hold up its other sessions
// until the lock wait times out.
func (b *batcher) rowsLimit() int {
	if b.slots == 0 || b.ordered && dialect(b.s.dialect.Load()) != dialectMariaDB {
		return 1
	}
	return batchMaxRows
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
// takes: of one kind (a Delete or a touch alone), up to rowsLimit sessions
// and batchMaxBytes of data (the first op always fits), and of those that
// the order of writes lets start.
func (b *batcher) takeLocked() []*op {
	var batch []*op
	limit, bytes := b.rowsLimit(), 0
	kept := b.queue[:0]
	for i, o := range b.queue {
		if len(batch) < limit && b.order.free(o.token) && joins(batch, bytes, o) {
			batch = append(batch, o)
			bytes += len(o.data)
			continue
		}
		b.order.leave(o.token)
		kept = append(kept, o)
		if len(batch) == limit || (len(batch) > 0 && batch[0].kind.alone()) {
			kept = append(kept, b.queue[i+1:]...)
			break
		}
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	b.order.took(batch)
	return batch
}

// joins reports whether o may join batch, holding bytes of data.
func joins(batch []*op, bytes int, o *op) bool {
	if len(batch) == 0 {
		return true
	}
	return o.kind == batch[0].kind && !o.kind.alone() && bytes+len(o.data) <= batchMaxBytes
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
	for _, o := range batch {
		if o.err != nil && o.ctx.Err() == nil && b.s.closing.Err() != nil {
			o.err = b.wrap(ErrClosed) // cancelled by Close, not by its caller
		} else if err := o.ctx.Err(); err != nil {
			// The call's time was up before its answer came: whatever the
			// statement said (a cancelled batch, a dial that timed out, or
			// even success, which database/sql may report for a statement
			// cut short), the caller's context ended, and that is what
			// each is told; a write is then in doubt.
			o.doubt = true
			o.err = b.wrap(err)
		}
		if o.done != nil {
			close(o.done)
		}
	}
	b.order.finished(batch, start)
	if b.ordered || !held {
		b.kickLocked() // a write held back, or a call held back by slow ones, may run now
	}
	return held
}

// close fails what is queued with ErrClosed and waits for the drainers.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	queued := b.queue
	b.queue = nil
	b.order.stop()
	b.mu.Unlock()
	for _, o := range queued {
		o.err = b.wrap(ErrClosed)
		close(o.done)
	}
	b.wg.Wait()
}

func (b *batcher) counts() (calls, statements int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls, b.statements
}
