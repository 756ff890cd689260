package sessionkit

import (
	"bytes"
	"context"
	"encoding"
	"encoding/gob"
	"net/http"
	"reflect"
	"time"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// What the kit tells the store about a save. Inside LoadAndSave the kit
// reads the session as the handler starts (loaded) and again just before
// scs commits it, when the handler first writes its response's header or
// after it returns; scs holds the session's lock while the store writes,
// so that is the last moment the kit can read it. From the two readings
// the store learns the bound user and whether anything changed, without
// decoding the session's data, unless another request saved the session
// meanwhile and the two must be merged (see mysql.Save).

type requestRecord struct{}

// recordSaves runs inside LoadAndSave, around the handler.
func (k *Kit) recordSaves(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := r.Context().Value(requestRecord{}).(*sessionmysql.Request)
		if req == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		before := k.readSession(ctx)
		sw := &savingWriter{ResponseWriter: w, before: func() { req.Saving(k.saving(ctx, before)) }}
		next.ServeHTTP(sw, r)
		sw.saving() // the handler wrote nothing: scs commits when this returns
	})
}

// savingWriter calls before once, just before the response's header goes
// to scs's writer, which commits the session then.
type savingWriter struct {
	http.ResponseWriter
	before func()
}

func (w *savingWriter) saving() {
	if w.before != nil {
		w.before()
		w.before = nil
	}
}

func (w *savingWriter) WriteHeader(code int) {
	w.saving()
	w.ResponseWriter.WriteHeader(code)
}

