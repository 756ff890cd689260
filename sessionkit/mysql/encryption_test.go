package mysql

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// newKey returns a random encryption key.
func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, EncryptionKeyLen)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// encryptedStore returns a store on db that encrypts with keys (none: no
// encryption) and logs to the buffer returned.
func encryptedStore(t *testing.T, db *sql.DB, set func(*Config), keys ...[]byte) (*Store, *logBuffer) {
	t.Helper()
	logger, logs := newLogger()
	cfg := noCleanup()
	cfg.EncryptionKeys = keys
	cfg.Logger = logger
	if set != nil {
		set(&cfg)
	}
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// rawData reads a row's data column as it is stored.
func rawData(t *testing.T, db *sql.DB, token string) []byte {
	t.Helper()
	var b []byte
	if err := db.QueryRow("SELECT data FROM sessions WHERE token = ?", token).Scan(&b); err != nil {
		t.Fatalf("reading the row of %s: %v", token, err)
	}
	return b
}

// sealedWith reports whether stored data is encrypted with key.
func sealedWith(stored, key []byte) bool {
	id := keyID(key)
	return hasHeader(stored) && stored[3]&flagEncrypted != 0 && bytes.Equal(stored[headerLen:sealedHead], id[:])
}

func TestEncryptRoundTrip(t *testing.T) {
	t.Parallel()
	for _, def := range tableDefinitions {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, def.ddl)
			key := newKey(t)
			s, _ := encryptedStore(t, db, nil, key)
			data := encode(t, time.Now().Add(time.Hour), map[string]any{"secret": "the plaintext value"})
			if err := s.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			mustFind(t, s, tokenA, string(data))
			first := rawData(t, db, tokenA)
			if !sealedWith(first, key) || bytes.Contains(first, []byte("the plaintext value")) {
				t.Fatalf("stored data % x is not sealed with the key, or shows the value", first[:min(len(first), 16)])
			}
			if len(first) != len(data)+EncryptionOverhead {
				t.Errorf("stored %d bytes for %d of data; want %d more", len(first), len(data), EncryptionOverhead)
			}
			// The same data again: a fresh nonce, other bytes.
			if err := s.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(first, rawData(t, db, tokenA)) {
				t.Error("two writes of the same data stored the same bytes: the nonce was reused")
			}
			all, err := s.All()
			if err != nil || !bytes.Equal(all[tokenA], data) {
				t.Fatalf("All = %q, %v; want the plaintext of %s", all, err, tokenA)
			}
			// Empty data round-trips too.
			if err := s.Commit(tokenB, nil, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			mustFind(t, s, tokenB, "")
		})
	}
}

// TestHeaderOnlyUnderHashes: without encryption, the store alone (as a
// drop-in for scs's mysqlstore) writes the data as given; with
// HashedTokens it marks every row as stored under a hash, with the
// upgrade switch or without it.
func TestHeaderOnlyUnderHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		set    func(*Config)
		header []byte
	}{
		{"drop-in", nil, nil},
		{"hashed tokens", func(c *Config) { c.HashedTokens = true }, []byte{0x00, 's', 'k', flagHashed}},
		{"hashed tokens and upgrade", upgradeConfig, []byte{0x00, 's', 'k', flagHashed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, []string{recommendedTable})
			s, _ := encryptedStore(t, db, tc.set)
			data := encode(t, time.Now().Add(time.Hour), map[string]any{"n": 1})
			if err := s.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got := rawData(t, db, tokenA); !bytes.Equal(got, append(tc.header, data...)) {
				t.Fatalf("stored % x; want % x, then the data as given", got, tc.header)
			}
			mustFind(t, s, tokenA, string(data))
		})
	}
}

