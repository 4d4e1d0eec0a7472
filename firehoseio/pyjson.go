package firehoseio

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotJSON is returned for a record Jsonify cannot encode: a channel, function or
// complex number (Python's json.dumps raises TypeError for such values), a cycle, or a
// json.Marshaler that returns invalid JSON.
var ErrNotJSON = errors.New("not encodable as JSON")

// maxDepth bounds the nesting the Python-style encoder follows: deeper values, such as
// pointer cycles, are refused (encoding/json also gives up on cycles after 1,000
// levels; Python raises ValueError for circular references).
const maxDepth = 1000

// pyJSON encodes Go values as Python's json.dumps does with its defaults
// (separators ", " and ": ", ensure_ascii, allow_nan): the bytes the Python connector
// sends with jsonify=True for the same data.
//
//   - strings: `"` and `\` escaped, \n \r \t \b \f as such, every other character outside
//     0x20–0x7E as \uXXXX (lower-case hex; surrogate pairs above U+FFFF); invalid UTF-8
//     becomes \ufffd;
//   - floats: Python's repr (shortest round-trip digits; 1.0, 1e+16, 1e-05; NaN, Infinity,
//     -Infinity); float32 values with their shortest float32 digits;
//   - structs: objects in field declaration order, with encoding/json's field rules (json
//     tags, omitempty, "-", ",string", embedded structs); this is the order of a Python
//     dict built field by field;
//   - maps: keys sorted by value (numbers numerically, strings by code point, as
//     json.dumps(sort_keys=True)); a Go map has no insertion order to keep;
//   - nil pointers, interfaces, slices and maps: null, as encoding/json; []byte inside a
//     value: base64, as encoding/json;
//   - json.Marshaler and encoding.TextMarshaler values: their output, re-spaced and
//     re-escaped in the same style (key order kept).
type pyJSON struct {
	buf    []byte
	fields map[reflect.Type][]field // struct fields by type, computed once
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	jsonNumberType    = reflect.TypeFor[json.Number]()
)

// encode appends the encoding of v to e.buf.
func (e *pyJSON) encode(v any) error {
	return e.value(reflect.ValueOf(v), 0)
}

func (e *pyJSON) value(v reflect.Value, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d (a cycle?)", ErrNotJSON, maxDepth)
	}
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	if t == jsonNumberType {
		s := v.String()
		if s == "" {
			s = "0"
		}
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("%w: json.Number %q", ErrNotJSON, s)
		}
		e.buf = append(e.buf, s...)
		return nil
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && v.CanAddr() &&
		!t.Implements(jsonMarshalerType) && reflect.PointerTo(t).Implements(jsonMarshalerType) {
		v = v.Addr()
		t = v.Type()
	}
	if t.Implements(jsonMarshalerType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return fmt.Errorf("%w: %v.MarshalJSON: %w", ErrNotJSON, t, err)
		}
		return e.respace(b, t)
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && t.Implements(textMarshalerType) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return fmt.Errorf("%w: %v.MarshalText: %w", ErrNotJSON, t, err)
		}
		e.str(string(b))
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case reflect.Float32:
		e.buf = appendPyFloat(e.buf, v.Float(), 32)
	case reflect.Float64:
		e.buf = appendPyFloat(e.buf, v.Float(), 64)
	case reflect.String:
		e.str(v.String())
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Kind() == reflect.Pointer && t.Elem().Implements(textMarshalerType) && t.Elem().Kind() != reflect.Interface {
			b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return fmt.Errorf("%w: %v.MarshalText: %w", ErrNotJSON, t, err)
			}
			e.str(string(b))
			return nil
		}
		return e.value(v.Elem(), depth+1)
	case reflect.Slice:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(jsonMarshalerType) &&
			!reflect.PointerTo(t.Elem()).Implements(textMarshalerType) {
			e.buf = append(e.buf, '"')
			e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
			e.buf = append(e.buf, '"')
			return nil
		}
		return e.array(v, depth)
	case reflect.Array:
		return e.array(v, depth)
	case reflect.Map:
		return e.object(v, depth)
	case reflect.Struct:
		return e.structure(v, depth)
	default:
		return fmt.Errorf("%w: value of type %v", ErrNotJSON, t)
	}
	return nil
}

