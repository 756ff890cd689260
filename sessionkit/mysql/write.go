package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// deadlockRetries bounds how often a write is sent again after the server
// rolled it back to break a deadlock or, on a cluster, after a
// certification conflict (an upsert or a delete is safe to repeat).
const deadlockRetries = 3

// doubtWindow is how long after a write statement started the server may
// still apply it, once the store has cancelled it: on MariaDB its
// max_statement_time and a margin for the round trip; elsewhere the server
// gives no bound, and the store does not wait.
func (s *Store) doubtWindow() time.Duration {
	if dialect(s.dialect.Load()) == dialectMariaDB {
		return writeLockBound + 250*time.Millisecond
	}
	return 0
}

// runWrites runs a batch of Commits, or one single-session write (a
// Delete, a touch, a retirement, a renewal). Calls whose callers have
// already gone are dropped.
func (s *Store) runWrites(batch []*op) {
	live := make([]*op, 0, len(batch))
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = s.wrap("commit", err)
			continue
		}
		if o.kind == opCommit || o.kind == opUpdate || o.kind == opRenew {
			if err := s.checkSize(o.ctx, len(o.data)); err != nil {
				o.err = err
				continue
			}
		}
		live = append(live, o)
	}
	switch {
	case len(live) == 0:
	case live[0].kind == opDelete:
		s.deleteOne(live[0])
	case live[0].kind == opTouch:
		s.touchOne(live[0])
	case live[0].kind == opRetire:
		s.retireOne(live[0])
	case live[0].kind == opRenew:
		s.renewOne(live[0])
	default:
		s.commitRows(rowsOf(live))
	}
}

// row is one session of a write batch: the commits of its token, of which
// the last queued is written.
type row struct {
	ops []*op
}

func (r row) last() *op { return r.ops[len(r.ops)-1] }

// rowsOf groups commits by token, in token order, so that two batches lock
// rows in the same order. The rows are slices of one sorted copy of the
// batch, in call order within a token.
func rowsOf(batch []*op) []row {
	if len(batch) == 1 {
		return []row{{ops: batch}}
	}
	sorted := slices.Clone(batch)
	slices.SortStableFunc(sorted, func(a, b *op) int { return strings.Compare(a.token, b.token) })
	rows := make([]row, 0, len(sorted))
	start := 0
	for i := 1; i <= len(sorted); i++ {
		if i == len(sorted) || sorted[i].token != sorted[start].token {
			rows = append(rows, row{ops: sorted[start:i:i]})
			start = i
		}
	}
	return rows
}

// opsOf returns the calls of rows.
func opsOf(rows []row) []*op {
	if len(rows) == 1 {
		return rows[0].ops
	}
	n := 0
	for _, r := range rows {
		n += len(r.ops)
	}
	ops := make([]*op, 0, n)
	for _, r := range rows {
		ops = append(ops, r.ops...)
	}
	return ops
}

// commitRows upserts rows with one statement. A statement the server
// refuses is split in halves, down to single sessions, so that a row it
// refuses (data over a narrowed column, a certification conflict, a row
// locked elsewhere) fails only the calls of that session.
func (s *Store) commitRows(rows []row) {
	n := len(rows)
	if n == 0 {
		return
	}
	size := sizeFor(n)
	if n > 1 && paddedBytes(rows, batchSizes[size]) > batchMaxBytes {
		// Padding would send more than the byte cap: two statements, the
		// first of a size that needs none.
		k := batchSizes[size-1]
		s.commitRows(rows[:k])
		s.commitRows(rows[k:])
		return
	}
	if rows[0].last().kind == opUpdate {
		// Saves of one session by several requests are each written, in
		// the order they were made, each merged with the one before it
		// (see Save.Merge): the first in this statement, the others one by
		// one after it.
		var later []*op
		for i, r := range rows {
			if len(r.ops) > 1 {
				later = append(later, r.ops[1:]...)
				rows[i] = row{ops: r.ops[:1]}
			}
		}
		if len(later) > 0 {
			defer func() {
				for _, o := range later {
					s.commitRows(s.liveRows([]row{{ops: []*op{o}}}))
				}
			}()
		}
	}
	ops := opsOf(rows)
	ctx, cancel := s.batchContext(ops)
	defer cancel()
	var err error
	if rows[0].last().kind == opUpdate {
		err = s.update(ctx, rows)
	} else {
		err = s.upsert(ctx, rows)
	}
	if err == nil {
		return
	}
	if isContextError(err) {
		for _, o := range ops {
			o.doubt, o.err = true, s.wrap("commit", err)
		}
		return
	}
	if n > 1 && serverError(err) != 0 {
		s.splits.Add(1)
		if isLockError(err) {
			// A row is locked elsewhere: write each session alone, so
			// that only the locked one waits for it again.
			s.commitEach(s.liveRows(rows))
			return
		}
		s.commitRows(s.liveRows(rows[:n/2]))
		s.commitRows(s.liveRows(rows[n/2:]))
		return
	}
	if serverError(err) == erDataTooLong && n == 1 {
		o := rows[0].last()
		err = s.refusedAsTooLarge(o.ctx, len(o.data), err)
	} else {
		err = s.wrap("commit", err)
	}
	for _, o := range ops {
		o.err = err
	}
}

