package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestLogLinesStayShort sends a request with a path of a megabyte and a
// long request ID, and one with a long method: every log line stays short,
// and shows the start of the path and its length.
func TestLogLinesStayShort(t *testing.T) {
	forEachExample(t, func(t *testing.T, ex *example) {
		p := startExample(t, ex, mysqltest.DSN(t))
		c := newClient(t)

		path := "/" + strings.Repeat("a", 1_000_000)
		req, err := http.NewRequest("GET", p.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", strings.Repeat("r", 20_000))
		if status, _ := c.do(req); status != http.StatusNotFound {
			t.Errorf("GET of a long path: status %d, want 404", status)
		}
		req, err = http.NewRequest(strings.Repeat("M", 20_000), p.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.do(req) // 404 or 405: only the log matters

		pathNote := fmt.Sprintf("(%d bytes)", len(path))
		eventually(t, 10*time.Second, func() error {
			if logs := p.stderr.String(); !strings.Contains(logs, pathNote) || !strings.Contains(logs, "(20000 bytes)") {
				return fmt.Errorf("no log line notes the lengths %s and (20000 bytes)", pathNote)
			}
			return nil
		})
		for line := range strings.Lines(p.stderr.String()) {
			if len(line) > 1000 {
				t.Errorf("a log line of %d bytes: %.300s...", len(line), line)
			}
		}
	})
}