func (e *pyJSON) array(v reflect.Value, depth int) error {
	e.buf = append(e.buf, '[')
	for i := range v.Len() {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		if err := e.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// mapKey is a map key with its JSON name and the value it sorts by.
type mapKey struct {
	name string
	num  float64 // for numeric and bool keys
	v    reflect.Value
}

func (e *pyJSON) object(v reflect.Value, depth int) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	kt := v.Type().Key()
	keys := make([]mapKey, 0, v.Len())
	numeric := false
	for it := v.MapRange(); it.Next(); {
		k := it.Key()
		mk := mapKey{v: it.Value()}
		switch {
		case kt.Kind() == reflect.String && !kt.Implements(textMarshalerType):
			mk.name = k.String()
		case kt.Implements(textMarshalerType):
			if kt.Kind() == reflect.Pointer && k.IsNil() {
				return fmt.Errorf("%w: nil map key of type %v", ErrNotJSON, kt)
			}
			b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return fmt.Errorf("%w: %v.MarshalText: %w", ErrNotJSON, kt, err)
			}
			mk.name = string(b)
		case k.CanInt():
			mk.name, mk.num, numeric = strconv.FormatInt(k.Int(), 10), float64(k.Int()), true
		case k.CanUint():
			mk.name, mk.num, numeric = strconv.FormatUint(k.Uint(), 10), float64(k.Uint()), true
		case k.CanFloat():
			mk.name, mk.num, numeric = string(appendPyFloat(nil, k.Float(), kt.Bits())), k.Float(), true
		case kt.Kind() == reflect.Bool:
			mk.name, numeric = strconv.FormatBool(k.Bool()), true
			if k.Bool() {
				mk.num = 1
			}
		default:
			return fmt.Errorf("%w: map key of type %v", ErrNotJSON, kt)
		}
		keys = append(keys, mk)
	}
	if numeric {
		slices.SortFunc(keys, func(a, b mapKey) int { return cmp.Or(cmp.Compare(a.num, b.num), strings.Compare(a.name, b.name)) })
	} else {
		slices.SortFunc(keys, func(a, b mapKey) int { return strings.Compare(a.name, b.name) })
	}
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ", "...)
		}
		e.str(k.name)
		e.buf = append(e.buf, ": "...)
		if err := e.value(k.v, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *pyJSON) structure(v reflect.Value, depth int) error {
	e.buf = append(e.buf, '{')
	first := true
	for _, f := range e.cachedFields(v.Type()) {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ", "...)
		}
		first = false
		e.str(f.name)
		e.buf = append(e.buf, ": "...)
		if f.quoted {
			if err := e.quoted(fv, depth); err != nil {
				return err
			}
			continue
		}
		if err := e.value(fv, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// quoted encodes a field with the ",string" option: its scalar encoding inside a string.
func (e *pyJSON) quoted(v reflect.Value, depth int) error {
	inner := pyJSON{fields: e.fields}
	if err := inner.value(v, depth+1); err != nil {
		return err
	}
	if v.Kind() == reflect.String {
		e.str(string(inner.buf))
		return nil
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, inner.buf...)
	e.buf = append(e.buf, '"')
	return nil
}

// str appends s as a JSON string with Python's ensure_ascii escapes.
func (e *pyJSON) str(s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		e.buf = append(e.buf, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch k := strings.IndexByte("\n\r\t\b\f", c); {
			case c == '"' || c == '\\':
				e.buf = append(e.buf, '\\', c)
			case k >= 0:
				e.buf = append(e.buf, '\\', "nrtbf"[k])
			case c < 0x20 || c == 0x7f:
				u(rune(c))
			default:
				e.buf = append(e.buf, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xffff {
			r -= 0x10000
			u(0xd800 | r>>10&0x3ff)
			u(0xdc00 | r&0x3ff)
			continue
		}
		u(r) // utf8.RuneError (U+FFFD) for invalid UTF-8, as encoding/json
	}
	e.buf = append(e.buf, '"')
}

// respace re-emits the JSON b (a Marshaler's output) in Python's style.
func (e *pyJSON) respace(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := e.token(dec, 0); err != nil {
		return fmt.Errorf("%w: %v.MarshalJSON returned %q: %w", ErrNotJSON, t, b, err)
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("%w: %v.MarshalJSON returned %q: more than one value", ErrNotJSON, t, b)
	}
	return nil
}

func (e *pyJSON) token(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		closing, sep := byte(']'), ", "
		if tok == '{' {
			closing = '}'
		}
		e.buf = append(e.buf, byte(tok))
		for n := 0; dec.More(); n++ {
			if n > 0 {
				e.buf = append(e.buf, sep...)
			}
			if tok == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				e.str(k.(string))
				e.buf = append(e.buf, ": "...)
			}
			if err := e.token(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		e.buf = append(e.buf, closing)
	case string:
		e.str(tok)
	case json.Number:
		e.buf = append(e.buf, tok...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, tok)
	case nil:
		e.buf = append(e.buf, "null"...)
	}
	return nil
}

// appendPyFloat appends f as Python's repr(float) writes it: the shortest digits that
// read back as f (for bitSize 32, as a float32), in fixed notation when the decimal
// exponent is from -4 to 15 (with ".0" when integral), else scientific with a signed
// exponent of at least two digits.
func appendPyFloat(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	// The decimal exponent of the shortest digits decides the notation.
	var tmp [32]byte
	sci := strconv.AppendFloat(tmp[:0], f, 'e', -1, bitSize)
	exp, _ := strconv.Atoi(string(sci[bytes.IndexByte(sci, 'e')+1:]))
	if exp < -4 || exp >= 16 {
		return append(b, sci...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, bitSize)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// field is a struct field as encoding/json sees it.
type field struct {
	name      string
	index     []int
	omitEmpty bool
	quoted    bool
	tagged    bool
}

// cachedFields returns the fields of struct type t, computing them once per encoder.
func (e *pyJSON) cachedFields(t reflect.Type) []field {
	if f, ok := e.fields[t]; ok {
		return f
	}
	if e.fields == nil {
		e.fields = map[reflect.Type][]field{}
	}
	f := typeFields(t)
	e.fields[t] = f
	return f
}

// typeFields returns the fields encoding/json encodes for struct type t, in its order:
// exported fields and the fields of embedded structs, with the same dominance rules
// (the shallowest name wins; at equal depth a tagged one wins; otherwise the name is
// dropped).
func typeFields(t reflect.Type) []field {
	type queued struct {
		t     reflect.Type
		index []int
	}
	var all []field
	seen := map[string]bool{} // names taken, or dropped as ambiguous, at a shallower depth
	next := []queued{{t: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count := map[string]int{}
		var level []field
		for _, q := range current {
			if visited[q.t] {
				continue
			}
			visited[q.t] = true
			for i := range q.t.NumField() {
				sf := q.t.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(slices.Clone(q.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, queued{t: ft, index: index})
					continue
				}
				f := field{name: name, index: index, tagged: name != ""}
				if f.name == "" {
					f.name = sf.Name
				}
				for o := range strings.SplitSeq(opts, ",") {
					switch o {
					case "omitempty":
						f.omitEmpty = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.quoted = true
						}
					}
				}
				count[f.name]++
				level = append(level, f)
			}
		}
		for _, f := range level {
			if seen[f.name] {
				continue // a shallower field of that name dominates
			}
			if count[f.name] > 1 {
				if tagged := dominantTagged(level, f.name); tagged == nil || !slices.Equal(tagged.index, f.index) {
					continue
				}
			}
			all = append(all, f)
		}
		for _, f := range level {
			seen[f.name] = true
		}
	}
	slices.SortStableFunc(all, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return all
}

// dominantTagged returns the only tagged field named name at one depth, or nil.
func dominantTagged(level []field, name string) *field {
	var found *field
	for i := range level {
		if level[i].name == name && level[i].tagged {
			if found != nil {
				return nil
			}
			found = &level[i]
		}
	}
	return found
}

// fieldByIndex follows index through embedded pointers; it reports false when one is
// nil.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
