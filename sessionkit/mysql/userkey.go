package mysql

import (
	"bytes"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Reading the user of a session from its encoding. Every commit of a
// session to a table with the user columns needs the session's UserKey
// value. scs's GobCodec.Decode makes a gob decoder for each call, which
// compiles the stream's type definitions anew: some 200 allocations and
// most of a commit's CPU time on the client. readUser reads the value
// straight from the encoding instead, where it can do so exactly, and
// userOf decodes in full wherever it cannot.
//
// scs's GobCodec encodes a session as one gob value,
// struct{Deadline time.Time; Values map[string]interface{}}, with a fresh
// encoder. The stream is a series of messages, each a byte count and that
// many bytes. The first messages define the struct's types; they are the
// same in every encoding this process makes, and readUser compares them
// with its own encoding of an empty session. The value follows: the
// struct's fields (deltas of field numbers, then a zero), the map's length
// and its pairs. A pair is a string key and an interface value: the
// concrete type's name (empty for nil), the definitions of types this
// stream has not sent yet (each ends a message, and the value goes on in
// the next one), the type's id, a byte count and the value itself.
//
// readUser reads every key, and skips the other values by their byte
// count. That count covers the whole value only when the value's type holds
// no interface: an interface inside a value may carry type definitions,
// which split the value. So readUser reads each type definition the stream
// sends, and gives up on a stream that defines a type holding an interface
// (a map[string]interface{} or a struct with an interface field among the
// session's values): those streams are decoded in full. It gives up, too,
// on anything else it does not expect: a value of a basic type that does
// not fill its byte count exactly, a type id not defined before its use,
// a UserKey whose value is named "string" but is not gob's string,
// trailing bytes.
//
// What it does not check is what only the decode itself can: that each
// type name is registered with gob and matches the type sent for it, and
// the bytes inside the values it skips. Encodings made by scs's codec in
// this process pass all of these (gob refuses to encode a type that is not
// registered), and the data a Commit is given are such an encoding, or
// another codec's, which does not start with the same type definitions.

// Type ids that gob predefines.
const (
	gobBool      = 1
	gobInt       = 2
	gobUint      = 3
	gobFloat     = 4
	gobBytes     = 5
	gobString    = 6
	gobComplex   = 7
	gobInterface = 8
	gobFirstUser = 64 // the first id of a type a stream defines
)

// Limits of what readUser follows; a stream beyond them is decoded in full.
const (
	maxGobDefs     = 32   // type definitions in one stream
	maxGobRefs     = 64   // references from them to other types
	maxGobTypeName = 1024 // as gob's decoder
)

// sessionHeader is what every session scs's GobCodec encodes in this
// process starts with.
type sessionHeader struct {
	defs  []byte  // the messages defining the session struct's types
	id    int64   // the session struct's type id
	ids   []int64 // the types defined there
	plain []int64 // those of them that hold no interface (time.Time)
}

// ownHeader reads the header from an encoding of an empty session, once; nil
// if that fails, which turns readUser off.
var ownHeader = sync.OnceValue(func() *sessionHeader {
	data, err := scs.GobCodec{}.Encode(time.Time{}, map[string]any{})
	if err != nil {
		return nil
	}
	return readHeader(data)
})

// readHeader reads the type definitions that start data, up to the value's
// first message.
func readHeader(data []byte) *sessionHeader {
	r := gobReader{rest: data}
	for !r.bad {
		start := len(data) - len(r.rest)
		r.nextMessage()
		id := r.int()
		if r.bad {
			return nil
		}
		if id >= 0 {
			h := &sessionHeader{defs: data[:start], id: id}
			for _, d := range r.defined[:r.nDefined] {
				h.ids = append(h.ids, d)
			}
			h.plain = plainTypes(h.ids, r.refs[:r.nRefs])
			return h
		}
		r.define(-id)
		if len(r.msg) != 0 {
			return nil
		}
	}
	return nil
}

// plainTypes returns the ids of types that hold no interface, given what
// each refers to.
func plainTypes(ids []int64, refs [][2]int64) []int64 {
	var plain []int64
	for changed := true; changed; {
		changed = false
		for _, id := range ids {
			if contains(plain, id) {
				continue
			}
			ok := true
			for _, ref := range refs {
				if ref[0] == id && !(isBasicType(ref[1]) || contains(plain, ref[1])) {
					ok = false
				}
			}
			if ok {
				plain = append(plain, id)
				changed = true
			}
		}
	}
	return plain
}

func isBasicType(id int64) bool { return id >= gobBool && id <= gobComplex }

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// readUser returns the UserKey value of a session scs's GobCodec encoded,
// when it is a string ("" when the session has none, or another type), and
// whether it could read it exactly; when not, the data must be decoded.
func readUser(data []byte) (user []byte, ok bool) {
	h := ownHeader()
	if h == nil || !bytes.HasPrefix(data, h.defs) {
		return nil, false
	}
	r := gobReader{rest: data[len(h.defs):], header: h}
	if r.typeSequence(false) != h.id {
		return nil, false
	}
	for f := -1; ; {
		if f = r.field(f, 1); f < 0 {
			break
		}
		switch f {
		case 0: // Deadline, by time.Time's GobEncode
			var t time.Time
			if err := t.GobDecode(r.bytes()); err != nil {
				r.bad = true
			}
		case 1: // Values
			n := r.uint()
			if n > uint64(len(r.msg)) {
				r.bad = true
			}
			for i := uint64(0); i < n && !r.bad; i++ {
				key := r.bytes()
				value, isString := r.interfaceValue()
				if string(key) == UserKey {
					user = nil
					if isString {
						user = value
					}
				}
			}
		}
	}
	if r.bad || len(r.msg) != 0 || len(r.rest) != 0 {
		return nil, false
	}
	return user, true
}

// gobReader reads a gob stream. A read that finds what it does not expect
// sets bad; what it returns then does not matter.
type gobReader struct {
	rest   []byte // the messages after the current one
	msg    []byte // what is left of the current message
	bad    bool
	header *sessionHeader // nil while reading the header itself

	defined  [maxGobDefs]int64    // the types the stream has defined
	nDefined int                  //
	refs     [maxGobRefs][2]int64 // type, type it refers to
	nRefs    int                  //
	current  int64                // the type being defined
}

// nextMessage moves to the next message.
func (r *gobReader) nextMessage() {
	r.msg, r.rest = r.rest, nil
	n := r.uint()
	if r.bad || n == 0 || n > uint64(len(r.msg)) {
		r.bad = true
		return
	}
	r.msg, r.rest = r.msg[:n], r.msg[n:]
}

// uint reads an unsigned integer: one byte below 0x80, or the negated
// number of bytes that follow, big-endian.
func (r *gobReader) uint() uint64 {
	if r.bad || len(r.msg) == 0 {
		r.bad = true
		return 0
	}
	b := r.msg[0]
	if b < 0x80 {
		r.msg = r.msg[1:]
		return uint64(b)
	}
	n := -int(int8(b))
	if n > 8 || n >= len(r.msg) {
		r.bad = true
		return 0
	}
	var x uint64
	for _, c := range r.msg[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	r.msg = r.msg[1+n:]
	return x
}

// int reads a signed integer: an unsigned one whose lowest bit is the sign.
func (r *gobReader) int() int64 {
	u := r.uint()
	if u&1 != 0 {
		return ^int64(u >> 1)
	}
	return int64(u >> 1)
}

// bytes reads a byte count and that many bytes.
func (r *gobReader) bytes() []byte {
	n := r.uint()
	if r.bad || n > uint64(len(r.msg)) {
		r.bad = true
		return nil
	}
	b := r.msg[:n]
	r.msg = r.msg[n:]
	return b
}

// field reads a struct's next field number after f, of at most last; -1
// at the struct's end (or on bad data).
func (r *gobReader) field(f, last int) int {
	delta := r.uint()
	if r.bad || delta == 0 {
		return -1
	}
	if delta > uint64(last-f) {
		r.bad = true
		return -1
	}
	return f + int(delta)
}

// typeSequence reads the type definitions before a value, and returns the
// value's type id. Only a value inside an interface may have definitions
// that do not end their message.
func (r *gobReader) typeSequence(inInterface bool) int64 {
	for !r.bad {
		if len(r.msg) == 0 {
			r.nextMessage()
			continue
		}
		id := r.int()
		if r.bad {
			break
		}
		if id >= 0 {
			return id
		}
		r.define(-id)
		if len(r.msg) > 0 {
			if !inInterface {
				r.bad = true
				break
			}
			r.uint()
		}
	}
	return -1
}

// define reads the definition of type id.
func (r *gobReader) define(id int64) {
	if id < gobFirstUser || r.isDefined(id) || r.nDefined == maxGobDefs {
		r.bad = true
		return
	}
	r.defined[r.nDefined] = id
	r.nDefined++
	r.current = id
	// A wireType: one of ArrayT, SliceT, StructT, MapT, GobEncoderT,
	// BinaryMarshalerT, TextMarshalerT.
	kinds := 0
	for f := -1; ; {
		if f = r.field(f, 6); f < 0 {
			break
		}
		kinds++
		r.typeBody(f)
	}
	if kinds != 1 {
		r.bad = true
	}
}

// The kinds of a wireType, by field number.
const (
	wireArray  = 0
	wireSlice  = 1
	wireStruct = 2
	wireMap    = 3
)

// typeBody reads one kind of type: its CommonType, then the ids of the
// types it is made of (an array also has a length; a struct has fields,
// each a name and a type id; a GobEncoder has nothing more).
func (r *gobReader) typeBody(kind int) {
	last := 0
	switch kind {
	case wireArray, wireMap:
		last = 2
	case wireSlice, wireStruct:
		last = 1
	}
	for f := -1; ; {
		if f = r.field(f, last); f < 0 {
			return
		}
		switch {
		case f == 0:
			r.commonType()
		case kind == wireStruct:
			n := r.uint()
			if n > uint64(len(r.msg)) {
				r.bad = true
			}
			for i := uint64(0); i < n && !r.bad; i++ {
				r.fieldType()
			}
		case kind == wireArray && f == 2:
			r.int() // Len
		default:
			r.refer(r.int())
		}
	}
}

// commonType reads a type's name and id.
func (r *gobReader) commonType() {
	for f := -1; ; {
		if f = r.field(f, 1); f < 0 {
			return
		}
		if f == 0 {
			r.bytes()
		} else {
			r.int()
		}
	}
}

// fieldType reads a struct field's name and type id.
func (r *gobReader) fieldType() {
	for f := -1; ; {
		if f = r.field(f, 1); f < 0 {
			return
		}
		if f == 0 {
			r.bytes()
		} else {
			r.refer(r.int())
		}
	}
}

// refer records that the type being defined holds a value of type id.
// Reading a session, a type that holds an interface, or a header type
// other than a plain one, ends the fast path.
func (r *gobReader) refer(id int64) {
	if r.bad {
		return
	}
	if r.header != nil {
		switch {
		case isBasicType(id), contains(r.header.plain, id):
			return
		case id < gobFirstUser, contains(r.header.ids, id):
			r.bad = true
			return
		}
	}
	if r.nRefs == maxGobRefs {
		r.bad = true
		return
	}
	r.refs[r.nRefs] = [2]int64{r.current, id}
	r.nRefs++
}

func (r *gobReader) isDefined(id int64) bool {
	if r.header != nil && contains(r.header.ids, id) {
		return true
	}
	for _, d := range r.defined[:r.nDefined] {
		if d == id {
			return true
		}
	}
	return false
}

// usable reports whether a value of type id can be skipped by its byte
// count: its type and every type the stream has defined so far hold no
// interface (checked as they were read), and every type they refer to is
// defined.
func (r *gobReader) usable(id int64) bool {
	if isBasicType(id) || contains(r.header.plain, id) {
		return true
	}
	if id < gobFirstUser || !r.isDefined(id) || contains(r.header.ids, id) {
		return false
	}
	for _, ref := range r.refs[:r.nRefs] {
		if !r.isDefined(ref[1]) {
			return false
		}
	}
	return true
}

// interfaceValue reads an interface value of the session's map, and
// returns it when it is a string.
func (r *gobReader) interfaceValue() (s []byte, isString bool) {
	n := r.uint()
	if r.bad || n > uint64(len(r.msg)) || n > maxGobTypeName {
		r.bad = true
		return nil, false
	}
	if n == 0 {
		return nil, false // nil
	}
	name := r.msg[:n]
	r.msg = r.msg[n:]
	id := r.typeSequence(true)
	value := r.bytes()
	if r.bad || !r.usable(id) {
		r.bad = true
		return nil, false
	}
	if !isBasicType(id) {
		if string(name) == "string" {
			r.bad = true
		}
		return nil, false
	}
	// A value of a basic type is a singleton: a zero field delta, then the
	// value, filling the byte count.
	v := gobReader{msg: value}
	if v.uint() != 0 {
		r.bad = true
		return nil, false
	}
	switch id {
	case gobBytes, gobString:
		s = v.bytes()
	case gobComplex:
		v.uint()
		v.uint()
	default:
		v.uint()
	}
	if v.bad || len(v.msg) != 0 {
		r.bad = true
		return nil, false
	}
	switch {
	case string(name) != "string":
		return nil, false
	case id != gobString:
		r.bad = true
		return nil, false
	}
	return s, true
}
