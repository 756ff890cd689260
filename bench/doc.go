// Package bench compares the speed of sessionkit's MySQL store
// (sessionkit.dev/sessionkit/mysql) with scs's mysqlstore
// (github.com/alexedwards/scs/mysqlstore) on one MariaDB or MySQL server.
//
// It lives in its own module so that scs's mysqlstore, which only the
// comparison needs, stays out of sessionkit's go.mod.
//
// # What runs
//
// Four stores, each on its own database of the same server, each with its
// own connection pool of the same size (PoolSize), each holding the same
// SessionCount sessions of SessionSize bytes under 43-character base64url
// tokens:
//
//   - "scs": scs's mysqlstore on the table from scs's README
//     (CHAR(43), BLOB, TIMESTAMP(6), index on expiry);
//   - "sessionkit": this project's store on that same table definition, so
//     that the code is the only difference between the two;
//   - "sessionkit-rec": this project's store on the recommended table that
//     its CreateTable makes (ascii_bin token, MEDIUMBLOB, DATETIME(6)), which
//     is what a new user gets;
//   - "sessionkit-unbatched": this project's store on the scs table with
//     batching off (MaxInflight: 0), every call a statement of its own, to
//     show what one round trip per call gives without batching.
//
// Each store's background cleanup is off. Find reads a random existing
// session; Commit rewrites a random existing session with new data and a new
// expiry (the upsert's update path, what most requests that touch the session
// do). Both run with 1 goroutine (a plain loop) and with 16 goroutines.
//
// # How to run
//
// The Go benchmarks, for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 5
//
// The side-by-side comparison, which interleaves the stores round by round
// (so that load from other processes hits all of them alike) and prints a
// table of medians with the ratio to scs, the CPU time per operation of
// client and server, and allocations per operation:
//
//	SESSIONKIT_BENCH_ROUNDS=25 go test -count=1 -run TestCompareStores -v -benchtime 400ms -timeout 30m
//
// Short runs and many rounds suit a busy machine: each round-by-round ratio
// compares runs made a moment apart.
//
// The server comes from sessionkit.dev/internal/mysqltest: the one named by
// SESSIONKIT_TEST_DSN, else a private MariaDB or MySQL server started from
// the binary on PATH. Without either, the benchmarks skip (or fail under
// SESSIONKIT_TEST_REQUIRE_DB=1).
//
// # Over HTTP
//
// NewHTTPHandler is the application cmd/benchserver serves, and RunHTTP the
// load that cmd/httpbench and TestMultiPrimaryHTTP put on it: clients with a
// session each, sending the read path (GET /get) or the write path (GET /)
// back to back, in turn to one or more application servers, counting the
// answers that miss their session's last write. cmd/httpbench runs
// sessionkit's store, scs's mysqlstore, scs's redisstore (Redis at
// 127.0.0.1:6379, left out with a message when there is none) and scs's
// memstore, each without and with an idle timeout, and reports what each
// request cost the database and Redis (server counters, CPU time per
// request).
//
// # At scale, and the sessions of a user
//
// TestScale loads a table of millions of sessions on a private server whose
// buffer pool it sets, and measures Find, Commit and new sessions against a
// table of 10,000, listing a user's sessions, the cleanup of a million
// expired rows while 16 goroutines commit (Writers), and the table's size on
// disk. TestUserSessions measures listing a user's sessions with a million
// others in the table, and what the user columns cost Find and Commit. Both
// run only when asked:
//
//	SESSIONKIT_BENCH_SCALE_ROWS=10000000 SESSIONKIT_BENCH_SCALE_BUFFER_POOL=2G SESSIONKIT_BENCH_SCALE_LOAD_POOL=12G \
//	  go test -count=1 -run TestScale -v -benchtime 1s -timeout 3h
//	SESSIONKIT_BENCH_USERS_ROUNDS=15 go test -count=1 -run TestUserSessions -v -benchtime 400ms -timeout 60m
//
// TestMultiPrimaryHTTP measures both paths with sessionkit's store on a
// 3-node Galera cluster (mysqltest.Cluster), with the store's causal reads
// and without them, against a single private server, in the same run. It
// runs only when SESSIONKIT_BENCH_CLUSTER_ROUNDS is set:
//
//	SESSIONKIT_BENCH_CLUSTER_ROUNDS=5 go test -count=1 -run TestMultiPrimaryHTTP -v -timeout 30m
package bench
