package mysql

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
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

func registerTestTypes() {
	for _, v := range []any{testFlash{}, &testNode{}, testHolder{}, testUserID(""), testEmpty{}, time.Time{},
		map[string]any{}, []any{}, [3]int{}, map[int]string{}, complex128(0), int8(0), []byte(nil)} {
		gob.Register(v)
	}
}

// testSession encodes values as scs does.
func testSession(t testing.TB, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadUserMatchesTheDecode reads the user of sessions as scs encodes
// them: without decoding where no value holds an interface, and always as
// the full decode does.
func TestReadUserMatchesTheDecode(t *testing.T) {
	registerTestTypes()
	deadline := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	long := strings.Repeat("u", 300)
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string // userOf's result
		read   bool   // readUser reads it without the decode
	}{
		{"user only", map[string]any{UserKey: "ada"}, "ada", true},
		{"user among others", map[string]any{"csrf": "x", UserKey: "ada", "n": 3, "ok": true, "f": 1.5}, "ada", true},
		{"anonymous", map[string]any{"csrf": "x"}, "", true},
		{"empty", map[string]any{}, "", true},
		{"key as another value", map[string]any{"note": UserKey, "other": UserKey + "ada"}, "", true},
		{"key inside other keys", map[string]any{UserKey + "2": "eve", "x" + UserKey: "eve", UserKey: "ada"}, "ada", true},
		{"user is the key's text", map[string]any{UserKey: UserKey}, UserKey, true},
		{"user not a string", map[string]any{UserKey: 42}, "", true},
		{"user a named string", map[string]any{UserKey: testUserID("ada")}, "", true},
		{"user nil", map[string]any{UserKey: nil, "a": "b"}, "", true},
		{"user empty", map[string]any{UserKey: ""}, "", true},
		{"user too long", map[string]any{UserKey: long}, "", true},
		{"user at the limit", map[string]any{UserKey: long[:maxUserID]}, long[:maxUserID], true},
		{"user of many bytes", map[string]any{UserKey: "ädä\x00ü"}, "ädä\x00ü", true},
		{"user not UTF-8", map[string]any{UserKey: "ädä\x00\xff"}, "", true},
		{"structs", map[string]any{"flash": testFlash{Level: 2, Text: UserKey, At: deadline},
			"node":  &testNode{Name: "a", Next: &testNode{Name: UserKey}, Tags: []string{UserKey}, Attrs: map[string]int{UserKey: 1}},
			UserKey: "ada", "empty": testEmpty{}}, "ada", true},
		{"basic and registered types", map[string]any{"t": deadline, "a": [3]int{1, 2, 3}, "m": map[int]string{1: UserKey},
			"c": complex(1, 2), "i8": int8(-3), "b": []byte(UserKey), "s": []string{"x"}, UserKey: "ada"}, "ada", true},
		{"a long value", map[string]any{"big": strings.Repeat("x", 100000), UserKey: "ada"}, "ada", true},
		{"a map of interfaces", map[string]any{"m": map[string]any{UserKey: "eve"}, UserKey: "ada"}, "ada", false},
		{"a slice of interfaces", map[string]any{"s": []any{"eve", 1}, UserKey: "ada"}, "ada", false},
		{"a struct with an interface", map[string]any{"h": testHolder{Any: testFlash{Text: "x"}}, UserKey: "ada"}, "ada", false},
		{"user inside an interface only", map[string]any{"m": map[string]any{UserKey: "eve"}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []time.Time{deadline, {}} {
				data := testSession(t, d, tc.values)
				if got := userOf(data); got != tc.want {
					t.Errorf("userOf = %q; want %q", got, tc.want)
				}
				user, ok := readUser(data)
				if ok != tc.read {
					t.Errorf("readUser read it: %v; want %v", ok, tc.read)
				}
				if want := decodeUser(data); ok && string(user) != want {
					t.Errorf("readUser = %q; the decode gives %q", user, want)
				}
			}
		})
	}
}

