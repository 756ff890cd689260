package main

import (
	"context"
	"log/slog"
	"sync"
)

// recorder is a slog handler for the store's logger. CheckSchema reports
// what works but is weaker than the recommended table as warnings in the
// log, and the missing user columns at Info level: while recording, the
// recorder keeps the store's lines about the table (those with a table
// attribute) for check to report. Every other line, and every line while
// not recording, goes to next when next takes its level.
type recorder struct {
	state *recorderState
	attrs []slog.Attr
	next  slog.Handler
}

type recorderState struct {
	mu        sync.Mutex
	recording bool
	records   []slog.Record
}

func newRecorder(next slog.Handler) *recorder {
	return &recorder{state: &recorderState{}, next: next}
}

// start starts recording.
func (r *recorder) start() {
	r.state.mu.Lock()
	r.state.recording = true
	r.state.mu.Unlock()
}

// stop stops recording and returns what was recorded.
func (r *recorder) stop() []slog.Record {
	r.state.mu.Lock()
	defer r.state.mu.Unlock()
	recs := r.state.records
	r.state.recording, r.state.records = false, nil
	return recs
}

// Enabled takes Info and above while recording, and what next takes
// otherwise.
func (r *recorder) Enabled(ctx context.Context, level slog.Level) bool {
	r.state.mu.Lock()
	recording := r.state.recording
	r.state.mu.Unlock()
	return (recording && level >= slog.LevelInfo) || r.next.Enabled(ctx, level)
}

// Handle keeps a line about the table while recording, and passes any
// other on.
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	aboutTable := false
	rec.Attrs(func(a slog.Attr) bool {
		aboutTable = aboutTable || a.Key == "table"
		return !aboutTable
	})
	r.state.mu.Lock()
	if r.state.recording && aboutTable {
		r.state.records = append(r.state.records, rec)
		r.state.mu.Unlock()
		return nil
	}
	r.state.mu.Unlock()
	if !r.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return r.next.Handle(ctx, rec)
}

// WithAttrs returns a recorder that adds attrs to each line.
func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recorder{state: r.state, attrs: append(append([]slog.Attr(nil), r.attrs...), attrs...), next: r.next}
}

// WithGroup is not used by the store; lines keep their attributes as they
// are.
func (r *recorder) WithGroup(string) slog.Handler { return r }
