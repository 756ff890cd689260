package main

import (
	"context"
	"fmt"
	"io"
	"time"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

var statsCommand = &command{
	name:    "stats",
	summary: "rows, live and expired, data sizes, sessions per user",
	details: `
stats reports what the session table holds: its rows, live and expired (not
yet deleted by cleanup), the oldest and newest expiry, the distribution of
the session data's size (min, median, p90, p99, max, total), the server's
estimate of its size on disk and, where the table has the user columns, how
many users have sessions and how many each (max and distribution).

On a large table it reads indexes, not rows, where it can: the counts read
the expiry index once (a million rows take a second or two, ten million
tens of seconds), the sessions per user the user_id index once (so they
include expired sessions not yet deleted). Data sizes are exact up to 100,000 rows; above that they come
from a sample of 10,000 rows at random points of the primary key, and the
total is an estimate. No statement takes row locks.`,
	db:  true,
	run: runStats,
}

func runStats(ctx context.Context, a *app, c *command, _ any, _ []string) int {
	op, code := a.open(ctx, c, nil)
	if op == nil {
		return code
	}
	defer op.close()
	start := time.Now()
	st, err := op.store.TableStats(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	printStats(a.stdout, op.store.Table(), st, time.Since(start))
	return exitOK
}

func printStats(w io.Writer, table string, st sessionmysql.TableStats, took time.Duration) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-14s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("table", "%s (read in %v)", table, took.Round(time.Millisecond))
	line("server time", "%s", formatTime(st.At))
	line("rows", "%s", thousands(st.Rows))
	line("live", "%s", thousands(st.Live))
	line("expired", "%s (not yet deleted by cleanup)", thousands(st.Expired))
	if st.Rows > 0 {
		line("oldest expiry", "%s", formatTime(st.OldestExpiry))
		line("newest expiry", "%s", formatTime(st.NewestExpiry))
		d := st.DataBytes
		line("data bytes", "min %s, median %s, p90 %s, p99 %s, max %s", thousands(d.Min), thousands(d.Median),
			thousands(d.P90), thousands(d.P99), thousands(d.Max))
		if d.Sampled {
			line("", "from a sample of %s rows; total about %s", thousands(d.Count), bytesText(d.Total))
		} else {
			line("", "over all %s rows; total %s", thousands(d.Count), bytesText(d.Total))
		}
	}
	line("on disk", "about %s (data and indexes, the server's estimate)", bytesText(st.DiskBytes))
	if !st.HasUsers {
		line("users", "the table has no user columns")
		return
	}
	u := st.Users
	line("users", "%s with sessions; %s sessions bound to a user", thousands(u.Users), thousands(u.Sessions))
	if u.Users > 0 {
		p := u.PerUser
		line("per user", "min %d, median %d, p90 %d, p99 %d, max %d", p.Min, p.Median, p.P90, p.P99, p.Max)
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// bytesText is n bytes in bytes, KiB, MiB or GiB.
func bytesText(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d bytes", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
}
