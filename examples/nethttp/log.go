package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"
)

// clipLong logs a string of over 200 bytes, such as a path or a method a
// client chose, as its start and its length.
func clipLong(_ []string, a slog.Attr) slog.Attr {
	if s := a.Value.String(); a.Key != slog.MessageKey && a.Value.Kind() == slog.KindString && len(s) > 200 {
		cut := 200
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		a.Value = slog.StringValue(fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s)))
	}
	return a
}

func serverError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// logRequests logs one structured line per request.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, rec := time.Now(), &statusRecorder{ResponseWriter: w}
		defer func() {
			logger.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"status", cmp.Or(rec.status, http.StatusOK), "duration", time.Since(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status a handler sent first. Unwrap lets
// http.ResponseController reach the connection's own writer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (rec *statusRecorder) WriteHeader(code int) {
	rec.status = cmp.Or(rec.status, code)
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	rec.status = cmp.Or(rec.status, http.StatusOK)
	return rec.ResponseWriter.Write(b)
}

func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