// commitEach writes each row with a statement of its own, a few at a time.
func (s *Store) commitEach(rows []row) {
	const parallel = 4
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.commitRows([]row{r})
		}()
	}
	wg.Wait()
}

// liveRows keeps the rows with a caller still waiting; the others' calls get
// their context's error.
func (s *Store) liveRows(rows []row) []row {
	var live []row
	for _, r := range rows {
		var ops []*op
		for _, o := range r.ops {
			if err := o.ctx.Err(); err != nil {
				o.err = s.wrap("commit", err)
				continue
			}
			ops = append(ops, o)
		}
		if len(ops) > 0 {
			live = append(live, row{ops: ops})
		}
	}
	return live
}

// paddedBytes is how much data a statement of size rows sends for rows,
// padded with the smallest of them.
func paddedBytes(rows []row, size int) int {
	total, least := 0, len(rows[0].last().data)
	for _, r := range rows {
		total += len(r.last().data)
		least = min(least, len(r.last().data))
	}
	return total + (size-len(rows))*least
}

// upsert writes rows with one statement, padded to a prepared size with the
// smallest row (writing a row twice changes nothing), again after a
// deadlock while a caller waits.
func (s *Store) upsert(ctx context.Context, rows []row) error {
	size := sizeFor(len(rows))
	pad := rows[0].last()
	for _, r := range rows {
		if len(r.last().data) < len(pad.data) {
			pad = r.last()
		}
	}
	users := s.users.has.Load()
	args := make([]any, 0, 6*batchSizes[size])
	for i := 0; i < batchSizes[size]; i++ {
		o := pad
		if i < len(rows) {
			o = rows[i].last()
		}
		args = upsertArgs(args, o, users)
	}
	stmt, err := s.prepare(ctx, &s.upserts[size])
	if err != nil {
		return err
	}
	return s.retry(ctx, func() error {
		_, err := stmt.ExecContext(ctx, args...)
		return err
	})
}

// upsertArgs appends o's values for a row of upsert.
func upsertArgs(args []any, o *op, users bool) []any {
	args = append(args, o.token, o.data, o.expiry)
	if users {
		args = append(args, o.user, o.ip, o.agent)
	}
	return args
}

