package sessionkit_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestReadDoesNotUndoConcurrentChange runs, under an idle timeout, two
// requests of one session at once: one changes a value, the other only
// reads it and finishes last. scs marks every session modified under an
// idle timeout, so the reader's commit would write back what it read; the
// change must survive every time.
func TestReadDoesNotUndoConcurrentChange(t *testing.T) {
	t.Parallel()
	kit, _ := startKit(t, mysqlEnv(t, map[string]string{"SESSION_IDLE_TIMEOUT": "30m"}))
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "v", r.URL.Query().Get("v"))
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, kit.Manager.GetString(r.Context(), "v"))
	})
	mux.HandleFunc("/slow-get", func(w http.ResponseWriter, r *http.Request) {
		v := kit.Manager.GetString(r.Context(), "v")
		entered <- struct{}{}
		<-release
		fmt.Fprint(w, v)
	})
	srv, client := serve(t, kit.Middleware(mux))
	mustGet(t, client, srv, "/set?v=start", "ok")

	for round := 0; round < 20; round++ {
		before := fmt.Sprint("before ", round)
		mustGet(t, client, srv, "/set?v="+strings.ReplaceAll(before, " ", "+"), "ok")
		read := make(chan string, 1)
		go func() {
			resp, err := client.Get(srv.URL + "/slow-get")
			if err != nil {
				read <- err.Error()
				return
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			read <- resp.Status
		}()
		<-entered // the reader has loaded the session
		changed := fmt.Sprint("changed", round)
		mustGet(t, client, srv, "/set?v="+changed, "ok")
		release <- struct{}{} // the reader commits after the change
		if status := <-read; status != "200 OK" {
			t.Fatalf("round %d: the reading request: %s", round, status)
		}
		mustGet(t, client, srv, "/get", changed)
	}
	if st := kit.Stats(); st.TouchesSkipped < 20 {
		t.Errorf("TouchesSkipped = %d; want a skipped write for each reading request", st.TouchesSkipped)
	}
}
