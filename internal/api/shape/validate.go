package shape

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownOperation is returned by Validate for an operation name the model does not define.
var ErrUnknownOperation = errors.New("unknown operation")

// Violation is one failed model constraint, in AWS's (Coral) wording.
type Violation struct {
	// Path locates the member: camelCase member names joined by '.', list elements as
	// <list>.<1-based index>.member; see the package documentation.
	Path string
	// Value is the offending value exactly as the message shows it: Java's rendering in single
	// quotes ('abc'), the bare word null for an absent required member, or empty for a member of
	// a sensitive shape, whose value AWS leaves out ("Value at 'path' ...").
	Value string
	// Constraint is the failed constraint, e.g. "Member must have length less than or equal to 64".
	Constraint string
}

// String renders the violation as one clause of a ValidationError message.
func (v Violation) String() string {
	if v.Value == "" {
		return "Value at '" + v.Path + "' failed to satisfy constraint: " + v.Constraint
	}
	return "Value " + v.Value + " at '" + v.Path + "' failed to satisfy constraint: " + v.Constraint
}

// ValidationError reports the model constraints a request violates; it is sent to clients as a
// ValidationException with Error() as the message.
type ValidationError struct {
	Violations []Violation
}

// Error renders the Coral message, e.g. "1 validation error detected: Value 'x' at
// 'deliveryStreamName' failed to satisfy constraint: Member must have length less than or equal to 64".
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Violations) == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", len(e.Violations))
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// SerializationError reports a body that is not JSON, or a member whose JSON type does not match
// the model; it is sent to clients as a SerializationException.
type SerializationError struct {
	// Path locates the member, in the same form as Violation.Path; empty for the body as a whole.
	Path string
	// Msg says what was expected and what was found.
	Msg string
}

// Error names the path and what was expected there.
func (e *SerializationError) Error() string {
	if e.Path == "" {
		return "cannot deserialize request: " + e.Msg
	}
	return "cannot deserialize '" + e.Path + "': " + e.Msg
}

