package mysql

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
)

// newToken returns a token as scs makes one.
func newToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// upgradeConfig turns plain-token upgrades on.
func upgradeConfig(c *Config) {
	c.HashedTokens = true
	c.UpgradePlainTokens = true
}

// writePlain stores a session under a plain token with scs's mysqlstore.
func writePlain(t testing.TB, db *sql.DB, token string, data []byte) {
	t.Helper()
	if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(token, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// markPlainTokens marks the session table as one of plain tokens, as an
// operator does before turning UpgradePlainTokens on.
func markPlainTokens(t testing.TB, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec("ALTER TABLE sessions COMMENT = '" + PlainTokensComment + "'"); err != nil {
		t.Fatal(err)
	}
}

// rowExists reports whether a row is stored under exactly token.
func rowExists(t testing.TB, db *sql.DB, token string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sessions WHERE CAST(token AS BINARY) = CAST(? AS BINARY)", token).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func findWithCookie(s *Store, plain string) ([]byte, bool, error) {
	return s.FindCtx(WithRequest(context.Background(), &Request{PlainToken: plain}), HashToken(plain))
}

func TestUpgradeOnFind(t *testing.T) {
	t.Parallel()
	for _, def := range tableDefinitions {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, def.ddl)
			markPlainTokens(t, db)
			s, _ := encryptedStore(t, db, func(c *Config) { upgradeConfig(c); c.TouchInterval = time.Minute })
			plain := newToken(t)
			data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada"})
			writePlain(t, db, plain, data)

			got, found, err := findWithCookie(s, plain)
			if err != nil || !found || !bytes.Equal(got, data) {
				t.Fatalf("Find of the hash with the plain cookie = %q, %v, %v; want the plain session", got, found, err)
			}
			if rowExists(t, db, plain) {
				t.Error("the row under the plain token is still there")
			}
			if stored := rawData(t, db, HashToken(plain)); flagsOf(stored) != flagHashed || !bytes.Equal(stored[headerLen:], data) {
				t.Errorf("the moved row is % x...; want a header marking a hashed token, then the data", stored[:min(8, len(stored))])
			}
			// From now on it is found by its hash alone, and scs's
			// mysqlstore no longer finds it under the plain token.
			mustFind(t, s, HashToken(plain), string(data))
			if _, found, _ := mysqlstore.NewWithCleanupInterval(db, 0).Find(plain); found {
				t.Error("the plain token still finds the session")
			}
			if st := s.Stats(); st.TokensUpgraded != 1 {
				t.Errorf("TokensUpgraded = %d; want 1", st.TokensUpgraded)
			}
		})
	}
}

