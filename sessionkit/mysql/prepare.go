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
	for {
		d := dialect(s.dialect.Load())
		st, err := s.db.PrepareContext(ctx, l.build(d))
		if err != nil {
			code := serverError(err)
			if d < dialectPlain && (code == erParse || code == erUnknownVariable || code == erUnknown) {
				s.dialect.CompareAndSwap(int32(d), int32(d+1))
				continue
			}
			return nil, err
		}
		if !l.stmt.CompareAndSwap(nil, st) {
			st.Close()
			return l.stmt.Load(), nil
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
