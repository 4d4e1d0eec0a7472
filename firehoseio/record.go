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

// encoder turns records into the bytes sent to Firehose. It reuses one buffer for
// JSON encoding; it is not safe for concurrent use.
type encoder struct {
	jsonify, multiline bool
	buf                bytes.Buffer
	enc                *json.Encoder
}

func newEncoder(jsonify, multiline bool) *encoder {
	e := &encoder{jsonify: jsonify, multiline: multiline}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// encode returns the data of one record: a []byte as is, a string as its bytes (or its
// JSON encoding with Jsonify), anything else JSON-encoded with Jsonify and refused
// without; then "\n" with Multiline. The result never aliases the record.
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
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record as JSON: %w", err)
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

// encodeBatch encodes every record of a slice batch (a concrete slice such as
// []string, or []any after a fused GroupIntoBatches). It fails before anything is
// sent when one record cannot be encoded.
func (e *encoder) encodeBatch(batch any) ([][]byte, error) {
	switch b := batch.(type) {
	case []string:
		out := make([][]byte, len(b))
		for i, r := range b {
			d, err := e.encode(r)
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			out[i] = d
		}
		return out, nil
	case [][]byte:
		out := make([][]byte, len(b))
		for i, r := range b {
			out[i] = e.finish(r)
		}
		return out, nil
	}
	rv := reflect.ValueOf(batch)
	if rv.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%w: batch of type %T is not a slice", ErrUnsupportedElement, batch)
	}
	out := make([][]byte, rv.Len())
	for i := range out {
		d, err := e.encode(rv.Index(i).Interface())
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out[i] = d
	}
	return out, nil
}
