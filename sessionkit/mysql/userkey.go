package mysql

import (
	"bytes"
	"slices"
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
// readUser reads each type definition the stream sends, and walks every
// value of the map as gob's decoder does, by the definitions of their
// types, without building them: so it reads the same keys as the decoder.
// It gives up on a stream that defines a type holding an interface (a
// map[string]interface{} or a struct with an interface field among the
// session's values: an interface inside a value carries type definitions
// of its own, which split the value), and those streams are decoded in
// full. It gives up, too, on anything else it does not expect: a value
// that does not fill its byte count exactly (the decoder does not read the
// count), a type id it cannot resolve, a UserKey whose value is named
// "string" but is not gob's string, trailing bytes.
//
// What it does not check is what only the decoder can, knowing the Go
// types: that each type name is registered with gob, that the type sent
// for it matches the registered one, and that a number fits the Go type it
// is decoded into. Encodings made by scs's codec in this process pass all
// of these (gob refuses to encode a type that is not registered), and the
// data a Commit is given are such an encoding, or another codec's, which
// does not start with the same type definitions.

// Type ids that gob predefines.
const (
	gobBool      = 1
	gobInt       = 2
	gobUint      = 3
	gobFloat     = 4
	gobBytes     = 5
	gobString    = 6
	gobComplex   = 7  // 8 is interface: a type made of one is not read
	gobFirstUser = 64 // the first id of a type a stream defines
)

// Limits of what readUser follows; a stream beyond them is decoded in full.
const (
	maxGobDefs     = 32   // type definitions in one stream
	maxGobRefs     = 64   // references from them to other types
	maxGobDepth    = 32   // values inside values
	maxGobTypeName = 1024 // as gob's decoder
)

// The kinds of a type, by the field of gob's wireType that defines it; the
// others (GobEncoder, BinaryMarshaler, TextMarshaler) encode themselves as
// a byte count and bytes.
const (
	wireArray  = 0
	wireSlice  = 1
	wireStruct = 2
	wireMap    = 3
)

// gobType is a type a stream defines: its kind, an array's length, and
// the types it is made of, refs[from:to] of what read it: a struct's
// fields in order, an array's or a slice's element, a map's key and
// element.
type gobType struct {
	id       int64
	kind     int
	length   int64
	from, to int
}

// sessionHeader is what every session scs's GobCodec encodes in this
// process starts with.
type sessionHeader struct {
	defs  []byte    // the messages defining the session struct's types
	id    int64     // the session struct's type id
	types []gobType // the types defined there
	refs  []int64
	ids   []int64 // the ids of the types
	plain []int64 // the ids of those that hold no interface (time.Time's)
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
			h := &sessionHeader{defs: data[:start], id: id,
				types: slices.Clone(r.types[:r.nTypes]), refs: slices.Clone(r.refs[:r.nRefs])}
			for _, t := range h.types {
				h.ids = append(h.ids, t.id)
			}
			h.plain = plainTypes(h.types, h.refs)
			return h
		}
		r.define(-id)
		if len(r.msg) != 0 {
			return nil
		}
	}
	return nil
}

