package mysql

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
)

// damage is a stored row altered one way.
type damage struct {
	name string
	data []byte
}

// damages returns stored altered every way the tests try: each byte
// flipped (all bits, and the lowest), cut to each shorter length, and
// with each number of its first bytes cut off.
func damages(stored []byte) []damage {
	var ds []damage
	for i := range stored {
		for _, mask := range []byte{0xFF, 0x01} {
			b := bytes.Clone(stored)
			b[i] ^= mask
			ds = append(ds, damage{fmt.Sprintf("byte %d xor %#02x", i, mask), b})
		}
	}
	for n := range len(stored) {
		ds = append(ds, damage{fmt.Sprintf("cut to %d bytes", n), bytes.Clone(stored[:n])})
	}
	for n := 1; n < len(stored); n++ {
		ds = append(ds, damage{fmt.Sprintf("first %d bytes cut off", n), bytes.Clone(stored[n:])})
	}
	return ds
}

// setData overwrites the data of a stored row, as a damaged disk or
// someone who can write to the table would.
func setData(t *testing.T, s *Store, token string, data []byte) {
	t.Helper()
	if _, err := s.db.Exec("UPDATE sessions SET data = ? WHERE token = ?", data, token); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedEncryptedRowIsNoSession: with encryption on, a row damaged
// or cut anywhere is no session: Find reports it not found, without an
// error (scs would answer every request of the session with a 500 for
// data its codec cannot decode), All leaves it out, and each read is
// logged by session ID and counted.
func TestDamagedEncryptedRowIsNoSession(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, logs := encryptedStore(t, db, func(c *Config) { c.HashedTokens = true }, newKey(t))
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada", "cart": 3})
	if err := s.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stored := rawData(t, db, tokenA)
	mustFind(t, s, tokenA, string(data))

	cases := damages(stored)
	for _, d := range cases {
		setData(t, s, tokenA, d.data)
		before := s.Stats().UnreadableSessions
		got, found, err := s.Find(tokenA)
		if err != nil || found || got != nil {
			t.Errorf("%s: Find = %q, %v, %v; want nil, false, nil", d.name, got, found, err)
		}
		all, err := s.All()
		if err != nil || len(all) != 0 {
			t.Errorf("%s: All = %d sessions, %v; want none", d.name, len(all), err)
		}
		if n := s.Stats().UnreadableSessions - before; n != 2 {
			t.Errorf("%s: %d unreadable sessions counted; want 2, the Find and the All", d.name, n)
		}
	}
	t.Logf("%d damaged forms of a %d-byte row", len(cases), len(stored))
	if !strings.Contains(logs.String(), SessionID(tokenA)) || strings.Contains(logs.String(), tokenA) {
		t.Errorf("the log does not name the session by its ID alone")
	}
	setData(t, s, tokenA, stored)
	mustFind(t, s, tokenA, string(data))
}

// TestDamagedHeaderIsNoSession: without encryption, the store can tell a
// damaged header (flags it does not know, or a row that says it is
// encrypted) and treats it as no session; the data after an intact
// header goes to the session manager's codec as it is.
func TestDamagedHeaderIsNoSession(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, _ := encryptedStore(t, db, func(c *Config) { c.HashedTokens = true })
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada"})
	if err := s.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stored := rawData(t, db, tokenA)
	for flags := 0; flags < 256; flags++ {
		b := bytes.Clone(stored)
		b[3] = byte(flags)
		setData(t, s, tokenA, b)
		got, found, err := s.Find(tokenA)
		readable := flags == 0 || flags == int(flagHashed)
		if err != nil || found != readable || (readable && !bytes.Equal(got, data)) {
			t.Errorf("flags %#02x: Find = %q, %v, %v; want found %v", flags, got, found, err, readable)
		}
	}
}

// TestRequireEncryptionRefusesPlainRows: with RequireEncryption, a row
// that is not encrypted is no session, whether it has a header or not, so
// that someone who can write to the table but holds no key cannot forge
// one (without it, a forged row logs them in). Encrypted rows still read.
func TestRequireEncryptionRefusesPlainRows(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	key := newKey(t)
	forged := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "admin"})
	if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(tokenA, forged, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	marked, _ := encryptedStore(t, db, func(c *Config) { c.HashedTokens = true })
	if err := marked.Commit(tokenB, forged, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err) // a header marking a hash, no encryption
	}

	lax, _ := encryptedStore(t, db, nil, key)
	mustFind(t, lax, tokenA, string(forged))
	mustFind(t, lax, tokenB, string(forged))

	strict, logs := encryptedStore(t, db, func(c *Config) { c.RequireEncryption = true }, key)
	mustNotFind(t, strict, tokenA)
	mustNotFind(t, strict, tokenB)
	if all, err := strict.All(); err != nil || len(all) != 0 {
		t.Fatalf("All = %q, %v; want no session", all, err)
	}
	if st := strict.Stats(); st.UnreadableSessions != 4 {
		t.Errorf("UnreadableSessions = %d; want 4", st.UnreadableSessions)
	}
	if !strings.Contains(logs.String(), "not encrypted, and RequireEncryption is on") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
	real := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada"})
	if err := strict.Commit(tokenA, real, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustFind(t, strict, tokenA, string(real))
}

// TestEncryptedStoreReadsPlainSessions: with encryption on (and without
// RequireEncryption), a row written before, by scs's mysqlstore, is read
// as long as it decodes as a session.
func TestEncryptedStoreReadsPlainSessions(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"user": "ada"})
	if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := mysqlstore.NewWithCleanupInterval(db, 0).Commit(tokenB, []byte("not a session"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, _ := encryptedStore(t, db, nil, newKey(t))
	mustFind(t, s, tokenA, string(data))
	mustNotFind(t, s, tokenB)
}

func TestRequireEncryptionNeedsKeys(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	cfg := noCleanup()
	cfg.RequireEncryption = true
	if _, err := NewWithConfig(db, cfg); err == nil || !strings.Contains(err.Error(), "RequireEncryption needs EncryptionKeys") {
		t.Fatalf("RequireEncryption without keys: %v", err)
	}
}
