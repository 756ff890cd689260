package mysql

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
)

// Batching. At most maxInflight statements of one kind (reads or writes)
// run at once for a store. A Find or Commit that arrives while all of them
// are busy waits in a queue, and the next statement to finish takes
// everything queued (up to batchMaxRows sessions and batchMaxBytes of data)
// into one statement: one round trip and, for writes, one transaction for
// all of them. An operation on an idle store runs at once, alone, exactly as
// it would unbatched: batching adds no wait, it replaces waiting for a
// connection with sharing a statement.
const (
	batchMaxRows  = 64
	batchMaxBytes = 1 << 20
	// deadlockRetries bounds how often a write batch is retried after the
	// server chose it as a deadlock victim (an upsert is safe to repeat).
	deadlockRetries = 3
)

// batchSizes are the session counts with a prepared statement of their own;
// a batch is padded up to the next size by repeating its last session, which
// changes nothing (an upsert writes the same row twice, IN lists it twice).
// Few sizes keep the prepared statements per connection few: at most 16 with
// the store's four single-row ones, against the server's
// max_prepared_stmt_count (16382 by default) over all connections.
var batchSizes = []int{1, 2, 4, 8, 16, 32, 64}

// op is one Find or Commit waiting for, or in, a batch.
type op struct {
	ctx    context.Context // the caller's; used when the batch is this op alone
	token  string
	data   []byte // to write, or found
	expiry string // to write
	found  bool
	err    error
	done   chan struct{}
}

// batcher queues ops of one kind and runs them in batches with run, from at
// most maxInflight goroutines at once.
type batcher struct {
	maxInflight int
	run         func(ctx context.Context, batch []*op) error
	wrap        func(error) error // adds the operation and table to a context error
	stmts       []lazyStmt        // one per batchSizes entry

	mu       sync.Mutex
	queue    []*op
	inflight int
}

func newBatcher(maxInflight int, query func(rows int) string, run func(context.Context, []*op) error, wrap func(error) error) *batcher {
	b := &batcher{maxInflight: maxInflight, run: run, wrap: wrap, stmts: make([]lazyStmt, len(batchSizes))}
	for i, n := range batchSizes {
		b.stmts[i].query = query(n)
	}
	return b
}

// do queues o and waits for its batch, or for ctx to end. When ctx ends
// while o is queued it is withdrawn; when its batch is already running, do
// returns ctx's error and the batch completes on its own, as a cancelled
// statement that reached the server may.
func (b *batcher) do(ctx context.Context, o *op) error {
	o.ctx = ctx
	b.mu.Lock()
	if b.inflight < b.maxInflight {
		// A free slot means an empty queue: run o alone, here, under its
		// caller's context, as an unbatched call would, with no goroutine
		// to hand over to. Then leave what queued meanwhile to a drainer.
		b.inflight++
		b.mu.Unlock()
		alone := [1]*op{o}
		o.err = b.run(ctx, alone[:])
		b.mu.Lock()
		if len(b.queue) > 0 {
			go b.drain()
		} else {
			b.inflight--
		}
		b.mu.Unlock()
		return o.err
	}
	o.done = make(chan struct{})
	b.queue = append(b.queue, o)
	b.mu.Unlock()

	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if i := slices.Index(b.queue, o); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		b.mu.Unlock()
		return b.wrap(ctx.Err())
	}
	b.mu.Unlock()
	select {
	case <-o.done: // finished meanwhile: report what happened
		return o.err
	default:
		return b.wrap(ctx.Err())
	}
}

// drain runs batches from the queue until it is empty, holding one of the
// inflight slots. A batch of one op runs under its caller's context, exactly
// as an unbatched call would; a batch of several belongs to every caller in
// it, so it runs under none of their cancellations, bounded by QueryTimeout.
func (b *batcher) drain() {
	for {
		b.mu.Lock()
		batch := takeBatch(&b.queue)
		if len(batch) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx := context.Background()
		if len(batch) == 1 {
			ctx = batch[0].ctx
		}
		err := b.run(ctx, batch)
		for _, o := range batch {
			if err != nil {
				o.err = err
			}
			close(o.done)
		}
	}
}

