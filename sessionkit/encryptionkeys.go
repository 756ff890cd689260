package sessionkit

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// EncryptionKeys are the keys that encrypt session data at rest
// (SESSION_ENCRYPTION_KEYS), each of 32 bytes: the first encrypts, all
// decrypt. It prints as the number of keys, never the keys, in every way
// Go commonly prints a value (fmt's verbs, encoders that use MarshalText
// such as encoding/json, and log/slog), so that a Config can be logged.
type EncryptionKeys [][]byte

// String says how many keys there are, without showing them.
func (k EncryptionKeys) String() string {
	if len(k) == 1 {
		return "[1 encryption key, not shown]"
	}
	return fmt.Sprintf("[%d encryption keys, not shown]", len(k))
}

// Format prints String for every verb and flag of package fmt, %#v and %x
// included.
func (k EncryptionKeys) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), k.String())
}

// MarshalText is String, for encoding/json and other encoders.
func (k EncryptionKeys) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue is String, for log/slog.
func (k EncryptionKeys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// isSecret reports whether errors must never show a variable's value.
func isSecret(name string) bool { return name == "SESSION_ENCRYPTION_KEYS" }

// parseEncryptionKeys reads a comma-separated list of base64 keys. Its
// errors name a key by its position, never by its value.
func parseEncryptionKeys(s string) (any, error) {
	entries := strings.Split(s, ",")
	keys := make(EncryptionKeys, len(entries))
	for i, entry := range entries {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("key %d of %d: empty (a stray comma?)", i+1, len(entries))
		}
		key, err := decodeKey(entry)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: not base64: want base64 of 32 random bytes (openssl rand -base64 32)", i+1, len(entries))
		}
		keys[i] = key
	}
	if err := sessionmysql.CheckEncryptionKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// decodeKey reads a key in standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var key []byte
		if key, err = enc.DecodeString(s); err == nil {
			return key, nil
		}
	}
	return nil, err
}
