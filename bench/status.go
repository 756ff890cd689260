package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// StatementCounts are the server's counters of prepared-statement commands
// (SHOW GLOBAL STATUS): what each store asks the server to do per operation.
// COM_STMT_PREPARE and COM_STMT_EXECUTE each cost a round trip;
// COM_STMT_CLOSE gets no reply but is one more packet for the server.
type StatementCounts struct {
	Prepare, Execute, Close, Queries int64
}

// GlobalStatus reads the server-wide status counters (SHOW GLOBAL STATUS)
// of the given names, keyed by name as given; a counter the server does not
// have is left out.
func GlobalStatus(ctx context.Context, db *sql.DB, names ...string) (map[string]int64, error) {
	byLower := make(map[string]string, len(names))
	quoted := make([]string, len(names))
	for i, n := range names {
		byLower[strings.ToLower(n)] = n
		quoted[i] = "'" + n + "'"
	}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ("+strings.Join(quoted, ", ")+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := make(map[string]int64, len(names))
	for rows.Next() {
		var name string
		var value int64
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		if n, ok := byLower[strings.ToLower(name)]; ok {
			counts[n] = value
		}
	}
	return counts, rows.Err()
}

// ReadStatementCounts reads the server-wide counters. They count every
// client of the server, so deltas are exact only while nothing else runs on
// it.
func ReadStatementCounts(ctx context.Context, db *sql.DB) (StatementCounts, error) {
	c, err := GlobalStatus(ctx, db, "Com_stmt_prepare", "Com_stmt_execute", "Com_stmt_close", "Queries")
	if err != nil {
		return StatementCounts{}, err
	}
	return StatementCounts{Prepare: c["Com_stmt_prepare"], Execute: c["Com_stmt_execute"], Close: c["Com_stmt_close"], Queries: c["Queries"]}, nil
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
