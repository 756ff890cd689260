package sessionkit

import (
	"reflect"
	"strings"
	"time"
	"unicode"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Stats returns the MySQL store's counters: cleanup passes run, passes
// skipped because another replica held the cleanup lock, rows deleted, the
// last pass's start, duration and error, and whatever else the store
// counts. With the memory store they are all zero.
func (k *Kit) Stats() sessionmysql.Stats {
	if k.store == nil {
		return sessionmysql.Stats{}
	}
	return k.store.Stats()
}

// InFlight returns the number of requests inside Middleware at this
// moment: their handlers are running or their sessions are being saved. It
// is what Shutdown waits for, and a gauge for a dashboard; a count that
// stays up while traffic is flat means requests are waiting on the
// database.
func (k *Kit) InFlight() int {
	return k.requests.count()
}

// Vars returns Stats as a map ready for encoding/json, for expvar, a log
// line or a metrics exporter. Each field of mysql.Stats is a key in
// snake_case (RowsDeleted is "rows_deleted"); a duration is a number of
// seconds under a key ending in "_seconds" (LastDuration is
// "last_duration_seconds"), a time an RFC 3339 string in UTC, an error its
// message, and a zero time or a nil error is "". The map follows the
// fields, so counters the store adds show up here with no change.
//
// To serve it at /debug/vars under "sessionkit":
//
//	expvar.Publish("sessionkit", expvar.Func(func() any { return kit.Vars() }))
func (k *Kit) Vars() map[string]any {
	return varsOf(reflect.ValueOf(k.Stats()))
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	errorType    = reflect.TypeFor[error]()
)

// varsOf turns the exported fields of the struct v into a map, as Vars
// describes; a field that is itself a struct becomes a nested map.
func varsOf(v reflect.Value) map[string]any {
	t := v.Type()
	vars := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, fv := snakeCase(f.Name), v.Field(i)
		switch {
		case f.Type == durationType:
			vars[name+"_seconds"] = time.Duration(fv.Int()).Seconds()
		case f.Type == timeType:
			vars[name] = ""
			if at := fv.Interface().(time.Time); !at.IsZero() {
				vars[name] = at.UTC().Format(time.RFC3339Nano)
			}
		case f.Type.Kind() == reflect.Interface && f.Type.Implements(errorType):
			vars[name] = ""
			if !fv.IsNil() {
				vars[name] = fv.Interface().(error).Error()
			}
		case f.Type.Kind() == reflect.Struct:
			vars[name] = varsOf(fv)
		default:
			vars[name] = fv.Interface()
		}
	}
	return vars
}

// snakeCase turns a Go field name into snake_case: RowsDeleted is
// rows_deleted, and an initialism stays one word (HTTPErrors is
// http_errors).
func snakeCase(name string) string {
	runes := []rune(name)
	var b strings.Builder
	for i, r := range runes {
		if unicode.IsUpper(r) && i > 0 {
			prev := runes[i-1]
			nextIsLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextIsLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
