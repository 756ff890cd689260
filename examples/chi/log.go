package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5/middleware"
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
	slog.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err,
		"request_id", middleware.GetReqID(r.Context()))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// logRequests logs one structured line per request.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start, ww := time.Now(), middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				logger.InfoContext(r.Context(), "request", "request_id", middleware.GetReqID(r.Context()),
					"method", r.Method, "path", r.URL.Path, "status", cmp.Or(ww.Status(), http.StatusOK),
					"bytes", ww.BytesWritten(), "duration", time.Since(start))
			}()
			next.ServeHTTP(ww, r)
		})
	}
}