func TestEncryptOldRowReadableAndEncryptedOnNextWrite(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	plain, _ := encryptedStore(t, db, nil)
	data := encode(t, time.Now().Add(time.Hour), map[string]any{"cart": 3})
	if err := plain.Commit(tokenA, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	s, _ := encryptedStore(t, db, nil, key)
	mustFind(t, s, tokenA, string(data))
	if got := rawData(t, db, tokenA); !bytes.Equal(got, data) {
		t.Fatal("a read rewrote the row")
	}
	changed := encode(t, time.Now().Add(time.Hour), map[string]any{"cart": 4})
	if err := s.Commit(tokenA, changed, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !sealedWith(rawData(t, db, tokenA), key) {
		t.Fatal("the next write did not encrypt the row")
	}
	mustFind(t, s, tokenA, string(changed))
	if st := s.Stats(); st.UnreadableSessions != 0 {
		t.Errorf("UnreadableSessions = %d; want 0", st.UnreadableSessions)
	}
}

func TestEncryptKeyRotation(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	oldKey, newKey := newKey(t), newKey(t)
	before, _ := encryptedStore(t, db, nil, oldKey)
	if err := before.Commit(tokenA, []byte("under the old key"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// The new key first: old rows still read, new writes use the new key.
	rotating, _ := encryptedStore(t, db, nil, newKey, oldKey)
	mustFind(t, rotating, tokenA, "under the old key")
	if err := rotating.Commit(tokenB, []byte("under the new key"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !sealedWith(rawData(t, db, tokenB), newKey) {
		t.Fatal("a write during rotation was not sealed with the first key")
	}

	// The old key dropped: its rows are no session, logged, not an error.
	after, logs := encryptedStore(t, db, nil, newKey)
	mustNotFind(t, after, tokenA)
	mustFind(t, after, tokenB, "under the new key")
	all, err := after.All()
	if err != nil || len(all) != 1 || string(all[tokenB]) != "under the new key" {
		t.Fatalf("All = %q, %v; want only %s", all, err, tokenB)
	}
	if st := after.Stats(); st.UnreadableSessions != 2 { // the Find and the All
		t.Errorf("UnreadableSessions = %d; want 2", st.UnreadableSessions)
	}
	log := logs.String()
	if !strings.Contains(log, SessionID(tokenA)) || !strings.Contains(log, "not among the configured keys") {
		t.Errorf("the log does not name the session by its ID and the reason:\n%s", log)
	}
	for _, secret := range []string{tokenA, base64.StdEncoding.EncodeToString(oldKey), base64.StdEncoding.EncodeToString(newKey)} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows a token or a key:\n%s", log)
		}
	}
}

func TestEncryptRowCopiedUnderAnotherTokenDoesNotDecrypt(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, logs := encryptedStore(t, db, nil, newKey(t))
	if err := s.Commit(tokenA, []byte("the victim's session"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO sessions (token, data, expiry) SELECT ?, data, expiry FROM sessions WHERE token = ?", tokenB, tokenA); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, tokenB)
	mustFind(t, s, tokenA, "the victim's session")
	if st := s.Stats(); st.UnreadableSessions != 1 {
		t.Errorf("UnreadableSessions = %d; want 1", st.UnreadableSessions)
	}
	if !strings.Contains(logs.String(), SessionID(tokenB)) {
		t.Errorf("the log does not name the copied session:\n%s", logs)
	}
}

func TestEncryptTamperedRowIsNoSession(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, _ := encryptedStore(t, db, nil, newKey(t))
	stored := func(token string) []byte {
		if err := s.Commit(token, []byte("some session data"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		return rawData(t, db, token)
	}
	for _, tc := range []struct {
		name   string
		tamper func(b []byte) []byte
	}{
		{"ciphertext", func(b []byte) []byte { b[EncryptionOverhead-tagLen] ^= 1; return b }},
		{"tag", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"nonce", func(b []byte) []byte { b[sealedHead] ^= 1; return b }},
		{"key ID", func(b []byte) []byte { b[headerLen] ^= 1; return b }},
		{"flags, hashed set", func(b []byte) []byte { b[3] |= flagHashed; return b }},
		{"unknown flag", func(b []byte) []byte { b[3] |= 0x40; return b }},
		{"cut short", func(b []byte) []byte { return b[:EncryptionOverhead-1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.tamper(stored(tokenA))
			if _, err := db.Exec("UPDATE sessions SET data = ? WHERE token = ?", b, tokenA); err != nil {
				t.Fatal(err)
			}
			got, found, err := s.Find(tokenA)
			if err != nil || found {
				t.Fatalf("Find of a tampered row = %q, %v, %v; want nil, false, nil", got, found, err)
			}
		})
	}
}

// TestEncryptTooLargeCountsOverhead: on a BLOB column (65535 bytes), data
// that fits only without the encryption overhead is refused before
// anything is written.
func TestEncryptTooLargeCountsOverhead(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{scsREADMETable})
	s, _ := encryptedStore(t, db, nil, newKey(t))
	const capacity = 65535
	if err := s.Commit(tokenA, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := rawData(t, db, tokenA)
	err := s.Commit(tokenA, bytes.Repeat([]byte("x"), capacity-EncryptionOverhead+1), time.Now().Add(time.Hour))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Commit of data that fits only without the overhead: %v; want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "36 of header and encryption") {
		t.Errorf("the error does not say the overhead counted: %v", err)
	}
	if !bytes.Equal(rawData(t, db, tokenA), before) {
		t.Fatal("the refused commit changed the stored session")
	}
	mustFind(t, s, tokenA, "kept")
	fits := bytes.Repeat([]byte("y"), capacity-EncryptionOverhead)
	if err := s.Commit(tokenA, fits, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit of data that fits with the overhead: %v", err)
	}
	mustFind(t, s, tokenA, string(fits))
}

// TestEncryptTouchCoalescing: with encryption, an unchanged session (two
// values, so that gob's map order may differ) is compared by its values,
// not its stored bytes, and is not rewritten within the interval.
func TestEncryptTouchCoalescing(t *testing.T) {
	t.Parallel()
	db := newDB(t, []string{recommendedTable})
	s, _ := encryptedStore(t, db, func(c *Config) { c.TouchInterval = time.Minute }, newKey(t))
	deadline := time.Now().Add(24 * time.Hour)
	values := map[string]any{"user": "ada", "theme": "dark", "n": 7}
	e0 := time.Now().Add(30 * time.Minute).Truncate(time.Microsecond)
	if err := s.Commit(tokenA, encode(t, deadline, values), e0); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find(tokenA); err != nil || !found {
		t.Fatal(found, err)
	}
	stored := rawData(t, db, tokenA)
	for i := range 5 {
		if err := s.Commit(tokenA, encode(t, deadline, values), e0.Add(time.Duration(i+1)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(rawData(t, db, tokenA), stored) {
		t.Error("an unchanged session was rewritten within the interval")
	}
	if st := s.Stats(); st.TouchesSkipped != 5 {
		t.Errorf("TouchesSkipped = %d; want 5", st.TouchesSkipped)
	}
	// A change is written, and read back.
	values["n"] = 8
	changed := encode(t, deadline, values)
	if err := s.Commit(tokenA, changed, e0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rawData(t, db, tokenA), stored) {
		t.Fatal("a changed session was not written")
	}
	mustFind(t, s, tokenA, string(changed))
}

func TestEncryptionKeysChecked(t *testing.T) {
	t.Parallel()
	db := newDB(t, nil)
	k1, k2 := newKey(t), newKey(t)
	a, b := collidingKeys()
	for _, tc := range []struct {
		name string
		keys [][]byte
		want string
	}{
		{"short", [][]byte{k1, k2[:16]}, "key 2 of 2: 16 bytes, want 32"},
		{"long", [][]byte{append(bytes.Clone(k1), 0)}, "key 1 of 1: 33 bytes, want 32"},
		{"duplicate", [][]byte{k1, k2, k1}, "key 3 of 3: the same as key 1"},
		{"key ID collision", [][]byte{k1, a, b}, "key 3 of 3: its key ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWithConfig(db, Config{Table: "sessions", CleanupBatchSize: 1, EncryptionKeys: tc.keys})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWithConfig: %v; want %q", err, tc.want)
			}
			for _, k := range tc.keys {
				if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(k)) || bytes.Contains([]byte(err.Error()), k) {
					t.Fatalf("the error shows a key: %v", err)
				}
			}
		})
	}
	if _, err := NewWithConfig(db, Config{Table: "sessions", CleanupBatchSize: 1, UpgradePlainTokens: true}); err == nil ||
		!strings.Contains(err.Error(), "UpgradePlainTokens needs HashedTokens") {
		t.Fatalf("UpgradePlainTokens without HashedTokens: %v", err)
	}
}

// collidingKeys returns two keys whose key IDs are the same: the IDs are
// 32 bits, so about 2^16 keys hold a pair (the birthday bound).
func collidingKeys() ([]byte, []byte) {
	seen := map[[keyIDLen]byte][]byte{}
	for i := uint64(0); ; i++ {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], i)
		sum := sha256.Sum256(n[:])
		k := sum[:]
		id := keyID(k)
		if other, ok := seen[id]; ok {
			return other, k
		}
		seen[id] = k
	}
}

// BenchmarkSealOpen is the CPU cost of encryption alone: sealing and
// opening a session of 320 bytes (the bench module's size), with no
// database.
func BenchmarkSealOpen(b *testing.B) {
	db, err := sql.Open("mysql", "bench@tcp(127.0.0.1:1)/bench") // never connects
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key := make([]byte, EncryptionKeyLen)
	rand.Read(key)
	cfg := noCleanup()
	cfg.EncryptionKeys = [][]byte{key}
	s, err := NewWithConfig(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 320)
	rand.Read(data)
	b.ReportAllocs()
	for b.Loop() {
		stored, err := s.seal(tokenA, data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.open(tokenA, stored); err != nil {
			b.Fatal(err)
		}
	}
}
