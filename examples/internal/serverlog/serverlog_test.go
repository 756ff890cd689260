package serverlog

import (
	"log/slog"
	"strings"
	"testing"
)

// TestClipLongKeepsStartAndLength: a string over 200 bytes is logged as
// its first 200 bytes and its length, a rune cut at byte 200 as U+FFFD;
// shorter strings, other kinds and the message are left as they are.
func TestClipLongKeepsStartAndLength(t *testing.T) {
	long := strings.Repeat("a", 199) + "é" + strings.Repeat("b", 1000) // é is bytes 200 and 201
	for _, tc := range []struct {
		attr slog.Attr
		want string
	}{
		{slog.String("path", long), strings.Repeat("a", 199) + "\uFFFD... (1201 bytes)"},
		{slog.String("path", strings.Repeat("a", 200)), strings.Repeat("a", 200)},
		{slog.String(slog.MessageKey, long), long},
		{slog.Int("bytes", 1), "1"},
	} {
		if got := ClipLong(nil, tc.attr).Value.String(); got != tc.want {
			t.Errorf("ClipLong(%s of %d bytes) = %q, want %q", tc.attr.Key, len(tc.attr.Value.String()), got, tc.want)
		}
	}
}
