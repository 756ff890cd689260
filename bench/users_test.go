package bench

import (
	"context"
	"database/sql"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqltest"
	sessionkit "sessionkit.dev/sessionkit/mysql"
)

// Environment variables of TestUserSessions. EnvUsersRounds turns it on.
const (
	// EnvUsersRounds is the number of interleaved rounds of the cost
	// comparison.
	EnvUsersRounds = "SESSIONKIT_BENCH_USERS_ROUNDS"
	// EnvUsersOthers is the number of other sessions in the table whose
	// users' sessions are listed (1000000 unless set).
	EnvUsersOthers = "SESSIONKIT_BENCH_USERS_OTHERS"
)

// The three set-ups of the cost comparison.
const (
	usersNoColumns = "no user columns, anonymous"
	usersAnonymous = "user columns, anonymous"
	usersBound     = "user columns, with user"
)

// PreviousTable is the table that the store's CreateTable made before the
// user columns: the recommended table without them.
const PreviousTable = `CREATE TABLE sessions (
  token  CHAR(43) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  data   MEDIUMBLOB  NOT NULL,
  expiry DATETIME(6) NOT NULL,
  INDEX sessions_expiry_idx (expiry)
)`

// usersRequest is the request every call of the comparison runs in, as
// sessionkit's middleware passes it to the store.
var usersRequest = &sessionkit.Request{IP: "203.0.113.7",
	UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"}

// TestUserSessions measures the sessions of a user (issue 10):
//
//   - Store.Sessions for users of 5 sessions each, with EnvUsersOthers
//     other sessions in the table (a fifth of them bound to other users),
//     each user listed once and then one user again and again, with the
//     query's plan and the server's index reads per call;
//   - what the user columns cost Find and Commit, 1 and 16 goroutines,
//     round after round in one run: anonymous sessions on the table without
//     the user columns (the previous version's), anonymous sessions on the
//     table with them, and sessions bound to a user on it. Every call runs
//     in a request's context (WithRequest, an address and a user agent), as
//     sessionkit's middleware makes it; the data are scs's gob encoding of
//     the same number of values and bytes, one of them the user's ID for the
//     bound sessions.
//
// It runs only when SESSIONKIT_BENCH_USERS_ROUNDS is set, against the
// private server of internal/mysqltest (64 MiB buffer pool) or
// SESSIONKIT_TEST_DSN's:
//
//	SESSIONKIT_BENCH_USERS_ROUNDS=15 go test -count=1 -run TestUserSessions -v -benchtime 400ms -timeout 60m
func TestUserSessions(t *testing.T) {
	if os.Getenv(EnvUsersRounds) == "" {
		t.Skipf("set %s=15 to measure listing a user's sessions and what the user columns cost (about 15 minutes)", EnvUsersRounds)
	}
	rounds := envInt(t, EnvUsersRounds, 15)
	others := envInt(t, EnvUsersOthers, 1_000_000)
	ctx := context.Background()
	fmt.Printf("load average at start: %s\n", LoadAverage())

	listCfg := mysqltest.Config(t)
	admin, err := OpenPool(listCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	describeScaleServer(t, admin)
	listing := openScaleStore(t, listCfg, "listing")
	t0 := time.Now()
	if err := loadScaleTable(ctx, admin, others, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("loaded %d other sessions in %v\n", others, time.Since(t0).Round(time.Second))
	listUserSessions(t, admin, listing.Store.(*sessionkit.Store), 200, 5)
	printTableSize(t, admin, "of the listing table")

	// The cost of the user columns.
	targets := []*Target{
		usersTarget(t, usersNoColumns, mysqltest.Config(t)),
		usersTarget(t, usersAnonymous, mysqltest.Config(t)),
		usersTarget(t, usersBound, mysqltest.Config(t)),
	}
	tokens := NewSessions(SessionCount, 0).Tokens
	data := map[string]Sessions{}
	for _, tg := range targets {
		s := Sessions{Tokens: tokens, Data: usersData(t, len(tokens), tg.Name == usersBound)}
		data[tg.Name] = s
		store := tg.Store.(scs.CtxStore)
		if err := s.each(ctx, goroutinesToWarm, func(i int) error {
			return store.CommitCtx(usersContext(), s.Tokens[i], s.Data[i], time.Now().Add(SessionLifetime))
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Warm(ctx, tg.Store, goroutinesToWarm); err != nil {
			t.Fatal(err)
		}
	}
	var bound int
	if err := targets[2].DB.QueryRow("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL AND ip IS NOT NULL AND user_agent IS NOT NULL").Scan(&bound); err != nil {
		t.Fatal(err)
	}
	if bound != len(tokens) {
		t.Fatalf("%d of %d sessions bound to a user with their metadata", bound, len(tokens))
	}
	fmt.Printf("data: %d bytes (anonymous), %d bytes (with user)\n", len(data[usersAnonymous].Data[0]), len(data[usersBound].Data[0]))

	meter := NewCPUMeter(ctx, targets[0].DB)
	cmp := Comparison{ServerCPU: meter.MeasuresServer(), Baseline: usersNoColumns, Order: []string{usersNoColumns, usersAnonymous, usersBound}}
	for round := range rounds {
		for _, c := range Cases() {
			for i := range targets {
				tg := targets[(i+round)%len(targets)]
				op := ctxFind(data[tg.Name], tg.Store.(scs.CtxStore))
				if c.Name == "Commit" {
					op = ctxCommit(data[tg.Name], tg.Store.(scs.CtxStore))
				}
				var opErr error
				m := Measurement{}
				before := meter.Read()
				m.Result = testing.Benchmark(func(b *testing.B) {
					m.Ops += b.N
					if err := Run(b, c.Goroutines, op); err != nil && opErr == nil {
						opErr = err
					}
				})
				m.CPU = meter.Read().Sub(before)
				if opErr != nil {
					t.Fatalf("%s, %s: %v", c, tg.Name, opErr)
				}
				cmp.Add(c, tg.Name, m)
				t.Logf("round %d/%d %-22s %-28s %8.0f ops/s %s, CPU µs/op client %.0f server %.0f; load %s",
					round+1, rounds, c, tg.Name, OpsPerSec(m.Result), m.Result.MemString(), m.ClientCPUPerOp(), m.ServerCPUPerOp(), LoadAverage())
			}
		}
	}
	fmt.Printf("\nMedians of %d rounds, ratios to %q:\n\n", rounds, usersNoColumns)
	if err := cmp.WriteTable(os.Stdout); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nload average at end: %s\n", LoadAverage())
}

// usersTarget makes the table of the set-up name on cfg and a store on it.
func usersTarget(t *testing.T, name string, cfg *mysql.Config) *Target {
	t.Helper()
	if name != usersNoColumns {
		return openScaleStore(t, cfg, name)
	}
	db, err := OpenPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(PreviousTable); err != nil {
		t.Fatal(err)
	}
	s := sessionkit.NewWithCleanupInterval(db, 0)
	t.Cleanup(func() { s.Close() })
	return &Target{Name: name, Store: s, DB: db}
}

func usersContext() context.Context {
	return sessionkit.WithRequest(context.Background(), usersRequest)
}

// usersData returns n sessions as scs's GobCodec encodes them: a CSRF
// token, a flash message and a user's ID, or for anonymous sessions a value
// of the same length under a key of the same length.
func usersData(t *testing.T, n int, bound bool) [][]byte {
	t.Helper()
	key := strings.Repeat("x", len(sessionkit.UserKey))
	if bound {
		key = sessionkit.UserKey
	}
	out := make([][]byte, n)
	for i := range out {
		b, err := scs.GobCodec{}.Encode(time.Now().Add(SessionLifetime), map[string]any{
			"csrf_token": newToken(),
			"flash":      "Your changes have been saved. " + strings.Repeat(".", 100),
			key:          fmt.Sprintf("user-%08d", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// ctxFind finds a random session in a request's context.
func ctxFind(s Sessions, store scs.CtxStore) Op {
	return func() error {
		token := s.Tokens[mathrand.IntN(len(s.Tokens))]
		_, found, err := store.FindCtx(usersContext(), token)
		if err == nil && !found {
			err = fmt.Errorf("find %s: session not found", token)
		}
		return err
	}
}

// ctxCommit rewrites a random session in a request's context.
func ctxCommit(s Sessions, store scs.CtxStore) Op {
	return func() error {
		i := mathrand.IntN(len(s.Tokens))
		return store.CommitCtx(usersContext(), s.Tokens[i], s.Data[i], time.Now().Add(SessionLifetime))
	}
}

// listUserSessions gives users users perUser sessions each, through the
// store in a request's context, then lists each user's sessions once, then
// one user's again and again, and prints the time per call, the query's
// plan and the server's reads per call.
func listUserSessions(t *testing.T, admin *sql.DB, s *sessionkit.Store, users, perUser int) {
	t.Helper()
	ctx := context.Background()
	name := func(u int) string { return "listed-user-" + strconv.Itoa(u) }
	for u := range users {
		for range perUser {
			b, err := scs.GobCodec{}.Encode(time.Now().Add(SessionLifetime), map[string]any{sessionkit.UserKey: name(u), "csrf_token": newToken()})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CommitCtx(usersContext(), newToken(), b, time.Now().Add(SessionLifetime)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, err := readServerReads(admin)
	if err != nil {
		t.Fatal(err)
	}
	order := mathrand.Perm(users)
	once := make([]time.Duration, 0, users)
	for _, u := range order {
		t0 := time.Now()
		list, err := s.Sessions(ctx, name(u))
		once = append(once, time.Since(t0))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != perUser {
			t.Fatalf("%s: %d sessions; want %d", name(u), len(list), perUser)
		}
	}
	after, err := readServerReads(admin)
	if err != nil {
		t.Fatal(err)
	}
	again := make([]time.Duration, 0, 1000)
	for range 1000 {
		t0 := time.Now()
		if _, err := s.Sessions(ctx, name(order[0])); err != nil {
			t.Fatal(err)
		}
		again = append(again, time.Since(t0))
	}
	report := func(what string, ds []time.Duration) {
		slices.Sort(ds)
		fmt.Printf("| %s | %d | %v | %v | %v | %v |\n", what, len(ds), ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*9/10].Round(time.Microsecond),
			ds[len(ds)*99/100].Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
	}
	fmt.Printf("\nSessions(user), %d sessions a user:\n\n| calls | n | median | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n", perUser)
	report("each user once", once)
	report("one user again and again", again)
	per := after.minus(before, float64(users))
	fmt.Printf("\nper call, each user once: %.1f buffer pool page requests, %.2f disk page reads, Handler_read_key %.1f, Handler_read_next %.1f\n",
		per.pageRequests, per.diskReads, per.readKey, per.readNext)
	// The plan of the store's query (users.go), as the server makes it.
	rows, err := admin.Query("EXPLAIN SELECT token, created, last_seen, ip, user_agent FROM sessions " +
		"WHERE user_id = 'listed-user-1' AND CAST(user_id AS BINARY) = CAST('listed-user-1' AS BINARY) AND expiry > UTC_TIMESTAMP(6) ORDER BY last_seen DESC")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	fmt.Printf("EXPLAIN: %s\n", strings.Join(cols, " | "))
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vals {
			out = append(out, v.String)
		}
		fmt.Printf("         %s\n", strings.Join(out, " | "))
	}
	fmt.Println()
}
