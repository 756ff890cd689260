package sessionkit

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// Types sessions hold in these tests, registered with gob as an
// application registers its own.
type (
	testFlash struct {
		Level int
		Text  string
		At    time.Time
	}
	testNode struct {
		Name  string
		Next  *testNode
		Tags  []string
		Attrs map[string]int
		Grid  [2][2]float64
	}
	testHolder struct { // holds an interface: decoded in full
		Any  any
		Name string
	}
	testUserID string
	testEmpty  struct{}
)

var registerOnce sync.Once

func registerTestTypes() {
	registerOnce.Do(func() {
		for _, v := range []any{testFlash{}, &testNode{}, testHolder{}, testUserID(""), testEmpty{}, time.Time{},
			map[string]any{}, []any{}, [3]int{}, map[int]string{}, complex128(0), int8(0), []byte(nil)} {
			gob.Register(v)
		}
	})
}

// FuzzSaveSeesEveryChange loads a session built from the input as scs
// would (encoded and decoded by its GobCodec), changes it as a handler
// might (in place, through a map, a slice or a pointer it holds; by putting
// an equal or a different value; by removing or adding a key; by moving
// the deadline) and checks that the kit's two readings say "changed"
// exactly when the session scs would save differs from the one it loaded.
func FuzzSaveSeesEveryChange(f *testing.F) {
	registerTestTypes()
	for _, seed := range []string{"", "\x01\x00\x00", "\x03\x00\x01\x02\x03\x04\x05", "\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
		"\x02\x00\x10\x01\x11", strings.Repeat("\x07\x00\x05", 10), "\x00\x00\x04\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x01\x02",
		"\x00\x00\x03\x12\x12\x12\x12\x13\x13\x13\x13\x03", "\x00\x00\x05\x0e\x0e\x0e\x08\x08\x08\x0d\x0d\x04"} {
		for change := range byte(9) {
			f.Add(append([]byte{change}, seed...))
		}
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		if len(input) == 0 {
			return
		}
		change, pick := input[0]%9, 0
		if len(input) > 1 {
			pick = int(input[1])
		}
		g := &sessionMaker{in: input[1:]}
		deadline, made, _ := g.session()
		// The session as scs loads it: encoded and decoded.
		data, err := scs.GobCodec{}.Encode(deadline, made)
		if err != nil {
			t.Skip(err)
		}
		deadline, values, err := scs.GobCodec{}.Decode(data)
		if err != nil {
			t.Skip(err)
		}
		keys := func() []string {
			var ks []string
			for k := range values {
				ks = append(ks, k)
			}
			return ks
		}
		get := func(k string) any { return values[k] }
		before := reading(keys(), get, deadline)

		describe := changeValues(change, pick, values, &deadline)
		after, err := scs.GobCodec{}.Encode(deadline, values)
		if err != nil {
			t.Skip(err)
		}
		want := !sameSessionData(t, data, after)
		if got := before.changes(keys(), get, deadline).any(); got != want {
			t.Fatalf("%s: changed = %v, want %v; loaded %#v", describe, got, want, values)
		}
	})
}

// changeValues makes change number change to values, on the key at pick.
func changeValues(change byte, pick int, values map[string]any, deadline *time.Time) string {
	var key string
	if len(values) > 0 {
		ks := make([]string, 0, len(values))
		for k := range values {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		key = ks[pick%len(ks)]
	}
	switch change {
	case 1:
		return "in place: " + changeInPlace(values[key])
	case 2:
		values[key] = deepCopyForTest(values[key])
		return "put an equal value"
	case 3:
		values[key] = fmt.Sprint("other ", values[key])
		return "put another value"
	case 4:
		delete(values, key)
		return "removed a key"
	case 5:
		values["added"] = 1
		return "added a key"
	case 6:
		values[sessionmysql.UserKey] = "someone else"
		return "changed the user"
	case 7:
		*deadline = deadline.Add(time.Hour)
		return "moved the deadline"
	case 8:
		// Change a value in place and put it back, as a handler that
		// adds to a cart does.
		what := changeInPlace(values[key])
		values[key] = values[key]
		return "in place and put back: " + what
	}
	return "nothing"
}

// changeInPlace changes what v refers to, where it refers to anything.
func changeInPlace(v any) string {
	switch v := v.(type) {
	case map[string]any:
		v["in place"] = true
		return "map entry added"
	case map[int]string:
		for k := range v {
			v[k] += "!"
			return "map entry changed"
		}
		v[7] = "new"
		return "map entry added"
	case []any:
		if len(v) > 0 {
			v[0] = "changed in place"
			return "slice element changed"
		}
	case []byte:
		if len(v) > 0 {
			v[0]++
			return "byte changed"
		}
	case *testNode:
		if v != nil {
			v.Name += "!"
			if v.Next != nil {
				v.Next.Name += "?"
			}
			return "field behind a pointer changed"
		}
	case testHolder:
		return "in place: " + changeInPlace(v.Any)
	}
	return "nothing to change in place"
}

// deepCopyForTest copies v through gob, as a decode of the stored session
// would give it.
func deepCopyForTest(v any) any {
	var buf bytes.Buffer
	holder := map[string]any{"v": v}
	if err := gob.NewEncoder(&buf).Encode(holder); err != nil {
		return v
	}
	var out map[string]any
	if err := gob.NewDecoder(&buf).Decode(&out); err != nil {
		return v
	}
	return out["v"]
}

// sameSessionData reports whether two encodings by scs's GobCodec hold the
// same session.
func sameSessionData(t *testing.T, a, b []byte) bool {
	da, va, err := scs.GobCodec{}.Decode(a)
	if err != nil {
		t.Skip(err)
	}
	db, vb, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		t.Skip(err)
	}
	return da.Equal(db) && reflect.DeepEqual(va, vb)
}

