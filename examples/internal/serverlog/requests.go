package serverlog

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Requests is a middleware that logs one line per request to logger:
// method, path, status, bytes of body written and duration, and the
// request's ID when requestID, which may be nil, returns one (chi's
// middleware.GetReqID, say).
func Requests(logger *slog.Logger, requestID func(context.Context) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start, rec := time.Now(), &recorder{ResponseWriter: w}
			defer func() {
				attrs := []any{"method", r.Method, "path", r.URL.Path, "status", cmp.Or(rec.status, http.StatusOK),
					"bytes", rec.bytes, "duration", time.Since(start)}
				if requestID != nil {
					attrs = append(attrs, "request_id", requestID(r.Context()))
				}
				logger.InfoContext(r.Context(), "request", attrs...)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// recorder remembers the status a handler sent first and counts the bytes
// of the body. Unwrap lets http.ResponseController reach the connection's
// own writer, to flush it for one.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (rec *recorder) WriteHeader(code int) {
	rec.status = cmp.Or(rec.status, code)
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.status = cmp.Or(rec.status, http.StatusOK)
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += n
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