// update writes rows that requests found with one statement, padded as
// upsert pads, only where they still exist and have not expired. The server
// counts the rows it changed, so a row written as it was stored counts
// none: only when fewer rows changed than were sent does a read ask which
// are still there. The calls of a row that is gone are marked ended.
func (s *Store) update(ctx context.Context, rows []row) error {
	size := sizeFor(len(rows))
	n := batchSizes[size]
	pick := func(i int) *op { return rows[min(i, len(rows)-1)].last() }
	users := s.users.has.Load()
	// With one session, each value stands alone (see queries.update): no
	// token before it, the token twice at the end.
	token := func(o *op) []any {
		if n == 1 {
			return nil
		}
		return []any{o.token}
	}
	args := make([]any, 0, 24*n)
	for i := range n {
		args = append(append(args, token(pick(i))...), pick(i).data)
	}
	for i := range n {
		args = append(append(args, token(pick(i))...), pick(i).expiry)
	}
	if users {
		for i := range n {
			o := pick(i)
			args = append(append(args, token(o)...), o.user, o.user, o.ip, o.agent)
		}
		for i := range n {
			args = append(append(args, token(pick(i))...), pick(i).user)
		}
		for i := range n {
			o := pick(i)
			args = append(append(args, token(o)...), o.user, o.ip)
		}
		for i := range n {
			o := pick(i)
			args = append(append(args, token(o)...), o.user, o.agent)
		}
	}
	for range 2 {
		for i := range n {
			args = append(args, pick(i).token)
		}
	}
	for i := range n {
		o := pick(i)
		args = append(append(args, token(o)...), nullable(o.readSum))
	}
	stmt, err := s.prepare(ctx, &s.updates[size])
	if err != nil {
		return err
	}
	var res sql.Result
	err = s.retry(ctx, func() error {
		var err error
		res, err = stmt.ExecContext(ctx, args...)
		return err
	})
	if err != nil {
		return err
	}
	if changed, err := res.RowsAffected(); err == nil && changed >= int64(len(rows)) {
		return nil
	}
	// Which rows are gone, and which did another request change since
	// their request read them?
	finds := make([]*op, len(rows))
	for i, r := range rows {
		finds[i] = &op{kind: opFind, ctx: ctx, token: r.last().token}
	}
	if err := s.readBatch(ctx, finds); err != nil {
		return err
	}
	var again []row
	for i, r := range rows {
		o, f := r.last(), finds[i]
		switch {
		case !f.found:
			for _, o := range r.ops {
				o.ended = true
			}
		case o.readSum == "" || bytes.Equal(f.data, o.data) || dataSum(f.data) == o.readSum:
			// Written (or it held that already).
		case o.merges >= maxMerges:
			o.err = s.wrap("commit", fmt.Errorf("the session changed %d times while its save was merged", o.merges))
		default:
			if err := s.mergeInto(o, o.token, f.data); err != nil {
				for _, o := range r.ops {
					o.err = err
				}
				continue
			}
			again = append(again, r)
		}
	}
	if len(again) > 0 {
		return s.update(ctx, again)
	}
	return nil
}

// maxMerges bounds how often one save is merged with what other requests
// saved meanwhile before it fails. Each round it loses is a round another
// save of the session won, so n saves at once need at most n-1 rounds; the
// caller's deadline bounds them too.
const maxMerges = 64

// mergeInto makes o write the merge of its request's changes into stored,
// the session as another request saved it meanwhile under token, over that
// data.
func (s *Store) mergeInto(o *op, token string, stored []byte) error {
	o.merges++
	current, err := s.open(token, stored)
	if err != nil {
		return s.wrap("commit", fmt.Errorf("reading the session another request saved, to merge with it: %w", err))
	}
	merged, user, err := o.merge(current)
	if err != nil {
		return s.wrap("commit", fmt.Errorf("merging with the session another request saved: %w", err))
	}
	sealed, err := s.seal(o.token, merged)
	if err != nil {
		return s.wrap("commit", err)
	}
	if err := s.checkSize(o.ctx, len(sealed)); err != nil {
		return err
	}
	o.data, o.readSum, o.merged = sealed, dataSum(stored), true
	if CheckUserID(user) != nil {
		user = ""
	}
	if o.user = nullable(user); o.user == nil {
		o.ip, o.agent = nil, nil
	} else if o.ip == nil && o.agent == nil {
		o.ip, o.agent = requestArgs(o.ctx)
	}
	return nil
}

// retry runs exec again after a deadlock or a cluster's certification
// conflict, a few times, as long as ctx lasts and the store is open. A lock
// wait that ran out of time is not tried again: the row is held elsewhere,
// and an attempt sent just before the caller's deadline could still be
// applied after it.
func (s *Store) retry(ctx context.Context, exec func() error) error {
	for attempt := 0; ; attempt++ {
		err := exec()
		if err == nil || !isConflict(err) || attempt == deadlockRetries ||
			ctx.Err() != nil || s.closing.Err() != nil {
			return err
		}
	}
}

