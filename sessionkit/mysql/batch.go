package mysql

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
)

// Commit batching. A commit that arrives while the store already has
// maxInflight statements writing sessions waits in a queue; the next free
// writer takes everything queued (up to batchMaxRows rows and batchMaxBytes
// of data) and writes it with one multi-row upsert, one round trip and one
// transaction for all of them. A commit on an idle store is written at once:
// batching adds no wait, it only replaces waiting for a connection with
// sharing one statement.
const (
	batchMaxRows  = 64
	batchMaxBytes = 1 << 20
	// deadlockRetries bounds how often a batch is retried after the server
	// chose it as a deadlock victim (an upsert is safe to repeat).
	deadlockRetries = 3
)

// batchSizes are the row counts with a prepared statement of their own; a
// batch is padded up to the next size by repeating its last row, which an
// upsert writes twice to the same effect. Few sizes keep the number of
// prepared statements per connection small.
var batchSizes = []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}

type pendingCommit struct {
	ctx    context.Context // the caller's; used when the batch is this commit alone
	token  string
	data   []byte
	expiry string
	err    error
	done   chan struct{}
}

type commitBatcher struct {
	maxInflight int
	stmts       []lazyStmt // one per batchSizes entry

	mu       sync.Mutex
	queue    []*pendingCommit
	inflight int
}

func newCommitBatcher(t tableName, maxInflight int) *commitBatcher {
	b := &commitBatcher{maxInflight: maxInflight, stmts: make([]lazyStmt, len(batchSizes))}
	for i, n := range batchSizes {
		b.stmts[i].query = upsertQuery(t, n)
	}
	return b
}

func upsertQuery(t tableName, rows int) string {
	return "INSERT INTO " + t.quoted + " (token, data, expiry) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?),", rows), ",") +
		" ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
}

// commit queues one session write and waits for it, or for ctx to end. When
// ctx ends while the write is queued it is withdrawn; when it is already
// being written, commit returns ctx's error and the write completes on its
// own, as a cancelled statement that reached the server may.
func (s *Store) commitBatched(ctx context.Context, token string, data []byte, expiry string) error {
	b := s.batcher
	p := &pendingCommit{ctx: ctx, token: token, data: data, expiry: expiry, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.inflight < b.maxInflight {
		b.inflight++
		go s.writeQueued()
	}
	b.mu.Unlock()

	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if i := slices.Index(b.queue, p); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		b.mu.Unlock()
		return s.wrap("commit", ctx.Err())
	}
	b.mu.Unlock()
	select {
	case <-p.done: // finished meanwhile: report what happened
		return p.err
	default:
		return s.wrap("commit", ctx.Err())
	}
}

// writeQueued writes batches from the queue until it is empty. A batch of
// one commit runs under its caller's context, exactly as an unbatched write
// would; a batch of several belongs to every caller in it, so it runs under
// none of their cancellations, bounded by QueryTimeout.
func (s *Store) writeQueued() {
	b := s.batcher
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
		err := s.writeBatch(ctx, batch)
		for _, p := range batch {
			p.err = err
			close(p.done)
		}
	}
}

// takeBatch removes from the front of the queue as many commits as one
// statement takes.
func takeBatch(queue *[]*pendingCommit) []*pendingCommit {
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

// writeBatch upserts the batch with one statement. Of several commits for one
// token, the last queued wins. Rows go in token order, so that two batches
// lock rows in the same order.
func (s *Store) writeBatch(ctx context.Context, batch []*pendingCommit) error {
	latest := make(map[string]*pendingCommit, len(batch))
	rows := make([]*pendingCommit, 0, len(batch))
	for _, p := range batch {
		if _, seen := latest[p.token]; !seen {
			rows = append(rows, p)
		}
		latest[p.token] = p
	}
	slices.SortFunc(rows, func(a, b *pendingCommit) int { return strings.Compare(a.token, b.token) })

	size := 0
	for size < len(batchSizes)-1 && batchSizes[size] < len(rows) {
		size++
	}
	args := make([]any, 0, 3*batchSizes[size])
	for i := 0; i < batchSizes[size]; i++ {
		p := latest[rows[min(i, len(rows)-1)].token]
		data := p.data
		if data == nil {
			data = []byte{} // the column is NOT NULL
		}
		args = append(args, p.token, data, p.expiry)
	}

	ctx, cancel := s.queryContext(ctx)
	defer cancel()
	stmt, err := s.batcher.stmts[size].get(ctx, s.db)
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

// isDeadlock reports whether the server rolled the statement back to break a
// deadlock (ER_LOCK_DEADLOCK).
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}
