package mysql

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// The stored form of session data. Data without a header is what scs's codec
// made, as scs's mysqlstore and earlier versions store it. A header starts
// with a zero byte, which no gob encoding starts with (a gob message starts
// with its length, never zero), then "sk" and a flags byte:
//
//	0x00 's' 'k' flags                                      plain data follows
//	0x00 's' 'k' flags key-id(4) nonce(12) ciphertext+tag   with flagEncrypted
//
// flagHashed says the row's token is the SHA-256 of the session's token, so
// that a stored hash presented as a cookie is never taken for a plain token
// (see UpgradePlainTokens). flagEncrypted says the data is sealed with
// AES-256-GCM under the key whose ID follows; the additional data is the
// header up to the nonce followed by the stored token, so that a row copied
// under another token does not open.
//
// The store writes a header with encryption or HashedTokens on: every row it
// stores under a hashed token carries flagHashed. Without either it writes
// what scs's mysqlstore writes. It reads both forms whatever its
// configuration.
const (
	flagHashed    byte = 0x01
	flagEncrypted byte = 0x02
	knownFlags         = flagHashed | flagEncrypted
)

// Sizes of the header and of what encryption adds.
const (
	headerLen  = 4                    // 0x00 's' 'k' flags
	keyIDLen   = 4                    // the first bytes of SHA-256 of the key
	nonceLen   = 12                   // GCM's standard nonce
	tagLen     = 16                   // GCM's tag
	sealedHead = headerLen + keyIDLen // the header bytes before the nonce

	// EncryptionOverhead is how many bytes encryption adds to every stored
	// session: the header, the key ID, the nonce and the tag. The size check
	// counts them: data that fits the column only without them is refused
	// with ErrTooLarge.
	EncryptionOverhead = sealedHead + nonceLen + tagLen
	// HeaderOverhead is what the header adds without encryption, with
	// HashedTokens on.
	HeaderOverhead = headerLen
)

// EncryptionKeyLen is the length of an encryption key: AES-256.
const EncryptionKeyLen = 32

// errUnreadable is why a stored session could not be read; it is logged and
// counted, and the session is treated as missing.
var errUnreadable = errors.New("stored session cannot be read")

// keyring holds the encryption keys: the first seals, all open.
type keyring struct {
	sealID [keyIDLen]byte
	seal   cipher.AEAD
	open   map[[keyIDLen]byte]cipher.AEAD
}

// keyID is how a sealed row names its key.
func keyID(key []byte) [keyIDLen]byte {
	sum := sha256.Sum256(key)
	return [keyIDLen]byte(sum[:keyIDLen])
}

// CheckEncryptionKeys reports whether keys can be Config.EncryptionKeys:
// each of EncryptionKeyLen bytes, no two the same, no two with the same key
// ID. Its error names the key by position ("key 2 of 3: ..."), never by
// value.
func CheckEncryptionKeys(keys [][]byte) error {
	ids := make(map[[keyIDLen]byte]int, len(keys))
	for i, k := range keys {
		if len(k) != EncryptionKeyLen {
			return fmt.Errorf("key %d of %d: %d bytes, want %d (base64 of 32 random bytes: openssl rand -base64 32)", i+1, len(keys), len(k), EncryptionKeyLen)
		}
		for j := range i {
			if bytes.Equal(keys[j], k) {
				return fmt.Errorf("key %d of %d: the same as key %d", i+1, len(keys), j+1)
			}
		}
		id := keyID(k)
		if j, dup := ids[id]; dup {
			return fmt.Errorf("key %d of %d: its key ID (the first 4 bytes of its SHA-256) is that of key %d: make another key", i+1, len(keys), j+1)
		}
		ids[id] = i
	}
	return nil
}

// newKeyring makes the ciphers of keys, which CheckEncryptionKeys has
// accepted; nil without keys.
func newKeyring(keys [][]byte) (*keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	r := &keyring{open: make(map[[keyIDLen]byte]cipher.AEAD, len(keys))}
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: %w", i+1, len(keys), err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: %w", i+1, len(keys), err)
		}
		id := keyID(k)
		r.open[id] = aead
		if i == 0 {
			r.sealID, r.seal = id, aead
		}
	}
	return r, nil
}

// overhead is how many bytes the stored form adds to a session's data.
func (s *Store) overhead() int {
	switch {
	case s.keys != nil:
		return EncryptionOverhead
	case s.cfg.HashedTokens:
		return HeaderOverhead
	}
	return 0
}

// seal returns the stored form of a session's data under token: sealed
// with encryption on, marked as stored under a hash with HashedTokens on,
// and as given otherwise.
func (s *Store) seal(token string, data []byte) ([]byte, error) {
	var flags byte
	if s.cfg.HashedTokens {
		flags |= flagHashed
	}
	if s.keys == nil && flags == 0 {
		return data, nil
	}
	return s.sealFlags(token, data, flags)
}

