package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Process is one connection in the server's process list
// (information_schema.PROCESSLIST).
type Process struct {
	ID      int64
	Command string // what the connection is doing: "Query", "Execute", "Sleep"...
	State   string // what its statement is at, such as "Waiting for table metadata lock"
	Info    string // its statement, empty when it runs none
}

func (p Process) String() string {
	return fmt.Sprintf("%d %s %q: %s", p.ID, p.Command, p.State, p.Info)
}

// processListQuery lists the connections on the polling connection's
// database, other than that connection itself.
const processListQuery = "SELECT ID, COMMAND, COALESCE(STATE, ''), COALESCE(INFO, '') " +
	"FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB <=> DATABASE() ORDER BY ID"

// WaitForProcess polls the server's process list every 10 ms until match
// accepts a connection, and returns that connection: a test waits for a
// statement to be running, or blocked, rather than sleeping and hoping it is.
// It sees the connections whose current database is db's (each test has its
// own, see DB), other than the one it polls on, so db needs a connection to
// spare. When nothing has matched within timeout, the test fails with the
// process list as last seen.
//
// For example, to wait until a DELETE is blocked by LOCK TABLES:
//
//	mysqltest.WaitForProcess(t, db, 10*time.Second, func(p mysqltest.Process) bool {
//		return strings.HasPrefix(p.Info, "DELETE") && strings.Contains(p.State, "metadata lock")
//	})
func WaitForProcess(t testing.TB, db *sql.DB, timeout time.Duration, match func(Process) bool) Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seen []Process
	var failure error
	for {
		list, err := processList(ctx, db)
		if err == nil {
			for _, p := range list {
				if match(p) {
					return p
				}
			}
			seen, failure = list, nil
		} else if ctx.Err() == nil {
			failure = err
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, p := range seen {
				b.WriteString("\n\t" + p.String())
			}
			if len(seen) == 0 {
				b.WriteString("\n\t(no other connection)")
			}
			if failure != nil {
				fmt.Fprintf(&b, "\nlast poll failed: %v", failure)
			}
			t.Fatalf("mysqltest: no connection matched within %v; the process list was:%s", timeout, b.String())
			return Process{}
		case <-tick.C:
		}
	}
}

func processList(ctx context.Context, db *sql.DB) ([]Process, error) {
	rows, err := db.QueryContext(ctx, processListQuery)
	if err != nil {
		return nil, fmt.Errorf("reading the process list: %w", err)
	}
	defer rows.Close()
	var list []Process
	for rows.Next() {
		var p Process
		if err := rows.Scan(&p.ID, &p.Command, &p.State, &p.Info); err != nil {
			return nil, fmt.Errorf("reading the process list: %w", err)
		}
		list = append(list, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the process list: %w", err)
	}
	return list, nil
}
