// Package serverlog is the logging that examples/chi and examples/nethttp
// share, around what their main.go files wire: one JSON line per request
// (Requests), no value in a line longer than a few hundred bytes whatever a
// client sends (ClipLong), and the last line before the server exits
// (Exit). A service with logging of its own keeps it.
package serverlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// ClipLong is a slog.HandlerOptions.ReplaceAttr that logs a string of over
// 200 bytes, such as a path, a method or a request ID a client chose, as its
// start and its length. Log messages are left whole.
func ClipLong(_ []string, a slog.Attr) slog.Attr {
	if s := a.Value.String(); a.Key != slog.MessageKey && a.Value.Kind() == slog.KindString && len(s) > 200 {
		// A rune cut in two at byte 200 shows as U+FFFD, as JSON shows invalid UTF-8.
		a.Value = slog.StringValue(fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(s[:200], "\uFFFD"), len(s)))
	}
	return a
}

// Exit logs why the server stops and exits with status 1. When the session
// table does not exist, the line says what to do, and the statement that
// creates the table follows on stderr as it is, to paste into a MySQL
// client.
func Exit(logger *slog.Logger, err error) {
	var missing *sessionmysql.TableMissingError
	if errors.As(err, &missing) {
		logger.Error("exiting: the session table does not exist; create it with the statement below, "+
			"or set SESSION_CREATE_TABLE=true to create it at start-up", "table", missing.Table)
		fmt.Fprintf(os.Stderr, "\n%s\n\n", missing.CreateStatement)
	} else {
		logger.Error("exiting", "err", err)
	}
	os.Exit(1)
}
