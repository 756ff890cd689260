package mysqltest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWaitForProcessFindsARunningStatement waits for a statement that
// another connection on the same database is running.
func TestWaitForProcessFindsARunningStatement(t *testing.T) {
	t.Parallel()
	db := DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := db.ExecContext(ctx, "DO SLEEP(30)"); done <- err }()
	defer func() { cancel(); <-done }()

	p := WaitForProcess(t, db, 10*time.Second, func(p Process) bool {
		return strings.HasPrefix(p.Info, "DO SLEEP")
	})
	if p.ID == 0 || p.Command != "Query" {
		t.Errorf("WaitForProcess returned %v; want the connection running DO SLEEP", p)
	}
}
