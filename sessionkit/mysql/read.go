package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
)

// runReads runs a batch of Finds, under a context that ends when every
// caller in it has gone.
func (s *Store) runReads(batch []*op) {
	ctx, cancel := s.batchContext(batch)
	defer cancel()
	if err := s.readBatch(ctx, batch); err != nil {
		for _, o := range batch {
			o.err = err
		}
	}
}

// readBatch finds the sessions of the batch with one statement. The server
// may match a token by its column's collation; only a byte-for-byte equal
// token counts as found.
func (s *Store) readBatch(ctx context.Context, batch []*op) error {
	if err := s.checkCluster(ctx); err != nil {
		return s.wrap("find", err)
	}
	if _, err := s.hasUsers(ctx); err != nil {
		return err
	}
	if len(batch) == 1 {
		o := batch[0]
		var err error
		o.data, o.expiry, o.stale, o.found, err = s.findOne(ctx, o.token)
		return err
	}
	size := sizeFor(len(batch))
	args := make([]any, 0, batchSizes[size])
	for i := 0; i < batchSizes[size]; i++ {
		args = append(args, batch[min(i, len(batch)-1)].token)
	}
	stmt, err := s.prepare(ctx, &s.findMany[size])
	if err != nil {
		return s.wrap("find", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return s.wrap("find", err)
	}
	defer rows.Close()
	type row struct {
		data   []byte
		expiry string
		stale  bool
	}
	found := make(map[string]row, len(batch))
	for rows.Next() {
		var token string
		var r row
		if err := rows.Scan(&token, &r.data, &r.expiry, &r.stale); err != nil {
			return s.wrap("find", err)
		}
		found[token] = r
	}
	if err := rows.Err(); err != nil {
		return s.wrap("find", err)
	}
	given := make(map[string]bool, len(batch))
	for _, o := range batch {
		var r row
		r, o.found = found[o.token]
		o.data, o.expiry, o.stale = r.data, r.expiry, r.stale
		if given[o.token] {
			o.data = bytes.Clone(o.data) // one token asked twice: no shared slice
		}
		given[o.token] = true
	}
	return nil
}

// findOne runs the single-token Find statement.
func (s *Store) findOne(ctx context.Context, token string) (b []byte, expiry string, stale, found bool, err error) {
	stmt, err := s.prepare(ctx, &s.find)
	if err != nil {
		return nil, "", false, false, s.wrap("find", err)
	}
	err = stmt.QueryRowContext(ctx, token, token).Scan(&b, &expiry, &stale)
	if errors.Is(err, sql.ErrNoRows) {
		if ctx.Err() != nil {
			// database/sql may report a query cut short by the context as
			// no rows: not found is not known then.
			return nil, "", false, false, s.wrap("find", ctx.Err())
		}
		return nil, "", false, false, nil
	}
	if err != nil {
		return nil, "", false, false, s.wrap("find", err)
	}
	return b, expiry, stale, true, nil
}
