package sessionkit_test

import (
	"io"
	"net/http"
	"testing"
)

// TestLoginInOneTabWhileAnotherTabsRequestRuns: a browser logs in again in
// one tab (Login renews the token, deleting the old session) while a
// request of another tab, sent with the old cookie, is still running and
// changes the session. That request finds its session gone and saves
// nothing, as it must; but its response must not take the new login's
// cookie away from the browser, which nobody revoked: the browser stays
// logged in.
func TestLoginInOneTabWhileAnotherTabsRequestRuns(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, nil))
	routes := userRoutes(kit)
	p := newPausedRoute()
	routes["/visit"] = p.handler(func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "visits", kit.Manager.GetInt(r.Context(), "visits")+1)
		io.WriteString(w, "visited")
	})
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	browser := device(t, srv)
	mustGet(t, browser, srv, "/login?user=ada", "ok")

	resp, body := p.endDuring(t, browser, srv, "/visit", func() {
		mustGet(t, browser, srv, "/login?user=ada", "ok") // the other tab
	})
	if resp.StatusCode != http.StatusOK || body != "visited" {
		t.Fatalf("the running request: %d %q", resp.StatusCode, body)
	}
	mustGet(t, browser, srv, "/whoami", "ada")
}