// TestUpgradeOnFindEncrypted: a row encrypted under its plain token is
// sealed again under the hash when it moves.
func TestUpgradeOnFindEncrypted(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	markPlainTokens(t, db)
	key := newKey(t)
	old, _ := encryptedStore(t, db, nil, key) // hashing off, encryption on
	plain := newToken(t)
	if err := old.Commit(plain, []byte("encrypted under the plain token"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, _ := encryptedStore(t, db, upgradeConfig, key)
	got, found, err := findWithCookie(s, plain)
	if err != nil || !found || string(got) != "encrypted under the plain token" {
		t.Fatalf("Find = %q, %v, %v", got, found, err)
	}
	stored := rawData(t, db, HashToken(plain))
	if !sealedWith(stored, key) || flagsOf(stored)&flagHashed == 0 {
		t.Fatalf("the moved row is not sealed and marked: % x", stored[:8])
	}
	mustFind(t, s, HashToken(plain), "encrypted under the plain token")
}

// TestUpgradeRefusesStoredHash: someone who holds a copy of the table and
// presents a stored hash as their cookie gets no session, and the row of
// the session's owner stays where it is.
func TestUpgradeRefusesStoredHash(t *testing.T) {
	t.Parallel()
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			db := newDB(t, []string{recommendedTable})
			markPlainTokens(t, db)
			var keys [][]byte
			if encrypted {
				keys = append(keys, newKey(t))
			}
			s, _ := encryptedStore(t, db, upgradeConfig, keys...)
			victim := HashToken(newToken(t)) // what the table holds
			if err := s.Commit(victim, []byte("the victim's session"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			before := rawData(t, db, victim)
			got, found, err := findWithCookie(s, victim)
			if err != nil || found || got != nil {
				t.Fatalf("Find with a stored hash as the cookie = %q, %v, %v; want nothing", got, found, err)
			}
			if !bytes.Equal(rawData(t, db, victim), before) || rowExists(t, db, HashToken(victim)) {
				t.Fatal("the victim's row was moved or changed")
			}
			if st := s.Stats(); st.TokensUpgraded != 0 {
				t.Errorf("TokensUpgraded = %d; want 0", st.TokensUpgraded)
			}
		})
	}
}

// TestUpgradeRefusesHashStoredWithoutTheSwitch: a session that a store
// with hashing on stored before the upgrade switch was turned on, without
// encryption (sessionkit's defaults), is marked as stored under a hash, so
// that someone holding a copy of the table who sends its stored token as
// the cookie gets nothing once the switch is on, and its owner keeps it.
func TestUpgradeRefusesHashStoredWithoutTheSwitch(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	markPlainTokens(t, db) // the table also held plain sessions to upgrade
	before, _ := encryptedStore(t, db, func(c *Config) { c.HashedTokens = true })
	victim := HashToken(newToken(t)) // what the table holds, and a copy of it shows
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "admin"})
	if err := before.Commit(victim, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stored := rawData(t, db, victim)

	s, _ := encryptedStore(t, db, upgradeConfig)
	got, found, err := findWithCookie(s, victim)
	if err != nil || found || got != nil {
		t.Fatalf("Find with a stored hash as the cookie = %q, %v, %v; want nothing", got, found, err)
	}
	if !bytes.Equal(rawData(t, db, victim), stored) || rowExists(t, db, HashToken(victim)) {
		t.Fatal("the victim's row was moved or changed")
	}
	mustFind(t, s, victim, string(data))
	if st := s.Stats(); st.TokensUpgraded != 0 {
		t.Errorf("TokensUpgraded = %d; want 0", st.TokensUpgraded)
	}
}

// TestUpgradeNeedsAMarkedTable: rows that other software stored under
// hashes carry no mark, so the switch moves nothing on a table that the
// operator has not marked as one of plain tokens; CheckSchema and
// UpgradeTokens say how to mark it, and once it is marked, plain sessions
// are upgraded.
func TestUpgradeNeedsAMarkedTable(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	// A session stored under a hash by scs's HashTokenInStore over
	// mysqlstore: nothing marks it.
	victim := HashToken(newToken(t))
	writePlain(t, db, victim, encode(t, time.Now().Add(time.Hour), map[string]any{"user": "admin"}))
	plain := newToken(t)
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada"})
	writePlain(t, db, plain, data)
	s, logs := encryptedStore(t, db, upgradeConfig)

	for _, cookie := range []string{victim, plain} {
		if got, found, err := findWithCookie(s, cookie); err != nil || found {
			t.Fatalf("Find on an unmarked table = %q, %v, %v; want nothing", got, found, err)
		}
		if !rowExists(t, db, cookie) || rowExists(t, db, HashToken(cookie)) {
			t.Fatal("a row was moved on an unmarked table")
		}
	}
	if !strings.Contains(logs.String(), "not marked as one of plain tokens") {
		t.Errorf("the log does not say why nothing was upgraded:\n%s", logs)
	}
	err := s.CheckSchema(context.Background())
	if !errors.Is(err, errNotPlainTokenTable) || !strings.Contains(err.Error(), "\n\tALTER TABLE `sessions` COMMENT = '"+PlainTokensComment+"';\n") {
		t.Fatalf("CheckSchema on an unmarked table: %v; want the statement that marks it", err)
	}
	if n, err := s.UpgradeTokens(context.Background(), 10, nil); n != 0 || !errors.Is(err, errNotPlainTokenTable) {
		t.Fatalf("UpgradeTokens on an unmarked table = %d, %v", n, err)
	}
	if !rowExists(t, db, victim) || !rowExists(t, db, plain) {
		t.Fatal("UpgradeTokens moved a row on an unmarked table")
	}

	// The operator marks the table (keeping a comment of their own).
	if _, err := db.Exec("ALTER TABLE sessions COMMENT = 'sessions of the shop; " + PlainTokensComment + "'"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(context.Background()); err != nil {
		t.Fatalf("CheckSchema on a marked table: %v", err)
	}
	if got, found, err := findWithCookie(s, plain); err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("Find of a plain session on a marked table = %q, %v, %v", got, found, err)
	}
}