// plainTypes returns the ids of the types that hold no interface.
func plainTypes(types []gobType, refs []int64) []int64 {
	var plain []int64
	for changed := true; changed; {
		changed = false
		for _, t := range types {
			if contains(plain, t.id) {
				continue
			}
			ok := true
			for _, ref := range refs[t.from:t.to] {
				if !isBasicType(ref) && !contains(plain, ref) {
					ok = false
				}
			}
			if ok {
				plain = append(plain, t.id)
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

	types  [maxGobDefs]gobType // the types the stream has defined, nTypes of them
	nTypes int
	refs   [maxGobRefs]int64 // what they are made of, nRefs of them
	nRefs  int
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

// define reads the definition of type id: a wireType, of which one field
// is set.
func (r *gobReader) define(id int64) {
	if id < gobFirstUser || r.isDefined(id) || r.nTypes == maxGobDefs {
		r.bad = true
		return
	}
	t := gobType{id: id, from: r.nRefs}
	kinds := 0
	for f := -1; ; {
		if f = r.field(f, 6); f < 0 {
			break
		}
		kinds++
		t.kind = f
		t.length = r.typeBody(f)
	}
	if kinds != 1 {
		r.bad = true
	}
	t.to = r.nRefs
	r.types[r.nTypes] = t
	r.nTypes++
}

// typeBody reads one kind of type: its CommonType, then the ids of the
// types it is made of; an array also has a length, which it returns.
func (r *gobReader) typeBody(kind int) (length int64) {
	last := 0
	switch kind {
	case wireArray, wireMap:
		last = 2
	case wireSlice, wireStruct:
		last = 1
	}
	for f := -1; ; {
		if f = r.field(f, last); f < 0 {
			return length
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
			length = r.int()
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

// fieldType reads a struct field's name and type id. A field left out
// would have id 0, which resolves to no type.
func (r *gobReader) fieldType() {
	id := int64(0)
	for f := -1; ; {
		if f = r.field(f, 1); f < 0 {
			break
		}
		if f == 0 {
			r.bytes()
		} else {
			id = r.int()
		}
	}
	r.refer(id)
}

// refer records that the type being defined is made of type id. Reading a
// session, a type made of an interface, or of a header type that holds
// one, ends the fast path.
func (r *gobReader) refer(id int64) {
	if r.bad {
		return
	}
	if h := r.header; h != nil && !isBasicType(id) && !contains(h.plain, id) &&
		(id < gobFirstUser || contains(h.ids, id)) {
		r.bad = true
		return
	}
	if r.nRefs == maxGobRefs {
		r.bad = true
		return
	}
	r.refs[r.nRefs] = id
	r.nRefs++
}

func (r *gobReader) isDefined(id int64) bool {
	if r.header != nil && contains(r.header.ids, id) {
		return true
	}
	for _, t := range r.types[:r.nTypes] {
		if t.id == id {
			return true
		}
	}
	return false
}

// lookup returns the definition of type id and what it is made of: one the
// stream sent, or a plain one of the header.
func (r *gobReader) lookup(id int64) (gobType, []int64, bool) {
	for _, t := range r.types[:r.nTypes] {
		if t.id == id {
			return t, r.refs[t.from:t.to], true
		}
	}
	if h := r.header; h != nil && contains(h.plain, id) {
		for _, t := range h.types {
			if t.id == id {
				return t, h.refs[t.from:t.to], true
			}
		}
	}
	return gobType{}, nil, false
}

// resolved reports whether every type the stream has defined is made of
// types that are basic or defined.
func (r *gobReader) resolved() bool {
	for _, id := range r.refs[:r.nRefs] {
		if !isBasicType(id) && !r.isDefined(id) {
			return false
		}
	}
	return true
}

// skip reads a value of type id as gob's decoder reads it, without keeping
// it.
func (r *gobReader) skip(id int64, depth int) {
	if r.bad {
		return
	}
	switch id {
	case gobBool, gobInt, gobUint, gobFloat:
		r.uint()
		return
	case gobBytes, gobString:
		r.bytes()
		return
	case gobComplex:
		r.uint()
		r.uint()
		return
	}
	t, refs, ok := r.lookup(id)
	if !ok || depth == maxGobDepth || !wellFormed(t.kind, len(refs)) {
		r.bad = true
		return
	}
	switch t.kind {
	case wireStruct:
		for f := -1; !r.bad; {
			if f = r.field(f, len(refs)-1); f < 0 {
				break
			}
			r.skip(refs[f], depth+1)
		}
	case wireSlice, wireArray, wireMap:
		n := r.uint()
		if n > uint64(len(r.msg)) || t.kind == wireArray && n != uint64(t.length) {
			r.bad = true
		}
		for i := uint64(0); i < n && !r.bad; i++ {
			for _, ref := range refs {
				r.skip(ref, depth+1)
			}
		}
	default:
		r.bytes()
	}
}

// wellFormed reports whether a type of a kind is made of n types: an array
// or a slice of its element, a map of its key and element, a type that
// encodes itself of none. (A struct's fields are all there: a field left
// out of the definition is type 0, which resolves to none.)
func wellFormed(kind, n int) bool {
	switch kind {
	case wireStruct:
		return true
	case wireArray, wireSlice:
		return n == 1
	case wireMap:
		return n == 2
	}
	return n == 0
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
	isString = string(name) == "string"
	if isString && id != gobString || !r.resolved() {
		r.bad = true
	}
	// A byte count, then the value: a struct, or any other type as a
	// singleton, a zero field delta before it.
	count := r.uint()
	if r.bad || count > uint64(len(r.msg)) {
		r.bad = true
		return nil, false
	}
	before := len(r.msg)
	if t, _, ok := r.lookup(id); !ok || t.kind != wireStruct {
		if r.uint() != 0 {
			r.bad = true
		}
	}
	if id == gobString {
		s = r.bytes()
	} else {
		r.skip(id, 0)
	}
	if r.bad || before-len(r.msg) != int(count) {
		r.bad = true
		return nil, false
	}
	return s, isString
}
