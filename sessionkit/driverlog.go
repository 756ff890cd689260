package sessionkit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// DriverLogger returns a mysql.Logger that writes the lines of
// go-sql-driver/mysql through logger: as warnings with the message "mysql
// driver", the driver's source position as driver_source and its text as
// err, instead of the driver's own plain lines on stderr
// ("[mysql] 2026/11/26 10:00:00 packets.go:58 unexpected EOF").
//
// New's pool uses it with cfg.Logger already. For a pool of your own, set
// it as the Logger of the pool's mysql.Config, or for every pool of the
// process that sets none with mysql.SetLogger(sessionkit.DriverLogger(logger)):
// that is the driver's global default, read by each DSN parsed afterwards.
func DriverLogger(logger *slog.Logger) mysql.Logger {
	return driverLogger{logger}
}

type driverLogger struct{ logger *slog.Logger }

// Print is called by the driver with its source position first
// ("packets.go:58 "), then the error or text.
func (d driverLogger) Print(v ...any) {
	var attrs []slog.Attr
	if len(v) > 0 {
		if pos, ok := v[0].(string); ok && isSourcePosition(pos) {
			attrs = append(attrs, slog.String("driver_source", strings.TrimSpace(pos)))
			v = v[1:]
		}
	}
	attrs = append(attrs, slog.String("err", strings.TrimSpace(fmt.Sprint(v...))))
	d.logger.LogAttrs(context.Background(), slog.LevelWarn, "mysql driver", attrs...)
}

// isSourcePosition reports whether s is "file.go:123 ", the prefix the
// driver puts before what it logs from a connection.
func isSourcePosition(s string) bool {
	file, line, ok := strings.Cut(strings.TrimSpace(s), ".go:")
	if !ok || file == "" || line == "" || strings.ContainsAny(file, " /") {
		return false
	}
	for _, c := range line {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
