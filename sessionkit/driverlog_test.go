package sessionkit_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/sessionkit"
)

// hangUpServer listens on 127.0.0.1 and closes every connection at once,
// before the MySQL handshake: the driver then logs the EOF it reads. It
// stops when t ends.
func hangUpServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// TestDriverLinesAreStructured checks that what go-sql-driver logs about
// the kit's connections comes out of the kit's logger as structured lines.
func TestDriverLinesAreStructured(t *testing.T) {
	t.Parallel()
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{
		"SESSION_MYSQL_DSN": "app:hunter2secret@tcp(" + hangUpServer(t) + ")/app",
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := sessionkit.New(ctx, cfg); err == nil {
		t.Fatal("New succeeded against a server that hangs up")
	}
	position := regexp.MustCompile(`^[a-z_]+\.go:\d+$`)
	found := false
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if rec["msg"] != "mysql driver" {
			continue
		}
		found = true
		if rec["level"] != "WARN" || !position.MatchString(rec["driver_source"].(string)) || !strings.Contains(rec["err"].(string), "EOF") {
			t.Errorf("driver line %q: want level WARN, driver_source file.go:line and the EOF as err", line)
		}
	}
	if !found {
		t.Errorf("no driver line in the kit's log:\n%s", logs)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log shows the password:\n%s", logs)
	}
}

// TestDriverLoggerKeepsTextWithoutPosition checks lines the driver logs
// without a source position, such as its connector's.
func TestDriverLoggerKeepsTextWithoutPosition(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	l := sessionkit.DriverLogger(slog.New(slog.NewJSONHandler(logs, nil)))
	l.Print("could not use requested auth plugin 'x': ", "unknown")
	var rec map[string]any
	if err := json.Unmarshal([]byte(logs.String()), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["err"] != "could not use requested auth plugin 'x': unknown" || rec["driver_source"] != nil {
		t.Errorf("got %v", rec)
	}
}
