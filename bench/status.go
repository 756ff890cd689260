package bench

import (
	"context"
	"database/sql"
	"fmt"
)

// StatementCounts are the server's counters of prepared-statement commands
// (SHOW GLOBAL STATUS): what each store asks the server to do per operation.
// COM_STMT_PREPARE and COM_STMT_EXECUTE each cost a round trip;
// COM_STMT_CLOSE gets no reply but is one more packet for the server.
type StatementCounts struct {
	Prepare, Execute, Close, Queries int64
}

// ReadStatementCounts reads the server-wide counters. They count every
// client of the server, so deltas are exact only while nothing else runs on
// it.
func ReadStatementCounts(ctx context.Context, db *sql.DB) (StatementCounts, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_execute', 'Com_stmt_close', 'Queries')")
	if err != nil {
		return StatementCounts{}, err
	}
	defer rows.Close()
	var c StatementCounts
	for rows.Next() {
		var name string
		var value int64
		if err := rows.Scan(&name, &value); err != nil {
			return StatementCounts{}, err
		}
		switch name {
		case "Com_stmt_prepare":
			c.Prepare = value
		case "Com_stmt_execute":
			c.Execute = value
		case "Com_stmt_close":
			c.Close = value
		case "Queries":
			c.Queries = value
		}
	}
	return c, rows.Err()
}

// PerOp returns the counts from before to c divided by n operations, as
// text. The SHOW STATUS that reads the counters itself counts as one query,
// which is taken off.
func (c StatementCounts) PerOp(before StatementCounts, n int) string {
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
	return fmt.Sprintf("prepare %.2f, execute %.2f, close %.2f, queries %.2f",
		per(c.Prepare, before.Prepare), per(c.Execute, before.Execute),
		per(c.Close, before.Close), per(c.Queries-1, before.Queries))
}
