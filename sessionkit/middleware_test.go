package sessionkit_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"sessionkit.dev/internal/mysqltest"
)

// TestFailedCommitAnswersOnlyTheError makes the commit fail at the
// handler's first write (session data too large for the BLOB column of the
// scs README table): the response is the ErrorFunc's 500 alone, without the
// page the handler wrote after it.
func TestFailedCommitAnswersOnlyTheError(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_CREATE_TABLE": "false"})
	db := mysqltest.Open(t, environ["SESSION_MYSQL_DSN"])
	for _, q := range []string{
		"CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	kit, logs := startKit(t, environ)
	routes := map[string]http.HandlerFunc{
		"/big": func(w http.ResponseWriter, r *http.Request) {
			kit.Manager.Put(r.Context(), "big", strings.Repeat("x", 70000))
			io.WriteString(w, "saved a big session")
		},
	}
	for _, router := range []string{"chi", "servemux"} {
		srv, client := serve(t, handlerFor(t, kit, router, routes))
		resp, body := get(t, client, srv, "/big")
		if resp.StatusCode != http.StatusInternalServerError || body != "Internal Server Error\n" {
			t.Errorf("%s: %d %q; want the ErrorFunc's 500 alone", router, resp.StatusCode, body)
		}
	}
	if !strings.Contains(logs.String(), "too large") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
}
