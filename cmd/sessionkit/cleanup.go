package main

import (
	"context"
	"fmt"
)

var cleanupCommand = &command{
	name:    "cleanup",
	summary: "delete expired sessions now, in batches",
	details: `
cleanup runs one pass of the expired-session cleanup now: it deletes every
expired session, oldest first along the expiry index, SESSION_CLEANUP_BATCH
rows (1000) a statement, pacing itself as the services' background cleanup
does, so that a busy server keeps serving sessions. It shows its progress
(one line rewritten in place on a terminal, a line every few seconds
otherwise) and ends with the rows deleted, the statements and the time.

It runs whether or not a service's background cleanup is running (it does
not take the replicas' cleanup lock); two passes at once only wait for each
other's row locks. Interrupt it (Ctrl-C) to stop after the current
statement: what was deleted stays deleted.`,
	db:  true,
	run: runCleanup,
}

func runCleanup(ctx context.Context, a *app, c *command, _ any, _ []string) int {
	op, code := a.open(ctx, c, nil)
	if op == nil {
		return code
	}
	defer op.close()
	p := newProgress(a.stdout, a.tty, "deleted")
	n, err := op.store.DeleteExpired(ctx, p.update)
	p.end()
	fmt.Fprintf(a.stdout, "deleted %s expired sessions from %s in %s in %v\n",
		thousands(n), op.store.Table(), plural(int(p.statements), "statement"), p.elapsed())
	if err != nil {
		return a.fail(c, err)
	}
	return exitOK
}