// takeBatch removes from the front of the queue as many ops as one
// statement takes.
func takeBatch(queue *[]*op) []*op {
	q := *queue
	n, bytes := 0, 0
	for n < len(q) && n < batchMaxRows {
		bytes += len(q[n].data)
		if n > 0 && bytes > batchMaxBytes {
			break
		}
		n++
	}
	batch := slices.Clone(q[:n])
	*queue = slices.Delete(q, 0, n)
	return batch
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

// writeBatch upserts the batch with one statement. Of several commits for one
// token, the last queued wins. Rows go in token order, so that two batches
// lock rows in the same order.
func (s *Store) writeBatch(ctx context.Context, batch []*op) error {
	if len(batch) == 1 {
		o := batch[0]
		return s.write(ctx, &s.commit, o.token, o.data, o.expiry)
	}
	latest := make(map[string]*op, len(batch))
	rows := make([]*op, 0, len(batch))
	for _, o := range batch {
		if _, seen := latest[o.token]; !seen {
			rows = append(rows, o)
		}
		latest[o.token] = o
	}
	slices.SortFunc(rows, func(a, b *op) int { return strings.Compare(a.token, b.token) })

	size := sizeFor(len(rows))
	args := make([]any, 0, 3*batchSizes[size])
	for i := 0; i < batchSizes[size]; i++ {
		o := latest[rows[min(i, len(rows)-1)].token]
		args = append(args, o.token, o.data, o.expiry)
	}
	return s.write(ctx, &s.writes.stmts[size], args...)
}

// write runs an upsert statement, again if the server chose it as a
// deadlock victim.
func (s *Store) write(ctx context.Context, l *lazyStmt, args ...any) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	stmt, err := l.get(ctx, s.db)
	if err != nil {
		return s.wrap("commit", err)
	}
	for attempt := 0; ; attempt++ {
		_, err = stmt.ExecContext(ctx, args...)
		if err == nil || !isDeadlock(err) || attempt == deadlockRetries {
			break
		}
	}
	if err != nil {
		return s.wrap("commit", err)
	}
	return nil
}

// readBatch finds the sessions of the batch with one statement. The server
// may match a token by its column's collation; only a byte-for-byte equal
// token counts as found.
func (s *Store) readBatch(ctx context.Context, batch []*op) error {
	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	if len(batch) == 1 {
		o := batch[0]
		var err error
		o.data, o.found, err = s.findOne(ctx, o.token)
		return err
	}
	size := sizeFor(len(batch))
	args := make([]any, 0, batchSizes[size])
	for i := 0; i < batchSizes[size]; i++ {
		args = append(args, batch[min(i, len(batch)-1)].token)
	}
	stmt, err := s.reads.stmts[size].get(ctx, s.db)
	if err != nil {
		return s.wrap("find", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return s.wrap("find", err)
	}
	defer rows.Close()
	found := make(map[string][]byte, len(batch))
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return s.wrap("find", err)
		}
		found[token] = data
	}
	if err := rows.Err(); err != nil {
		return s.wrap("find", err)
	}
	given := make(map[string]bool, len(batch))
	for _, o := range batch {
		o.data, o.found = found[o.token]
		if given[o.token] {
			o.data = bytes.Clone(o.data) // one token asked twice: no shared slice
		}
		given[o.token] = true
	}
	return nil
}

// isDeadlock reports whether the server rolled the statement back to break a
// deadlock (ER_LOCK_DEADLOCK).
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// isLockWaitTimeout reports whether a statement gave up waiting for a row
// lock (ER_LOCK_WAIT_TIMEOUT).
func isLockWaitTimeout(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1205
}