// sealFlags returns the stored form of data under token with the header
// flags given (and flagEncrypted with encryption on).
func (s *Store) sealFlags(token string, data []byte, flags byte) ([]byte, error) {
	if s.keys == nil {
		out := make([]byte, headerLen, headerLen+len(data))
		out[0], out[1], out[2], out[3] = 0x00, 's', 'k', flags
		return append(out, data...), nil
	}
	flags |= flagEncrypted
	out := make([]byte, sealedHead+nonceLen, EncryptionOverhead+len(data))
	out[0], out[1], out[2], out[3] = 0x00, 's', 'k', flags
	copy(out[headerLen:], s.keys.sealID[:])
	nonce := out[sealedHead : sealedHead+nonceLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sessionkit/mysql: making a nonce: %w", err)
	}
	return s.keys.seal.Seal(out, nonce, data, additionalData(out[:sealedHead], token)), nil
}

// additionalData binds a sealed row to its header and its stored token.
func additionalData(head []byte, token string) []byte {
	ad := make([]byte, 0, len(head)+len(token))
	ad = append(ad, head...)
	return append(ad, token...)
}

// hasHeader reports whether stored data starts with the store's header.
func hasHeader(stored []byte) bool {
	return len(stored) >= headerLen && stored[0] == 0x00 && stored[1] == 's' && stored[2] == 'k'
}

// flagsOf returns the header flags of stored data (0 without a header).
func flagsOf(stored []byte) byte {
	if !hasHeader(stored) {
		return 0
	}
	return stored[3]
}

// open returns the session data of a row stored under token: the data
// itself without a header, else what the header says. The error, wrapping
// errUnreadable, never holds the token or a key.
//
// A row is unreadable when its header names flags the store does not know,
// when it is sealed and does not open, and, with encryption on, when it is
// not sealed and not a session either (see plain).
func (s *Store) open(token string, stored []byte) ([]byte, error) {
	if !hasHeader(stored) {
		return s.plain(stored)
	}
	flags := stored[3]
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("%w: unknown header flags %#02x", errUnreadable, flags)
	}
	if flags&flagEncrypted == 0 {
		return s.plain(stored[headerLen:])
	}
	if len(stored) < EncryptionOverhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than an encrypted session", errUnreadable, len(stored))
	}
	id := [keyIDLen]byte(stored[headerLen:sealedHead])
	if s.keys == nil {
		return nil, fmt.Errorf("%w: encrypted with key ID %s, and no encryption keys are configured", errUnreadable, hex.EncodeToString(id[:]))
	}
	aead, ok := s.keys.open[id]
	if !ok {
		return nil, fmt.Errorf("%w: encrypted with key ID %s, which is not among the configured keys", errUnreadable, hex.EncodeToString(id[:]))
	}
	nonce := stored[sealedHead : sealedHead+nonceLen]
	data, err := aead.Open(nil, nonce, stored[sealedHead+nonceLen:], additionalData(stored[:sealedHead], token))
	if err != nil {
		return nil, fmt.Errorf("%w: does not decrypt with key ID %s (altered, or copied from another token)", errUnreadable, hex.EncodeToString(id[:]))
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// plain returns the data of a row that is not sealed. With RequireEncryption
// such a row is refused. With encryption on, it is accepted only when it
// decodes as a session of scs's GobCodec: a sealed row whose header was
// damaged reads as such data, and so would anything else written to the
// table without a key; handed to scs, it would fail every request of its
// session with an error. The decode is paid only for rows that are not
// sealed, which encryption leaves only from before it was turned on.
// Without encryption nothing tells damaged data from a session of another
// codec than scs's, so the data goes to the session manager's codec as it
// is.
func (s *Store) plain(data []byte) ([]byte, error) {
	switch {
	case s.cfg.RequireEncryption:
		return nil, fmt.Errorf("%w: not encrypted, and RequireEncryption is on", errUnreadable)
	case s.keys != nil:
		if !gobSession(data) {
			return nil, fmt.Errorf("%w: neither encrypted nor a session scs's GobCodec decodes (damaged, or not written by a session manager)", errUnreadable)
		}
	}
	return data, nil
}

// gobSession reports whether data is one session as scs's GobCodec encodes
// it, and nothing after it: a few random bytes (a sealed row cut short) may
// decode as an empty session, but then leave bytes unread.
func gobSession(data []byte) bool {
	r := bytes.NewReader(data) // an io.ByteReader: gob reads no further than it needs
	var session struct {
		Deadline time.Time
		Values   map[string]any
	}
	return gob.NewDecoder(r).Decode(&session) == nil && r.Len() == 0
}

// unreadable logs and counts a stored session that could not be read: it is
// treated as no session. The log names the session by SessionID, never by
// its token.
func (s *Store) unreadable(token string, err error) {
	s.unreadableRows.Add(1)
	s.log().Warn("sessionkit/mysql: a stored session cannot be read; treated as no session",
		"table", s.table.quoted, "session", SessionID(token), "err", err)
}
