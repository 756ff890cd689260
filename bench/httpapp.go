package bench

import (
	"fmt"
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// HTTPMessage is what GET /put stores in the session and GET /get answers.
const HTTPMessage = "Hello from a session!"

// NewHTTPHandler returns the chi example's session routes and middleware
// (request id, panic recovery, cross-origin protection, sessions; no
// per-request log line) on manager, with sessions as the session middleware
// (a Kit's Middleware, or manager.LoadAndSave). It is what cmd/benchserver
// serves and what the HTTP benchmarks measure:
//
//   - GET /put stores HTTPMessage in the session (a commit);
//   - GET /get answers it: the read path, one store read and no commit;
//   - GET / counts visits, "visits: N": the write path, a read and a commit.
func NewHTTPHandler(manager *scs.SessionManager, sessions func(http.Handler) http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, http.NewCrossOriginProtection().Handler, sessions)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		n := manager.GetInt(r.Context(), "visits") + 1
		manager.Put(r.Context(), "visits", n)
		fmt.Fprintf(w, "visits: %d\n", n)
	})
	r.Get("/put", func(w http.ResponseWriter, r *http.Request) {
		manager.Put(r.Context(), "message", HTTPMessage)
	})
	r.Get("/get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, manager.GetString(r.Context(), "message"))
	})
	return r
}
