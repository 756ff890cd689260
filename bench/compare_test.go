package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// EnvRounds turns TestCompareStores on and says how many rounds it runs.
const EnvRounds = "SESSIONKIT_BENCH_ROUNDS"

// TestCompareStores measures every store in every case, one round after
// another, and prints a table of medians with the ratio to scs's mysqlstore.
// Within a round each case runs every store back to back, in an order that
// rotates from round to round, so that outside load and drift hit every
// store alike. It also prints the server's statement commands per operation.
// It runs only when SESSIONKIT_BENCH_ROUNDS is set, since it takes minutes:
//
//	SESSIONKIT_BENCH_ROUNDS=25 go test -count=1 -run TestCompareStores -v -benchtime 400ms -timeout 30m
func TestCompareStores(t *testing.T) {
	rounds, err := strconv.Atoi(os.Getenv(EnvRounds))
	if os.Getenv(EnvRounds) == "" {
		t.Skipf("set %s=25 to compare the stores (a few minutes per server)", EnvRounds)
	}
	if err != nil || rounds < 1 {
		t.Fatalf("%s=%q: want a positive number of rounds", EnvRounds, os.Getenv(EnvRounds))
	}
	sessions := NewSessions(SessionCount, SessionSize)
	targets := newTargets(t, sessions)
	describeServer(t, targets[0])
	printStatementCounts(t, targets, sessions)

	meter := NewCPUMeter(context.Background(), targets[0].DB)
	cmp := Comparison{ServerCPU: meter.MeasuresServer()}
	for round := range rounds {
		for _, c := range Cases() {
			for i := range targets {
				target := targets[(i+round)%len(targets)]
				var opErr error
				m := Measurement{}
				before := meter.Read()
				m.Result = testing.Benchmark(func(b *testing.B) {
					m.Ops += b.N
					if err := Run(b, c.Goroutines, c.Op(sessions, target.Store)); err != nil && opErr == nil {
						opErr = err
					}
				})
				m.CPU = meter.Read().Sub(before)
				if opErr != nil {
					t.Fatalf("%s, %s: %v", c, target.Name, opErr)
				}
				cmp.Add(c, target.Name, m)
				t.Logf("round %d/%d %-22s %-15s %8.0f ops/s %s, CPU µs/op client %.0f server %.0f",
					round+1, rounds, c, target.Name, OpsPerSec(m.Result), m.Result.MemString(), m.ClientCPUPerOp(), m.ServerCPUPerOp())
			}
		}
	}
	fmt.Printf("\nMedians of %d rounds; ratio of medians = median ops/s of the store / median ops/s of scs;\n", rounds)
	fmt.Printf("CPU ratio = median CPU time per op of scs / that of the store (server CPU measured: %v):\n\n", cmp.ServerCPU)
	if err := cmp.WriteTable(os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// describeServer prints what the figures depend on: the server's version
// and whether each commit waits for the log to reach the disk.
func describeServer(t *testing.T, target *Target) {
	t.Helper()
	var version, flush, binlog string
	err := target.DB.QueryRow("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@log_bin").Scan(&version, &flush, &binlog)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("server: %s, innodb_flush_log_at_trx_commit=%s, log_bin=%s\n", version, flush, binlog)
}

// printStatementCounts runs each operation of each store a fixed number of
// times on one goroutine and prints the server's statement commands per
// operation. The counters are server-wide: on a server that others use too,
// the figures are an upper bound.
func printStatementCounts(t *testing.T, targets []*Target, sessions Sessions) {
	t.Helper()
	const n = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Printf("server commands per operation (%d operations, 1 goroutine, server-wide counters):\n", n)
	for _, c := range Cases() {
		if c.Goroutines != 1 {
			continue
		}
		for _, target := range targets {
			op := c.Op(sessions, target.Store)
			before, err := ReadStatementCounts(ctx, target.DB)
			if err != nil {
				t.Fatal(err)
			}
			if err := runSerial(n, op); err != nil {
				t.Fatal(err)
			}
			after, err := ReadStatementCounts(ctx, target.DB)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("  %-6s %-15s %s\n", c.Name, target.Name, after.PerOp(before, n))
		}
	}
	fmt.Println()
}
