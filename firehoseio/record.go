package firehoseio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// shape is the kind of batch an input PCollection carries.
type shape int

const (
	shapeSlice   shape = iota + 1 // PCollection<[]R>
	shapeKV                       // PCollection<KV<K, []R>>
	shapeGrouped                  // PCollection<KV<K, iter R>> (a GroupByKey result)
)

var bytesType = reflect.TypeOf([]byte(nil))

// inspect tells which shape of batch ft is, and checks that its records can be sent.
func inspect(ft typex.FullType, jsonify bool) (shape, error) {
	switch {
	case typex.IsCoGBK(ft):
		c := ft.Components()
		if len(c) != 2 {
			return 0, fmt.Errorf("%w: %v: a CoGroupByKey of %d PCollections; group one PCollection<KV<K, V>> with beam.GroupByKey", ErrUnsupportedElement, ft, len(c)-1)
		}
		return shapeGrouped, checkRecord(c[1].Type(), jsonify)
	case typex.IsKV(ft):
		v := ft.Components()[1]
		if err := checkBatch(v, jsonify); err != nil {
			return 0, fmt.Errorf("value of %v: %w", ft, err)
		}
		return shapeKV, nil
	default:
		return shapeSlice, checkBatch(ft, jsonify)
	}
}

// checkBatch checks that ft is a slice whose records can be sent.
func checkBatch(ft typex.FullType, jsonify bool) error {
	t := ft.Type()
	class := ft.Class()
	if (class != typex.Container && class != typex.Concrete) || t.Kind() != reflect.Slice || isBytes(t) {
		return fmt.Errorf("%w: %v is not a batch: want a slice of records ([]string, [][]byte, []T), "+
			"a KV whose value is one, or a GroupByKey result; use firehoseio.Batch or batch.GroupIntoBatches first",
			ErrUnsupportedElement, ft)
	}
	return checkRecord(t.Elem(), jsonify)
}

// checkRecord checks that records of type t can be sent with the Jsonify setting.
// Interface types are checked record by record when the pipeline runs.
func checkRecord(t reflect.Type, jsonify bool) error {
	switch {
	case t.Kind() == reflect.String || isBytes(t) || t.Kind() == reflect.Interface:
		return nil
	case !jsonify:
		return fmt.Errorf("%w: records of type %v are neither []byte nor string; use Jsonify(true)", ErrUnsupportedElement, t)
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("%w: records of type %v cannot be encoded as JSON", ErrUnsupportedElement, t)
	}
	return nil
}

// isBytes reports whether t is []byte or a named type of that kind.
func isBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// encoder turns records into the bytes sent to Firehose. It reuses its buffers; it is
// not safe for concurrent use.
type encoder struct {
	jsonify, multiline, compact bool
	buf                         bytes.Buffer
	enc                         *json.Encoder
	py                          pyJSON
}

func newEncoder(jsonify, multiline, compact bool) *encoder {
	e := &encoder{jsonify: jsonify, multiline: multiline, compact: compact}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// encode returns the data of one record: a []byte as is, a string as its bytes (or its
// JSON encoding with Jsonify), anything else JSON-encoded with Jsonify and refused
// without; then "\n" with Multiline. The JSON is Python's json.dumps's, or
// encoding/json's with CompactJSON. The result never aliases the record.
func (e *encoder) encode(v any) ([]byte, error) {
	switch r := v.(type) {
	case []byte:
		return e.finish(r), nil
	case string:
		if !e.jsonify {
			return e.finishString(r), nil
		}
	default:
		rv := reflect.ValueOf(v)
		switch {
		case !rv.IsValid():
			if !e.jsonify {
				return nil, fmt.Errorf("%w: nil record; use Jsonify(true) to send null", ErrUnsupportedElement)
			}
		case isBytes(rv.Type()):
			return e.finish(rv.Bytes()), nil
		case rv.Kind() == reflect.String && !e.jsonify:
			return e.finishString(rv.String()), nil
		case !e.jsonify:
			return nil, fmt.Errorf("%w: record of type %T is neither []byte nor string; use Jsonify(true)", ErrUnsupportedElement, v)
		}
	}
	if !e.compact {
		e.py.buf = e.py.buf[:0]
		if err := e.py.encode(v); err != nil {
			return nil, fmt.Errorf("encode record as JSON: %w", err)
		}
		return e.finish(e.py.buf), nil
	}
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record as JSON: %w: %w", ErrNotJSON, err)
	}
	b := e.buf.Bytes()
	return e.finish(b[:len(b)-1]), nil // Encode ends with "\n"
}

// finish copies b and appends "\n" with Multiline.
func (e *encoder) finish(b []byte) []byte {
	n := len(b)
	if e.multiline {
		n++
	}
	out := make([]byte, len(b), n)
	copy(out, b)
	if e.multiline {
		out = append(out, '\n')
	}
	return out
}

func (e *encoder) finishString(s string) []byte {
	n := len(s)
	if e.multiline {
		n++
	}
	out := make([]byte, 0, n)
	out = append(out, s...)
	if e.multiline {
		out = append(out, '\n')
	}
	return out
}
