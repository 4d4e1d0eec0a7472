package cloudwatch

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// binder reads typed members out of a decoded request tree. Query-protocol values arrive as
// strings and are parsed as the member's type; JSON and CBOR values must already have it. The
// first error is kept in err and later reads return zero values.
type binder struct {
	query bool
	err   *apiError
}

func (b *binder) fail(e *apiError) {
	if b.err == nil {
		b.err = e
	}
}

// get returns the member key of m; JSON/CBOR null counts as absent.
func (b *binder) get(m map[string]any, key string) (any, bool) {
	if b.err != nil || m == nil {
		return nil, false
	}
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (b *binder) badType(param, want string, v any) {
	if s, ok := v.(string); ok && b.query {
		b.fail(errorf(CodeInvalidParameterValue, "The value %s for parameter %s is not a valid %s.", s, param, want))
		return
	}
	b.fail(errorf(CodeSerialization, "The value for parameter %s must be of type %s.", param, want))
}

func (b *binder) str(m map[string]any, key, param string) (string, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		b.badType(param, "string", v)
		return "", false
	}
	return s, true
}

func (b *binder) integer(m map[string]any, key, param string) (int64, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return 0, false
	}
	var (
		n   int64
		err error
	)
	switch x := v.(type) {
	case int64:
		return x, true
	case json.Number:
		n, err = strconv.ParseInt(string(x), 10, 64)
	case string:
		if !b.query {
			err = strconv.ErrSyntax
			break
		}
		n, err = strconv.ParseInt(x, 10, 64)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			err = strconv.ErrSyntax
		}
		n = int64(x)
	default:
		err = strconv.ErrSyntax
	}
	if err != nil {
		b.badType(param, "integer", v)
		return 0, false
	}
	return n, true
}

func (b *binder) boolean(m map[string]any, key, param string) (bool, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return false, false
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		if b.query && (x == "true" || x == "false") {
			return x == "true", true
		}
	}
	b.badType(param, "boolean", v)
	return false, false
}

func (b *binder) timestamp(m map[string]any, key, param string) (time.Time, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return time.Time{}, false
	}
	switch x := v.(type) {
	case time.Time:
		return x, true
	case int64:
		return time.Unix(x, 0).UTC(), true
	case float64:
		if t, ok := floatTime(x); ok {
			return t, true
		}
	case json.Number:
		if f, err := x.Float64(); err == nil {
			if t, ok := floatTime(f); ok {
				return t, true
			}
		}
	case string:
		if b.query {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC(), true
			}
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				if t, ok := floatTime(f); ok {
					return t, true
				}
			}
		}
	}
	b.badType(param, "timestamp", v)
	return time.Time{}, false
}

// list returns a list member. In the query protocol an empty value ("Statistics=") is an
// empty list.
func (b *binder) list(m map[string]any, key, param string) ([]any, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case []any:
		return x, true
	case string:
		if b.query && x == "" {
			return []any{}, true
		}
	}
	b.badType(param, "list", v)
	return nil, false
}

func (b *binder) structure(m map[string]any, key, param string) (map[string]any, bool) {
	v, ok := b.get(m, key)
	if !ok {
		return nil, false
	}
	return b.asStructure(v, param)
}

func (b *binder) asStructure(v any, param string) (map[string]any, bool) {
	if b.err != nil {
		return nil, false
	}
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case string:
		if b.query && x == "" {
			return map[string]any{}, true
		}
	}
	b.badType(param, "structure", v)
	return nil, false
}

// strings returns a list of strings.
func (b *binder) strings(m map[string]any, key, param string) ([]string, bool) {
	l, ok := b.list(m, key, param)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			b.badType(param+".member."+strconv.Itoa(i+1), "string", e)
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