// TestReadUserGivesUpOnOtherData leaves to the decode what is not exactly
// a session as scs's GobCodec encodes it in this process.
func TestReadUserGivesUpOnOtherData(t *testing.T) {
	data := testSession(t, time.Now(), map[string]any{UserKey: "ada", "a": "b"})
	other, err := json.Marshal(map[string]any{UserKey: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"trailing bytes", append(bytes.Clone(data), 0)},
		{"a second value", append(bytes.Clone(data), data...)},
		{"cut short", data[:len(data)-1]},
		{"only the header", data[:len(ownHeader().defs)]},
		{"another codec", other},
		{"another gob value", gobOf(t, map[string]any{UserKey: "ada"})},
		{"nothing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if user, ok := readUser(tc.data); ok {
				t.Errorf("readUser = %q, true; want it to leave the data to the decode", user)
			}
			if got, want := userOf(tc.data), decodeUser(tc.data); got != want {
				t.Errorf("userOf = %q; the decode gives %q", got, want)
			}
		})
	}
}

func gobOf(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzUserOf builds sessions from the input (keys, among them UserKey and
// keys that contain it, and values of many types: strings that are or
// contain UserKey, long ones, nil, numbers, registered structs, maps and
// slices, some holding interfaces), encodes them as scs does, and checks
// that readUser gives what the full decode gives, and reads without the
// decode every session in which no value holds an interface.
func FuzzUserOf(f *testing.F) {
	registerTestTypes()
	for _, seed := range []string{"", "\x01\x00\x00", "\x03\x00\x01\x02\x03\x04\x05", "\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
		"\x02\x00\x10\x01\x11", strings.Repeat("\x07\x00\x05", 10)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		g := &sessionMaker{in: input}
		deadline, values, plain := g.session()
		data, err := scs.GobCodec{}.Encode(deadline, values)
		if err != nil {
			t.Skip(err)
		}
		want := decodeUser(data)
		user, ok := readUser(data)
		if ok && string(user) != want {
			t.Fatalf("readUser = %q; the decode gives %q, for %#v", user, want, values)
		}
		if ok != plain {
			t.Fatalf("readUser read it: %v; want %v, for %#v", ok, plain, values)
		}
		if CheckUserID(want) != nil {
			want = ""
		}
		if got := userOf(data); got != want {
			t.Fatalf("userOf = %q; want %q, for %#v", got, want, values)
		}
	})
}

// FuzzReadUserOnAnyBytes gives readUser arbitrary bytes, starting from
// sessions as scs encodes them: it must not fail, and where the decode
// succeeds, readUser either gives what it gives or leaves the data to it.
func FuzzReadUserOnAnyBytes(f *testing.F) {
	registerTestTypes()
	for _, values := range []map[string]any{{UserKey: "ada"}, {UserKey: "ada", "n": 1, "f": testFlash{Text: "x"}},
		{"a": nil, UserKey: 3}, {"x": &testNode{Name: "n", Tags: []string{UserKey}}, UserKey: "bob"}} {
		f.Add(testSession(f, time.Unix(1e9, 0), values))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		user, ok := readUser(data)
		if !ok {
			return
		}
		_, values, err := scs.GobCodec{}.Decode(data)
		if err != nil {
			return
		}
		if want, _ := values[UserKey].(string); string(user) != want {
			t.Fatalf("readUser = %q; the decode gives %q", user, want)
		}
	})
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
		return UserKey
	case 3:
		return UserKey + g.text()
	case 4:
		return g.text() + UserKey
	case 5:
		return ""
	default:
		return g.text()
	}
}

func (g *sessionMaker) text() string {
	switch b := g.byte(); b % 8 {
	case 0:
		return UserKey
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
		return fmt.Sprintf("%s%d", UserKey[:b%16], b)
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

// BenchmarkUserOf reads the user of a bound session as a commit does, and
// by the full decode.
func BenchmarkUserOf(b *testing.B) {
	data := testSession(b, time.Now(), map[string]any{"csrf_token": strings.Repeat("c", 43),
		"flash": "Your changes have been saved.", UserKey: "user-00000001"})
	for _, bc := range []struct {
		name string
		read func([]byte) string
	}{{"read", userOf}, {"decode", decodeUser}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.read(data) != "user-00000001" {
					b.Fatal("wrong user")
				}
			}
		})
	}
}