// deleteOne runs a Delete;
// o.ended says that it deleted no row.
func (s *Store) deleteOne(o *op) {
	var changed int64
	changed, o.err = s.execOne(o, &s.del, "delete", o.token, o.token)
	o.ended = o.err == nil && changed == 0
}

// retireOne runs a request's Delete of a session it found: the row is
// expired now and kept for a renewal (see request.go). A row that another
// request retired already (a login form sent twice, a logout in another
// tab) is left as it is: the first of the two requests to save a renewal
// from it wins, and a logout's FinishRequest deletes it. o.ended says that
// the row is gone: another request ended the session first.
func (s *Store) retireOne(o *op) {
	var changed int64
	changed, o.err = s.execOne(o, &s.retireStmt, "delete", o.token, o.token)
	if o.err != nil || changed > 0 {
		return
	}
	var one int
	err := s.db.QueryRowContext(o.ctx, s.q.rowExists, o.token, o.token).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		o.ended = true
	case err != nil:
		o.err = s.wrap("delete", err)
	}
}

// renewOne inserts a renewed token in one transaction with the deletion
// of the retired row it replaces, and only if that row is still there:
// o.ended says that the session ended before its renewal was written.
func (s *Store) renewOne(o *op) {
	del, err := s.prepare(o.ctx, &s.del)
	var insert *sql.Stmt
	var mergeErr error // the merge failed: nothing is written
	if err == nil {
		insert, err = s.prepare(o.ctx, &s.upserts[0])
	}
	if err == nil {
		err = s.retry(o.ctx, func() error {
			mergeErr = nil
			tx, err := s.db.BeginTx(o.ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck // after Commit, or on an error already returned
			if o.readSum != "" {
				// Start from the session as it is now, merged, if
				// another request saved it since this one read it.
				var stored []byte
				err := tx.QueryRowContext(o.ctx, s.q.lockData, o.from, o.from).Scan(&stored)
				if err == sql.ErrNoRows && !o.login {
					o.ended = true
					return nil
				} else if err != nil && err != sql.ErrNoRows {
					return err
				}
				if err == nil && dataSum(stored) != o.readSum {
					if mergeErr = s.mergeInto(o, o.from, stored); mergeErr != nil {
						return nil
					}
				}
			}
			res, err := tx.StmtContext(o.ctx, del).ExecContext(o.ctx, o.from, o.from)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || (n == 0 && !o.login) {
				o.ended = err == nil
				return err
			}
			if _, err := tx.StmtContext(o.ctx, insert).ExecContext(o.ctx, upsertArgs(nil, o, s.users.has.Load())...); err != nil {
				return err
			}
			return tx.Commit()
		})
	}
	switch {
	case err == nil && mergeErr != nil:
		o.err = mergeErr
	case err == nil:
	case isContextError(err):
		o.doubt, o.err = true, s.wrap("commit", err)
	case serverError(err) == erDataTooLong:
		o.err = s.refusedAsTooLarge(o.ctx, len(o.data), err)
	default:
		o.err = s.wrap("commit", err)
	}
}

// touchOne moves a session's expiry; o.ended says that the session is gone.
// The UPDATE changes no row also when another request moved the expiry
// further already: only then does a read ask whether the row is there.
func (s *Store) touchOne(o *op) {
	var changed int64
	changed, o.err = s.execOne(o, &s.touchStmt, "commit", o.expiry, o.token, o.token)
	if o.err != nil || changed > 0 {
		return
	}
	_, _, _, found, err := s.findOne(o.ctx, o.token)
	if err != nil {
		o.err = s.wrap("commit", err)
		return
	}
	o.ended = !found
}

// execOne runs a single-session write for o and returns how many rows it
// changed.
func (s *Store) execOne(o *op, l *lazyStmt, what string, args ...any) (int64, error) {
	var res sql.Result
	stmt, err := s.prepare(o.ctx, l)
	if err == nil {
		err = s.retry(o.ctx, func() error {
			var err error
			res, err = stmt.ExecContext(o.ctx, args...)
			return err
		})
		o.doubt = isContextError(err)
	}
	if err != nil {
		return 0, s.wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap(what, err)
	}
	return n, nil
}
