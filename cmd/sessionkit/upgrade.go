package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

var upgradeTokensCommand = &command{
	name:    "upgrade-tokens",
	summary: "move sessions stored under plain tokens to their hash",
	details: `
upgrade-tokens moves every unexpired session stored under a plain token
(written by scs's mysqlstore, or with SESSION_HASH_TOKEN=false) to the
SHA-256 of its token, as the services do on a session's first use with
SESSION_UPGRADE_PLAIN_TOKENS=true, so that no plain token is left in the
table. Nobody is logged out. It walks the table in batches, showing its
progress, and ends with the sessions moved, the batches and the time; the
log line on stderr counts the rows it skipped (changed meanwhile, their
hash stored already, or unreadable). It is safe while the services run.

It refuses to run unless SESSION_HASH_TOKEN=true and
SESSION_UPGRADE_PLAIN_TOKENS=true are set for it, and they must be set for
every replica of the service first: a replica of an earlier version
without the switch writes rows under hashes that carry no mark of it, and
they would be hashed a second time, ending their sessions. It refuses, too,
on a table not marked as one of plain tokens, and shows the ALTER TABLE
that marks it: mark it only when every row stored under a hash carries the
mark (this version of sessionkit marks every such row it writes).`,
	flags: func(fs *flag.FlagSet) any {
		o := &upgradeOptions{}
		fs.IntVar(&o.batch, "batch", sessionmysql.DefaultUpgradeBatchSize, "rows read per batch")
		return o
	},
	db:  true,
	run: runUpgradeTokens,
}

type upgradeOptions struct {
	batch int
}

func runUpgradeTokens(ctx context.Context, a *app, c *command, opts any, _ []string) int {
	o := opts.(*upgradeOptions)
	if o.batch < 1 {
		return a.usageError(c, "-batch %d: must be at least 1", o.batch)
	}
	cfg, ok := a.config(c)
	if !ok {
		return exitUsage
	}
	if !cfg.HashToken || !cfg.UpgradePlainTokens {
		fmt.Fprintf(a.stderr, `sessionkit %s: refusing to run: it needs SESSION_HASH_TOKEN=true and SESSION_UPGRADE_PLAIN_TOKENS=true.
Set both for every replica of the service first, and deploy: a replica of
an earlier version without the switch writes rows under hashes that carry
no mark of it, which this command would hash a second time, ending those
sessions. Then run it with both set.
`, c.name)
		return exitUsage
	}
	// At Info level, the store's closing line counts the rows skipped:
	// those whose hash was stored already, changed meanwhile, unreadable.
	op, code := a.open(ctx, c, slog.New(slog.NewTextHandler(a.stderr, nil)))
	if op == nil {
		return code
	}
	defer op.close()
	p := newProgress(a.stdout, a.tty, "upgraded")
	n, err := op.store.UpgradeTokens(ctx, o.batch, p.update)
	p.end()
	fmt.Fprintf(a.stdout, "moved %s sessions of %s from a plain token to its hash in %s in %v\n",
		thousands(n), op.store.Table(), plural(int(p.statements), "batch"), p.elapsed())
	if err != nil {
		return a.fail(c, err)
	}
	return exitOK
}