func (w *savingWriter) Write(b []byte) (int, error) {
	w.saving()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *savingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sessionReading is a session's values and deadline at one moment. Each
// value is a copy deep enough that a change the handler makes in place (to
// a map, a slice, a field behind a pointer) shows when it is compared with
// the value at the next reading.
type sessionReading struct {
	values   map[string]any
	deadline time.Time
}

func (k *Kit) readSession(ctx context.Context) sessionReading {
	keys := k.Manager.Keys(ctx)
	return reading(keys, func(key string) any { return k.Manager.Get(ctx, key) }, k.Manager.Deadline(ctx))
}

func reading(keys []string, get func(string) any, deadline time.Time) sessionReading {
	r := sessionReading{values: make(map[string]any, len(keys)), deadline: deadline}
	for _, key := range keys {
		r.values[key] = snapshot(get(key))
	}
	return r
}

// saving compares the session now with before: whether it changed, and
// how to apply its changes to the session as another request saved it.
func (k *Kit) saving(ctx context.Context, before sessionReading) sessionmysql.Save {
	user, _ := k.Manager.Get(ctx, sessionmysql.UserKey).(string)
	get := func(key string) any { return k.Manager.Get(ctx, key) }
	c := before.changes(k.Manager.Keys(ctx), get, k.Manager.Deadline(ctx))
	save := sessionmysql.Save{User: user, Changed: c.any(), New: k.Manager.Token(ctx) == ""}
	if save.Changed {
		codec := k.Manager.Codec
		save.Merge = func(stored []byte) ([]byte, string, error) {
			deadline, values, err := codec.Decode(stored)
			if err != nil {
				return nil, "", err
			}
			c.apply(&deadline, values)
			user, _ := values[sessionmysql.UserKey].(string)
			b, err := codec.Encode(deadline, values)
			return b, user, err
		}
	}
	return save
}

// changes is what a request changed in its session: the keys it put (with
// their values) or removed, and its deadline if it moved it.
type changes struct {
	put      map[string]any
	removed  []string
	deadline *time.Time
}

func (c changes) any() bool { return len(c.put) > 0 || len(c.removed) > 0 || c.deadline != nil }

// apply makes c's changes to a session's deadline and values.
func (c changes) apply(deadline *time.Time, values map[string]any) {
	for key, v := range c.put {
		values[key] = v
	}
	for _, key := range c.removed {
		delete(values, key)
	}
	if c.deadline != nil {
		*deadline = *c.deadline
	}
}

// changes compares a session of keys, with get's values and deadline,
// with r.
func (r sessionReading) changes(keys []string, get func(string) any, deadline time.Time) changes {
	var c changes
	if !deadline.Equal(r.deadline) {
		c.deadline = &deadline
	}
	now := make(map[string]bool, len(keys))
	for _, key := range keys {
		now[key] = true
		v := get(key)
		if old, ok := r.values[key]; !ok || !sameValue(old, v) {
			if c.put == nil {
				c.put = map[string]any{}
			}
			c.put[key] = v
		}
	}
	for key := range r.values {
		if !now[key] {
			c.removed = append(c.removed, key)
		}
	}
	return c
}

// encodedValue is the snapshot of a value of a type that encodes itself
// (gob.GobEncoder, encoding.BinaryMarshaler): its encoding, since its
// state may be out of reflection's reach.
type encodedValue struct{ b []byte }

// snapshot returns a copy of v that a change made in place to v does not
// reach: v itself when it holds no reference (numbers, strings, time.Time,
// structs and arrays of those), otherwise a deep copy of what gob encodes
// (exported fields, elements, entries).
func snapshot(v any) any {
	if v == nil {
		return nil
	}
	t := reflect.TypeOf(v)
	if plain(t, 0) {
		return v
	}
	if b, ok := selfEncoded(v); ok {
		return encodedValue{b}
	}
	return deepCopy(reflect.ValueOf(v), 0).Interface()
}

// sameValue reports whether v holds what old, a snapshot, held.
func sameValue(old, v any) bool {
	if e, ok := old.(encodedValue); ok {
		b, ok := selfEncoded(v)
		return ok && bytes.Equal(b, e.b)
	}
	return reflect.DeepEqual(old, v) || sameEncoding(old, v)
}

// sameEncoding reports whether gob encodes a and b alike: for values that
// reflect.DeepEqual calls different although they are not, such as a NaN,
// which equals nothing, itself included.
func sameEncoding(a, b any) bool {
	var ba, bb bytes.Buffer
	if gob.NewEncoder(&ba).Encode(&a) != nil || gob.NewEncoder(&bb).Encode(&b) != nil {
		return false
	}
	return bytes.Equal(ba.Bytes(), bb.Bytes())
}

var timeType = reflect.TypeFor[time.Time]()

// plain reports whether values of t hold no reference.
func plain(t reflect.Type, depth int) bool {
	if t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return depth < maxCopyDepth && plain(t.Elem(), depth+1)
	case reflect.Struct:
		if depth >= maxCopyDepth {
			return false
		}
		for i := range t.NumField() {
			if !plain(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// selfEncoded returns the encoding of a value whose type encodes itself.
func selfEncoded(v any) ([]byte, bool) {
	switch e := v.(type) {
	case gob.GobEncoder:
		b, err := e.GobEncode()
		return b, err == nil
	case encoding.BinaryMarshaler:
		b, err := e.MarshalBinary()
		return b, err == nil
	}
	return nil, false
}

// maxCopyDepth bounds deepCopy: a value nested deeper (or a cycle, which
// gob cannot encode anyway) is shared below it.
const maxCopyDepth = 32

func deepCopy(v reflect.Value, depth int) reflect.Value {
	if depth > maxCopyDepth {
		return v
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(deepCopy(v.Elem(), depth+1))
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(deepCopy(v.Elem(), depth+1))
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(it.Key(), deepCopy(it.Value(), depth+1))
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		if v.Type().Elem().Kind() == reflect.Uint8 {
			reflect.Copy(c, v)
			return c
		}
		for i := range v.Len() {
			c.Index(i).Set(deepCopy(v.Index(i), depth+1))
		}
		return c
	case reflect.Array, reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		if v.Kind() == reflect.Array {
			for i := range v.Len() {
				c.Index(i).Set(deepCopy(v.Index(i), depth+1))
			}
			return c
		}
		for i := range v.NumField() {
			if f := c.Field(i); f.CanSet() {
				f.Set(deepCopy(v.Field(i), depth+1))
			}
		}
		return c
	}
	return v
}
