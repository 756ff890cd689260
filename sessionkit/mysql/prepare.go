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
// use (see prepareIn).
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
// to the next one; a statement that is wrong in itself does not.
func (s *Store) prepareIn(ctx context.Context, prep func(context.Context, string) (*sql.Stmt, error), build func(dialect) string) (*sql.Stmt, error) {
	for {
		d := dialect(s.dialect.Load())
		st, err := prep(ctx, build(d))
		if err != nil {
			if d < dialectPlain && formRefused(err) && !s.takesForm(ctx, prep, d) {
				s.dialect.CompareAndSwap(int32(d), int32(d+1))
				continue
			}
			return nil, err
		}
		return st, nil
	}
}

// formRefused reports whether err is how a server refuses a statement form
// it does not know: a syntax error, an unknown variable in SET STATEMENT,
// or Vitess's unknown error. A statement that is wrong in itself gives the
// same errors, which takesForm tells apart.
func formRefused(err error) bool {
	switch serverError(err) {
	case erParse, erUnknownVariable, erUnknown:
		return true
	}
	return false
}

// takesForm reports whether the server takes statements in dialect d's
// form, by preparing one that is right in every other way: SELECT 1 with
// d's per-statement settings. The server's answer is kept once it has
// taken the form, so that later errors of single statements cost no probe.
// An error of the probe that is not a refusal of the form (a lost
// connection) answers yes for now: the caller gets its own error, and the
// next refused statement probes again.
func (s *Store) takesForm(ctx context.Context, prep func(context.Context, string) (*sql.Stmt, error), d dialect) bool {
	if s.formTaken.Load() == int32(d)+1 {
		return true
	}
	st, err := prep(ctx, formProbe(d))
	if err != nil {
		return !formRefused(err)
	}
	st.Close()
	s.formTaken.Store(int32(d) + 1)
	return true
}

// formProbe is a statement in dialect d's form that any server that takes
// the form runs.
func formProbe(d dialect) string { return bounded(d, writeLockBound, "SELECT", " 1") }

// close closes l's statement, if it was prepared.
func (l *lazyStmt) close() {
	if st := l.stmt.Swap(nil); st != nil {
		st.Close()
	}
}
