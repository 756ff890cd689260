// Package clip shortens text that a client chose (a path, a method, a
// User-Agent header) to a bound, without splitting a UTF-8 character: the
// store fits such text into its columns, the kit into its log lines.
package clip

import (
	"fmt"
	"unicode/utf8"
)

// Prefix returns s if it has at most n bytes, else its longest prefix of at
// most n bytes that ends between two UTF-8 characters. Bytes that are not
// UTF-8 count as characters of one byte.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// MaxLogged bounds what a log line shows of a value the client chose: a
// URL of a megabyte must not make a megabyte of log.
const MaxLogged = 200

// ForLog returns s as a log line shows it: whole up to MaxLogged bytes,
// else its Prefix of MaxLogged bytes and its length.
func ForLog(s string) string {
	if len(s) <= MaxLogged {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", Prefix(s, MaxLogged), len(s))
}
