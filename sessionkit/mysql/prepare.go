package mysql

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// lazyStmt is a statement prepared on first use and then reused, which makes
// each operation one round trip (database/sql prepares it once on each
// connection it runs on). A failed prepare, say while the server is down, is
// tried again on the next use. No lock is held while preparing, so a caller
// whose prepare hangs on a dead server holds up no other caller: callers
// that race on first use each prepare, and all but one close theirs.
type lazyStmt struct {
	build func(dialect) string // the statement in each dialect
	stmt  atomic.Pointer[sql.Stmt]
}

func fixedStmt(query string) lazyStmt {
	return lazyStmt{build: func(dialect) string { return query }}
}

// prepare returns l's statement, preparing it in the store's dialect on first
// use. A server that does not understand the dialect's form moves the whole
// store to the next one.
func (s *Store) prepare(ctx context.Context, l *lazyStmt) (*sql.Stmt, error) {
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	if s.closing.Err() != nil {
		return nil, ErrClosed // a statement prepared now would never be closed
	}
	st, err := s.prepareIn(ctx, s.db.PrepareContext, l.build)
	if err != nil {
		return nil, err
	}
	if !l.stmt.CompareAndSwap(nil, st) {
		st.Close()
		return l.stmt.Load(), nil
	}
	return st, nil
}

// prepareOn prepares a statement on one connection, in the store's dialect.
func (s *Store) prepareOn(ctx context.Context, conn *sql.Conn, build func(dialect) string) (*sql.Stmt, error) {
	return s.prepareIn(ctx, conn.PrepareContext, build)
}

// prepareIn prepares build's statement with prep in the store's dialect. A
// server that does not understand the dialect's form moves the whole store
// to the next one.
func (s *Store) prepareIn(ctx context.Context, prep func(context.Context, string) (*sql.Stmt, error), build func(dialect) string) (*sql.Stmt, error) {
	for {
		d := dialect(s.dialect.Load())
		st, err := prep(ctx, build(d))
		if err != nil {
			code := serverError(err)
			if d < dialectPlain && (code == erParse || code == erUnknownVariable || code == erUnknown) {
				s.dialect.CompareAndSwap(int32(d), int32(d+1))
				continue
			}
			return nil, err
		}
		return st, nil
	}
}

// close closes l's statement, if it was prepared.
func (l *lazyStmt) close() {
	if st := l.stmt.Swap(nil); st != nil {
		st.Close()
	}
}
