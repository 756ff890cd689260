package bench

import (
	"context"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// newTargets sets up every store of StoreNames, each on a fresh database of
// the one test server, holding the same sessions. It skips tb when there is
// no server (see mysqltest). Everything is removed when tb ends.
func newTargets(tb testing.TB, sessions Sessions) []*Target {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var targets []*Target
	for _, name := range StoreNames {
		cfg := mysqltest.Config(tb)
		t, err := NewTarget(ctx, name, cfg, sessions)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { t.DB.Close() })
		targets = append(targets, t)
	}
	return targets
}