// sessionMaker turns fuzz input into a session.
type sessionMaker struct {
	in []byte
}

func (g *sessionMaker) byte() byte {
	if len(g.in) == 0 {
		return 0
	}
	b := g.in[0]
	g.in = g.in[1:]
	return b
}

// session returns a session's deadline and values, and whether none of
// the values holds an interface.
func (g *sessionMaker) session() (time.Time, map[string]any, bool) {
	var deadline time.Time
	if b := g.byte(); b != 0 {
		deadline = time.Unix(int64(b)*1e7, int64(g.byte())*1e6).In(time.FixedZone("", (int(b)%27-13)*3600))
	}
	values := map[string]any{}
	for n := int(g.byte() % 12); n > 0; n-- {
		values[g.key()] = g.value(2)
	}
	plain := true
	for _, v := range values {
		switch v.(type) {
		case map[string]any, []any, testHolder:
			plain = false
		}
	}
	return deadline, values, plain
}

func (g *sessionMaker) key() string {
	switch b := g.byte(); b % 8 {
	case 0, 1, 2:
		return sessionmysql.UserKey
	case 3:
		return sessionmysql.UserKey + g.text()
	case 4:
		return g.text() + sessionmysql.UserKey
	case 5:
		return ""
	default:
		return g.text()
	}
}

func (g *sessionMaker) text() string {
	switch b := g.byte(); b % 8 {
	case 0:
		return sessionmysql.UserKey
	case 1:
		return strings.Repeat(string(rune('a'+b%26)), 250+int(g.byte()))
	case 2:
		return ""
	case 3:
		n := min(int(g.byte()%32), len(g.in))
		return string(g.in[:n]) // any bytes
	case 4:
		return "user-" + fmt.Sprint(g.byte())
	default:
		return fmt.Sprintf("%s%d", sessionmysql.UserKey[:b%16], b)
	}
}

func (g *sessionMaker) value(depth int) any {
	b := g.byte()
	if depth == 0 {
		b %= 10
	}
	switch b % 22 {
	case 0, 1, 2, 3:
		return g.text()
	case 4:
		return nil
	case 5:
		return int(b) - 100
	case 6:
		return float64(b) / 3
	case 7:
		return b%2 == 0
	case 8:
		return []byte(g.text())
	case 9:
		return testUserID(g.text())
	case 10:
		return testFlash{Level: int(g.byte()), Text: g.text(), At: time.Unix(int64(g.byte()), 0)}
	case 11:
		return &testNode{Name: g.text(), Next: &testNode{Name: g.text()}, Tags: []string{g.text()}, Attrs: map[string]int{g.text(): 1}}
	case 12:
		return time.Unix(int64(g.byte())*1e6, 0).UTC()
	case 13:
		return [3]int{int(g.byte()), 2, 3}
	case 14:
		return map[int]string{int(g.byte()): g.text()}
	case 15:
		return complex(float64(b), -1)
	case 16:
		return int8(b)
	case 17:
		return testEmpty{}
	case 18:
		m := map[string]any{}
		for n := int(g.byte() % 3); n > 0; n-- {
			m[g.key()] = g.value(depth - 1)
		}
		return m
	case 19:
		return []any{g.value(depth - 1), g.text()}
	default:
		v := g.value(depth - 1)
		if v == nil {
			v = 0
		}
		return testHolder{Any: v, Name: g.text()}
	}
}

// MadeSession returns the values of a session built from input, for the
// tests of package sessionkit_test.
func MadeSession(input []byte) map[string]any {
	registerTestTypes()
	_, values, _ := (&sessionMaker{in: input}).session()
	return values
}

// ChangeInPlace is changeInPlace, for the tests of package sessionkit_test.
func ChangeInPlace(v any) string { return changeInPlace(v) }
