package sessionkit_test

import (
	"io"
	"net/http"
	"testing"
)

// TestRevokeDuringARequest: a request that is running on another replica
// when its session is revoked does not bring the session back, whether it
// changed nothing (under an idle timeout, where every request is committed)
// or changed the session; the response of the one that changed it expires
// its cookie instead of handing it a cookie that looks valid.
func TestRevokeDuringARequest(t *testing.T) {
	t.Parallel()
	environ := mysqlEnv(t, map[string]string{"SESSION_IDLE_TIMEOUT": "30m"})
	kitA, _ := startKit(t, environ)
	kitB, _ := startKit(t, environ)
	entered, release := make(chan struct{}), make(chan struct{})
	routesB := userRoutes(kitB)
	routesB["/slow"] = func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{} // the session has been read
		<-release
		if r.URL.Query().Has("put") {
			kitB.Manager.Put(r.Context(), "message", "changed")
		}
		io.WriteString(w, "done")
	}
	a, _ := serve(t, handlerFor(t, kitA, "chi", userRoutes(kitA)))
	b, _ := serve(t, handlerFor(t, kitB, "servemux", routesB))

	for _, tc := range []struct{ user, path string }{
		{"ada", "/slow"},
		{"bob", "/slow?put"},
	} {
		laptop, phone := device(t, a), device(t, a)
		mustGet(t, laptop, a, "/login?user="+tc.user, "ok")
		mustGet(t, phone, b, "/login?user="+tc.user, "ok")
		done := make(chan string, 1)
		go func() {
			resp, err := phone.Get(b.URL + tc.path)
			if err != nil {
				done <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if tc.path == "/slow?put" && validSessionCookie(resp) {
				done <- "a session cookie sent"
				return
			}
			done <- resp.Status + " " + string(body)
		}()
		<-entered
		mustGet(t, laptop, a, "/revoke-others", "1")
		release <- struct{}{}
		if got := <-done; got != "200 OK done" {
			t.Fatalf("%s: the running request: %s", tc.path, got)
		}
		mustGet(t, phone, a, "/whoami", "")
		if list := listSessions(t, laptop, b); len(list) != 1 {
			t.Errorf("%s: %d sessions listed, want the laptop's", tc.path, len(list))
		}
	}
}