// TestUpgradeConcurrentFirstRequests: requests that arrive together with the
// same plain cookie all get the one session; none is lost.
func TestUpgradeConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	markPlainTokens(t, db)
	s, _ := encryptedStore(t, db, upgradeConfig, newKey(t))
	const sessions, requests = 8, 16
	plains, data := make([]string, sessions), make([][]byte, sessions)
	for i := range plains {
		plains[i] = newToken(t)
		data[i] = encode(t, time.Now().Add(time.Hour), map[string]any{"n": i})
		writePlain(t, db, plains[i], data[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions*requests)
	start := make(chan struct{})
	for i, plain := range plains {
		for range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, found, err := findWithCookie(s, plain)
				if err != nil || !found || !bytes.Equal(got, data[i]) {
					errs <- fmt.Errorf("session %d: Find = %q, %v, %v", i, got, found, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countRows(t, db, "TRUE"); n != sessions {
		t.Errorf("%d rows; want %d, one per session", n, sessions)
	}
	for _, plain := range plains {
		if rowExists(t, db, plain) || !rowExists(t, db, HashToken(plain)) {
			t.Errorf("a session is not under its hash alone")
		}
	}
	if st := s.Stats(); st.TokensUpgraded != sessions {
		t.Errorf("TokensUpgraded = %d; want %d", st.TokensUpgraded, sessions)
	}
}

// executed counts the statements the single connection of db has executed.
func executed(t *testing.T, db *sql.DB) int {
	t.Helper()
	var name string
	var n int
	if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Com_stmt_execute'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUpgradeSwitchOffCostsOneLookup: without the switch, a plain session
// is not found, and a miss is one statement; with it, a miss is two.
func TestUpgradeSwitchOffCostsOneLookup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		set        func(*Config)
		statements int
	}{
		{"off", func(c *Config) { c.HashedTokens = true }, 1},
		{"on", upgradeConfig, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, []string{recommendedTable})
			markPlainTokens(t, db)
			db.SetMaxOpenConns(1) // the session counters see every statement
			s, _ := encryptedStore(t, db, tc.set)
			plain := newToken(t)
			writePlain(t, db, plain, []byte("plain"))
			// First use: the table's columns and comment are read.
			mustNotFind(t, s, HashToken(newToken(t)))
			if err := s.CheckSchema(context.Background()); err != nil {
				t.Fatal(err)
			}

			unknown := newToken(t)
			before := executed(t, db)
			if _, found, err := findWithCookie(s, unknown); found || err != nil {
				t.Fatalf("Find of an unknown cookie: %v, %v", found, err)
			}
			if n := executed(t, db) - before; n != tc.statements {
				t.Errorf("an unknown cookie cost %d statements; want %d", n, tc.statements)
			}
			_, found, err := findWithCookie(s, plain)
			if err != nil || found != (tc.name == "on") {
				t.Fatalf("Find of a plain session: found %v, %v", found, err)
			}
			if rowExists(t, db, plain) == found {
				t.Errorf("the plain row was moved: %v; want %v", !rowExists(t, db, plain), found)
			}
		})
	}
}

// TestUpgradeTokensWhileWriting runs the bulk upgrade while requests upgrade
// sessions on first use, change upgraded sessions and make new ones: every
// plain session ends under its hash with its last data, none is lost, and
// no session written meanwhile is moved.
func TestUpgradeTokensWhileWriting(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{usersTable})
	markPlainTokens(t, db)
	key := newKey(t)
	s, logs := encryptedStore(t, db, upgradeConfig, key)
	const plainSessions = 600
	plains, plainData := make([]string, plainSessions), make([][]byte, plainSessions)
	insert := mysqlstore.NewWithCleanupInterval(db, 0)
	for i := range plains {
		plains[i] = newToken(t)
		plainData[i] = encode(t, time.Now().Add(time.Hour), map[string]any{"plain": i})
		if err := insert.Commit(plains[i], plainData[i], time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var last sync.Map // plain token -> the data last committed under its hash
	var fresh sync.Map
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < plainSessions && !stop.Load(); i += 4 {
				plain := plains[i]
				// A request with the plain cookie: found, whether the bulk
				// run has moved it yet or not; then it changes the session.
				got, found, err := findWithCookie(s, plain)
				if err != nil || !found {
					errs <- fmt.Errorf("session %d: Find = %q, %v, %v", i, got, found, err)
					return
				}
				if i%3 == 0 {
					data := []byte(fmt.Sprintf("changed %d", i))
					if err := s.Commit(HashToken(plain), data, time.Now().Add(time.Hour)); err != nil {
						errs <- err
						return
					}
					last.Store(plain, data)
				}
				// A new session, under a hash from the start.
				token := HashToken(newToken(t))
				if err := s.Commit(token, []byte("new"), time.Now().Add(time.Hour)); err != nil {
					errs <- err
					return
				}
				fresh.Store(token, true)
			}
		}()
	}
	var progress []int64
	upgraded, err := s.UpgradeTokens(context.Background(), 50, func(done int64) { progress = append(progress, done) })
	wg.Wait()
	stop.Store(true)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err != nil {
		t.Fatalf("UpgradeTokens: %v", err)
	}
	st := s.Stats()
	t.Logf("bulk upgraded %d, %d on first use; %d progress calls", upgraded, st.TokensUpgraded-upgraded, len(progress))
	if st.TokensUpgraded != plainSessions {
		t.Errorf("%d sessions upgraded in all (bulk %d); want %d", st.TokensUpgraded, upgraded, plainSessions)
	}
	if len(progress) < plainSessions/50 || progress[len(progress)-1] != upgraded {
		t.Errorf("progress %v; want a call per batch, ending at %d", progress, upgraded)
	}
	for i, plain := range plains {
		want := plainData[i]
		if v, ok := last.Load(plain); ok {
			want = v.([]byte)
		}
		if rowExists(t, db, plain) {
			t.Errorf("session %d is still under its plain token", i)
		}
		if got, found, err := s.Find(HashToken(plain)); err != nil || !found || !bytes.Equal(got, want) {
			t.Errorf("session %d by its hash = %q, %v, %v; want %q", i, got, found, err, want)
		}
	}
	fresh.Range(func(token, _ any) bool {
		mustFind(t, s, token.(string), "new")
		return true
	})
	if !strings.Contains(logs.String(), "UpgradeTokens done") {
		t.Errorf("no summary in the log:\n%s", logs)
	}
	// A second run finds nothing left to do.
	if n, err := s.UpgradeTokens(context.Background(), 0, nil); n != 0 || err != nil {
		t.Errorf("a second UpgradeTokens = %d, %v; want 0, nil", n, err)
	}
}

// TestUpgradeTokensSkipsStoredHash: a plain row whose hash is already stored
// is left alone and counted, and the session under the hash is kept.
func TestUpgradeTokensSkipsStoredHash(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	markPlainTokens(t, db)
	s, logs := encryptedStore(t, db, upgradeConfig)
	plain := newToken(t)
	writePlain(t, db, plain, []byte("old"))
	if err := s.Commit(HashToken(plain), []byte("current"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.UpgradeTokens(context.Background(), 10, nil)
	if n != 0 || err != nil {
		t.Fatalf("UpgradeTokens = %d, %v; want 0, nil", n, err)
	}
	mustFind(t, s, HashToken(plain), "current")
	if !strings.Contains(logs.String(), "hash_already_stored=1") {
		t.Errorf("the skipped row is not counted in the log:\n%s", logs)
	}
}

func TestUpgradeTokensNeedsTheSwitch(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, _ := encryptedStore(t, db, func(c *Config) { c.HashedTokens = true })
	if _, err := s.UpgradeTokens(context.Background(), 10, nil); err == nil || !strings.Contains(err.Error(), "UpgradePlainTokens") {
		t.Fatalf("UpgradeTokens without the switch: %v", err)
	}
}
