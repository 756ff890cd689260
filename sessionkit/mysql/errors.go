package mysql

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// ErrTooLarge is returned by Commit when the session data is longer than the
// table's data column can hold. Nothing is written: the session keeps the
// data it had.
var ErrTooLarge = errors.New("sessionkit/mysql: session data too large for the data column")

// ErrTableMissing matches, with errors.Is, every error the store returns
// because the session table does not exist. CheckSchema returns it as a
// *TableMissingError, which carries the statement that creates the table.
var ErrTableMissing = errors.New("sessionkit/mysql: session table does not exist")

// ErrClosed is returned by every operation of a Store after Close.
var ErrClosed = errors.New("sessionkit/mysql: store is closed")

// TableMissingError is CheckSchema's error for a session table that does not
// exist. It matches ErrTableMissing.
type TableMissingError struct {
	// Table is the quoted table name, as the store uses it in SQL.
	Table string
	// CreateStatement creates the recommended table, ready to paste into a
	// MySQL client.
	CreateStatement string
}

func (e *TableMissingError) Error() string {
	return fmt.Sprintf("sessionkit/mysql: session table %s does not exist", e.Table)
}

// Is makes errors.Is(err, ErrTableMissing) hold.
func (e *TableMissingError) Is(target error) bool { return target == ErrTableMissing }

// Server error numbers the store acts on.
const (
	erDataTooLong      = 1406 // ER_DATA_TOO_LONG: data over the column's capacity (strict mode)
	erLockWaitTimeout  = 1205 // ER_LOCK_WAIT_TIMEOUT: gave up waiting for a row lock
	erLockDeadlock     = 1213 // ER_LOCK_DEADLOCK: rolled back to break a deadlock, or a Galera certification conflict
	erGroupConflict    = 3101 // ER_TRANSACTION_ROLLBACK_DURING_COMMIT: a Group Replication certification conflict
	erNoSuchTable      = 1146 // ER_NO_SUCH_TABLE
	erDupEntry         = 1062 // ER_DUP_ENTRY: a row with that primary key exists
	erStatementTimeout = 1969 // ER_STATEMENT_TIMEOUT (MariaDB): max_statement_time exceeded
	erParse            = 1064 // ER_PARSE_ERROR: the server does not know a statement form
	erUnknown          = 1105 // ER_UNKNOWN_ERROR: how Vitess reports a statement form it does not know
	erUnknownVariable  = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
)

// serverError returns the server's error number, or 0 when err did not come
// from the server (a connection error, a context error).
func serverError(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// isLockError reports whether the server rolled a statement back for a
// lock: a deadlock or certification conflict, or a lock wait that ran out of
// time (innodb_lock_wait_timeout, or max_statement_time while waiting).
func isLockError(err error) bool {
	switch serverError(err) {
	case erLockDeadlock, erGroupConflict, erLockWaitTimeout, erStatementTimeout:
		return true
	}
	return false
}

// isConflict reports whether the server rolled a write back to break a
// deadlock or for a cluster's certification conflict: it may be sent again.
func isConflict(err error) bool {
	code := serverError(err)
	return code == erLockDeadlock || code == erGroupConflict
}

// wrap adds the operation and table to err, keeping context errors and the
// driver's errors reachable with errors.Is and errors.As.
func (s *Store) wrap(op string, err error) error {
	if serverError(err) == erNoSuchTable {
		return fmt.Errorf("sessionkit/mysql: %s on %s: %w: %w", op, s.table.quoted, ErrTableMissing, err)
	}
	return fmt.Errorf("sessionkit/mysql: %s on %s: %w", op, s.table.quoted, err)
}

// isContextError reports whether err is the end of a context rather than a
// failure of the server.
func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