// Operations returns the names of the model's operations in sorted order.
func Operations() []string {
	names := make([]string, 0, len(operations))
	for n := range operations {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Validate checks a request body against the input shape of operation. It returns nil, a
// *SerializationError, or a *ValidationError listing every violated constraint, in the order
// described in the package documentation. An operation the model lacks yields ErrUnknownOperation.
func Validate(operation string, body []byte) error {
	id, ok := operations[operation]
	if !ok {
		return fmt.Errorf("validate %q: %w", operation, ErrUnknownOperation)
	}
	v, serr := parseBody(body)
	if serr != nil {
		return serr
	}
	if _, ok := v.(map[string]any); !ok {
		return &SerializationError{Msg: "request body must be a JSON object, found " + jsonType(v)}
	}
	var w walker
	if serr := w.value(id, v, ""); serr != nil {
		return serr
	}
	if len(w.violations) > 0 {
		return &ValidationError{Violations: w.violations}
	}
	return nil
}

// parseBody decodes a JSON body into generic values (numbers kept as json.Number). An empty or
// all-whitespace body is {}.
func parseBody(body []byte) (any, *SerializationError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &SerializationError{Msg: "request body is not valid JSON: unexpected end of input"}
		}
		return nil, &SerializationError{Msg: "request body is not valid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SerializationError{Msg: "request body is not valid JSON: data after the top-level value"}
	}
	return v, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

func typeErr(path, want string, v any) *SerializationError {
	return &SerializationError{Path: path, Msg: "expected " + want + ", found " + jsonType(v)}
}

// Constraint kinds, in the order a value's violations are reported.
const (
	failNull uint8 = 1 << iota
	failEnum
	failPattern
	failMin
	failMax
)

// walker accumulates violations while walking a decoded body.
type walker struct {
	violations []Violation
}

func (w *walker) add(path, value, constraint string) {
	w.violations = append(w.violations, Violation{Path: path, Value: value, Constraint: constraint})
}

// addFailed adds one violation per bit set in failed, in bit order.
func (w *walker) addFailed(id shapeID, failed uint8, path, value string) {
	for bit := failEnum; bit <= failMax; bit <<= 1 {
		if failed&bit != 0 {
			w.add(path, value, constraintText(id, bit))
		}
	}
}

func isAggregate(k kind) bool { return k == kindStructure || k == kindList || k == kindMap }

func quoted(s string) string { return "'" + s + "'" }

// value checks v (never nil) against shape id at path. It returns the first type mismatch; constraint
// violations accumulate in w.
func (w *walker) value(id shapeID, v any, path string) *SerializationError {
	s := &shapes[id]
	switch s.kind {
	case kindStructure:
		m, ok := v.(map[string]any)
		if !ok {
			return typeErr(path, "structure (JSON object)", v)
		}
		for _, mb := range s.members {
			p := mb.path
			if path != "" {
				p = path + "." + mb.path
			}
			mv := m[mb.name]
			if mv == nil {
				if mb.required {
					w.add(p, "null", "Member must not be null")
				}
				continue
			}
			if err := w.value(mb.shape, mv, p); err != nil {
				return err
			}
		}
	case kindList:
		l, ok := v.([]any)
		if !ok {
			return typeErr(path, "list (JSON array)", v)
		}
		w.addFailed(id, lengthFailures(s, len(l)), path, quoted(render(id, v)))
		if isAggregate(shapes[s.elem].kind) {
			for i, e := range l {
				p := path + "." + strconv.Itoa(i+1) + ".member"
				if e == nil {
					w.add(p, "null", "Member must not be null")
					continue
				}
				if err := w.value(s.elem, e, p); err != nil {
					return err
				}
			}
			return nil
		}
		var failed uint8
		for i, e := range l {
			if e == nil {
				failed |= failNull
				continue
			}
			f, err := scalar(s.elem, e, path+"."+strconv.Itoa(i+1)+".member")
			if err != nil {
				return err
			}
			failed |= f
		}
		if failed != 0 {
			w.add(path, quoted(render(id, v)), "Member must satisfy constraint: ["+constraintList(s.elem, failed)+"]")
		}
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return typeErr(path, "map (JSON object)", v)
		}
		w.addFailed(id, lengthFailures(s, len(m)), path, quoted(render(id, v)))
		keys := sortedKeys(m)
		var kf, vf uint8
		for _, k := range keys {
			f, err := scalar(s.key, k, path+"."+k+".key")
			if err != nil {
				return err
			}
			kf |= f
		}
		for _, k := range keys {
			e, p := m[k], path+"."+k+".value"
			switch {
			case e == nil:
				vf |= failNull
			case isAggregate(shapes[s.elem].kind):
				if err := w.value(s.elem, e, p); err != nil {
					return err
				}
			default:
				f, err := scalar(s.elem, e, p)
				if err != nil {
					return err
				}
				vf |= f
			}
		}
		if kf != 0 {
			w.add(path, quoted(render(id, v)), "Map keys must satisfy constraint: ["+constraintList(s.key, kf)+"]")
		}
		if vf != 0 {
			w.add(path, quoted(render(id, v)), "Map value must satisfy constraint: ["+constraintList(s.elem, vf)+"]")
		}
	default:
		failed, err := scalar(id, v, path)
		if err != nil {
			return err
		}
		if failed != 0 {
			val := ""
			if !s.sensitive {
				val = quoted(render(id, v))
			}
			w.addFailed(id, failed, path, val)
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lengthFailures checks a list or map size against the shape's bounds.
func lengthFailures(s *shape, n int) uint8 {
	var f uint8
	if s.hasMin && float64(n) < s.min {
		f |= failMin
	}
	if s.hasMax && float64(n) > s.max {
		f |= failMax
	}
	return f
}

// scalar type-checks a scalar value and returns the constraints it fails.
func scalar(id shapeID, v any, path string) (uint8, *SerializationError) {
	s := &shapes[id]
	var f uint8
	switch s.kind {
	case kindString:
		str, ok := v.(string)
		if !ok {
			return 0, typeErr(path, "string", v)
		}
		if len(s.enum) > 0 && !slices.Contains(s.enum, str) {
			f |= failEnum
		}
		if s.pattern != 0 && !matchers[s.pattern](str) {
			f |= failPattern
		}
		f |= sizeFailures(s, float64(utf16Len(str)))
	case kindBlob:
		str, ok := v.(string)
		if !ok {
			return 0, typeErr(path, "base64-encoded string", v)
		}
		n, ok := base64Len(str)
		if !ok {
			return 0, &SerializationError{Path: path, Msg: "expected base64-encoded string, found invalid base64"}
		}
		f |= sizeFailures(s, float64(n))
	case kindInteger, kindLong:
		n, ok := v.(json.Number)
		if !ok {
			return 0, typeErr(path, "number", v)
		}
		bits := 32
		if s.kind == kindLong {
			bits = 64
		}
		i, ok := parseInt(n, bits)
		if !ok {
			return 0, &SerializationError{Path: path, Msg: fmt.Sprintf("expected %d-bit integer, found %s", bits, n)}
		}
		f |= sizeFailures(s, float64(i))
	case kindDouble:
		n, ok := v.(json.Number)
		if !ok {
			return 0, typeErr(path, "number", v)
		}
		d, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, &SerializationError{Path: path, Msg: "expected double, found " + string(n)}
		}
		f |= sizeFailures(s, d)
	case kindTimestamp:
		n, ok := v.(json.Number)
		if !ok {
			return 0, typeErr(path, "timestamp (epoch seconds as a JSON number)", v)
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return 0, &SerializationError{Path: path, Msg: "expected timestamp, found " + string(n)}
		}
	case kindBoolean:
		if _, ok := v.(bool); !ok {
			return 0, typeErr(path, "boolean", v)
		}
	default:
		return 0, typeErr(path, "scalar", v)
	}
	return f, nil
}

func sizeFailures(s *shape, n float64) uint8 {
	var f uint8
	if s.hasMin && n < s.min {
		f |= failMin
	}
	if s.hasMax && n > s.max {
		f |= failMax
	}
	return f
}

// parseInt accepts a JSON number with an integral value that fits in bits.
func parseInt(n json.Number, bits int) (int64, bool) {
	if i, err := strconv.ParseInt(string(n), 10, bits); err == nil {
		return i, true
	}
	d, err := strconv.ParseFloat(string(n), 64)
	if err != nil || d != math.Trunc(d) {
		return 0, false
	}
	lim := math.Ldexp(1, bits-1)
	if d < -lim || d >= lim {
		return 0, false
	}
	return int64(d), true
}

// utf16Len is Java's String.length(): UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// base64Len returns the decoded length of a standard, padded base64 string.
func base64Len(s string) (int, bool) {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(buf, []byte(s))
	return n, err == nil
}

func constraintList(id shapeID, failed uint8) string {
	var parts []string
	if failed&failNull != 0 {
		parts = append(parts, "Member must not be null")
	}
	for bit := failEnum; bit <= failMax; bit <<= 1 {
		if failed&bit != 0 {
			parts = append(parts, constraintText(id, bit))
		}
	}
	return strings.Join(parts, ", ")
}

func constraintText(id shapeID, bit uint8) string {
	s := &shapes[id]
	what := "length"
	switch s.kind {
	case kindInteger, kindLong, kindDouble:
		what = "value"
	}
	switch bit {
	case failEnum:
		return "Member must satisfy enum value set: [" + strings.Join(s.enum, ", ") + "]"
	case failPattern:
		return "Member must satisfy regular expression pattern: " + patterns[s.pattern].java
	case failMin:
		return "Member must have " + what + " greater than or equal to " + strconv.FormatFloat(s.min, 'f', -1, 64)
	case failMax:
		return "Member must have " + what + " less than or equal to " + strconv.FormatFloat(s.max, 'f', -1, 64)
	}
	return "Member must not be null"
}

// sensitiveText is how a sensitive member appears inside a rendered structure.
const sensitiveText = "***Sensitive Data Redacted***"

// render is Java's toString of a decoded value, as AWS shows it in a violation: strings raw,
// blobs as java.nio.HeapByteBuffer, lists as [a, b], maps as {k=v, ...} in key order, structures
// as {Member: value,Member: value} with absent members left out (the AWS SDK for Java style).
func render(id shapeID, v any) string {
	var b strings.Builder
	renderTo(&b, id, v)
	return b.String()
}

func renderTo(b *strings.Builder, id shapeID, v any) {
	if v == nil {
		b.WriteString("null")
		return
	}
	s := &shapes[id]
	switch s.kind {
	case kindStructure:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		b.WriteByte('{')
		first := true
		for _, mb := range s.members {
			mv := m[mb.name]
			if mv == nil {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(mb.name)
			b.WriteString(": ")
			if shapes[mb.shape].sensitive {
				b.WriteString(sensitiveText)
			} else {
				renderTo(b, mb.shape, mv)
			}
		}
		b.WriteByte('}')
		return
	case kindList:
		l, ok := v.([]any)
		if !ok {
			break
		}
		b.WriteByte('[')
		for i, e := range l {
			if i > 0 {
				b.WriteString(", ")
			}
			renderTo(b, s.elem, e)
		}
		b.WriteByte(']')
		return
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		b.WriteByte('{')
		for i, k := range sortedKeys(m) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			renderTo(b, s.elem, m[k])
		}
		b.WriteByte('}')
		return
	case kindString:
		if str, ok := v.(string); ok {
			if s.sensitive {
				b.WriteString(sensitiveText)
			} else {
				b.WriteString(str)
			}
			return
		}
	case kindBlob:
		if str, ok := v.(string); ok {
			n, _ := base64Len(str)
			fmt.Fprintf(b, "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", n, n)
			return
		}
	case kindInteger, kindLong:
		if n, ok := v.(json.Number); ok {
			if i, ok := parseInt(n, 64); ok {
				b.WriteString(strconv.FormatInt(i, 10))
				return
			}
		}
	case kindDouble:
		if n, ok := v.(json.Number); ok {
			if d, err := strconv.ParseFloat(string(n), 64); err == nil {
				b.WriteString(javaDouble(d))
				return
			}
		}
	case kindTimestamp:
		if n, ok := v.(json.Number); ok {
			if d, err := strconv.ParseFloat(string(n), 64); err == nil {
				sec, frac := math.Modf(d)
				b.WriteString(time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("Mon Jan 02 15:04:05 UTC 2006"))
				return
			}
		}
	}
	// A value of the wrong JSON type; the walk reports a SerializationError for it, so this
	// rendering is never shown.
	fmt.Fprint(b, v)
}

// javaDouble is Java's Double.toString.
func javaDouble(d float64) string {
	if d == 0 {
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(d); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(d, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(d, 'e', -1, 64) // e.g. 1.5e+07
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
