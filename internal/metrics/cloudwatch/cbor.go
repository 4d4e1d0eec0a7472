package cloudwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// This file is a CBOR (RFC 8949) codec covering what Smithy RPC v2 CBOR uses: integers, floats
// (half, single, double), byte and text strings, arrays, maps with text keys, booleans,
// null/undefined and tag 1 (epoch-based date/time). Decoded values are int64, uint64 (above
// MaxInt64), float64, string, []byte, bool, nil, []any, map[string]any and time.Time.

// maxCBORDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxCBORDepth = 64

// errCBOR is the sentinel wrapped by every CBOR decoding error.
var errCBOR = errors.New("malformed cbor")

// cborError describes where and why decoding failed.
type cborError struct {
	off int
	msg string
}

func (e *cborError) Error() string { return fmt.Sprintf("malformed cbor at byte %d: %s", e.off, e.msg) }
func (e *cborError) Unwrap() error { return errCBOR }

// breakMarker is the value returned by item when it meets the break stop code 0xff.
type breakMarker struct{}

// decodeCBOR decodes exactly one data item filling all of b.
func decodeCBOR(b []byte) (any, error) {
	d := cborDecoder{b: b}
	v, err := d.item(0)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(breakMarker); ok {
		return nil, d.fail("unexpected break")
	}
	if d.off != len(b) {
		return nil, d.fail("trailing bytes after data item")
	}
	return v, nil
}

type cborDecoder struct {
	b   []byte
	off int
}

func (d *cborDecoder) fail(format string, args ...any) error {
	return &cborError{off: d.off, msg: fmt.Sprintf(format, args...)}
}

// head reads an initial byte and its argument. indefinite reports additional information 31.
func (d *cborDecoder) head() (major byte, info byte, arg uint64, indefinite bool, err error) {
	if d.off >= len(d.b) {
		return 0, 0, 0, false, d.fail("unexpected end of input")
	}
	ib := d.b[d.off]
	d.off++
	major, info = ib>>5, ib&0x1f
	switch {
	case info < 24:
		return major, info, uint64(info), false, nil
	case info <= 27:
		n := 1 << (info - 24)
		if len(d.b)-d.off < n {
			return 0, 0, 0, false, d.fail("unexpected end of input")
		}
		p := d.b[d.off : d.off+n]
		d.off += n
		switch n {
		case 1:
			arg = uint64(p[0])
		case 2:
			arg = uint64(binary.BigEndian.Uint16(p))
		case 4:
			arg = uint64(binary.BigEndian.Uint32(p))
		default:
			arg = binary.BigEndian.Uint64(p)
		}
		return major, info, arg, false, nil
	case info == 31:
		return major, info, 0, true, nil
	}
	return 0, 0, 0, false, d.fail("reserved additional information %d", info)
}

func (d *cborDecoder) item(depth int) (any, error) {
	if depth > maxCBORDepth {
		return nil, d.fail("nesting deeper than %d", maxCBORDepth)
	}
	start := d.off
	major, info, arg, indef, err := d.head()
	if err != nil {
		return nil, err
	}
	if indef && (major == 0 || major == 1 || major == 6) {
		d.off = start
		return nil, d.fail("indefinite length not allowed for major type %d", major)
	}
	switch major {
	case 0:
		if arg > math.MaxInt64 {
			return arg, nil
		}
		return int64(arg), nil
	case 1:
		if arg > math.MaxInt64 {
			d.off = start
			return nil, d.fail("negative integer out of range")
		}
		return -1 - int64(arg), nil
	case 2, 3:
		var s []byte
		if indef {
			s, err = d.chunks(major)
		} else {
			s, err = d.bytes(arg)
		}
		if err != nil {
			return nil, err
		}
		if major == 3 {
			return string(s), nil
		}
		if s == nil {
			s = []byte{}
		}
		return s, nil
	case 4:
		return d.array(arg, indef, depth)
	case 5:
		return d.mapping(arg, indef, depth)
	case 6:
		if arg != 1 {
			d.off = start
			return nil, d.fail("unsupported tag %d", arg)
		}
		v, err := d.item(depth + 1)
		if err != nil {
			return nil, err
		}
		return epochTime(v, d)
	default: // 7
		return d.simple(info, arg, indef, start)
	}
}

func (d *cborDecoder) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, d.fail("length %d exceeds remaining input", n)
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return slices.Clone(s), nil
}

// chunks reads the definite-length chunks of an indefinite-length string up to the break.
func (d *cborDecoder) chunks(major byte) ([]byte, error) {
	var s []byte
	for {
		if d.off < len(d.b) && d.b[d.off] == 0xff {
			d.off++
			return s, nil
		}
		m, _, n, indef, err := d.head()
		if err != nil {
			return nil, err
		}
		if m != major || indef {
			return nil, d.fail("bad chunk in indefinite-length string")
		}
		c, err := d.bytes(n)
		if err != nil {
			return nil, err
		}
		s = append(s, c...)
	}
}

func (d *cborDecoder) array(n uint64, indef bool, depth int) (any, error) {
	if !indef && n > uint64(len(d.b)-d.off) { // every item takes at least one byte
		return nil, d.fail("array length %d exceeds remaining input", n)
	}
	out := make([]any, 0, min(n, 1024))
	for i := uint64(0); indef || i < n; i++ {
		v, err := d.item(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(breakMarker); ok {
			if !indef {
				return nil, d.fail("unexpected break")
			}
			return out, nil
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *cborDecoder) mapping(n uint64, indef bool, depth int) (any, error) {
	if !indef && n > uint64(len(d.b)-d.off)/2 {
		return nil, d.fail("map length %d exceeds remaining input", n)
	}
	out := make(map[string]any, min(n, 1024))
	for i := uint64(0); indef || i < n; i++ {
		keyOff := d.off
		k, err := d.item(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := k.(breakMarker); ok {
			if !indef {
				return nil, d.fail("unexpected break")
			}
			return out, nil
		}
		key, ok := k.(string)
		if !ok {
			d.off = keyOff
			return nil, d.fail("map key is %T, not a text string", k)
		}
		if _, dup := out[key]; dup {
			d.off = keyOff
			return nil, d.fail("duplicate map key %q", key)
		}
		v, err := d.item(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(breakMarker); ok {
			return nil, d.fail("unexpected break")
		}
		out[key] = v
	}
	return out, nil
}

func (d *cborDecoder) simple(info byte, arg uint64, indef bool, start int) (any, error) {
	switch {
	case indef:
		return breakMarker{}, nil
	case info == 20:
		return false, nil
	case info == 21:
		return true, nil
	case info == 22, info == 23:
		return nil, nil
	case info == 25:
		return halfToFloat(uint16(arg)), nil
	case info == 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case info == 27:
		return math.Float64frombits(arg), nil
	}
	d.off = start
	return nil, d.fail("unsupported simple value %d", arg)
}

// epochTime converts the content of tag 1 to a time.
func epochTime(v any, d *cborDecoder) (any, error) {
	switch n := v.(type) {
	case int64:
		return time.Unix(n, 0).UTC(), nil
	case uint64:
		return nil, d.fail("epoch time out of range")
	case float64:
		t, ok := floatTime(n)
		if !ok {
			return nil, d.fail("epoch time %v out of range", n)
		}
		return t, nil
	}
	return nil, d.fail("tag 1 content is %T, not a number", v)
}

// floatTime converts epoch seconds to a time with millisecond precision.
func floatTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return time.Time{}, false
	}
	ms := math.Round(f * 1000)
	return time.UnixMilli(int64(ms)).UTC(), true
}

func halfToFloat(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// appendCBOR appends the encoding of v. Maps are encoded with sorted keys; object keeps its
// field order.
func appendCBOR(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0xf6)
	case bool:
		if x {
			return append(b, 0xf5)
		}
		return append(b, 0xf4)
	case int:
		return appendCBORInt(b, int64(x))
	case int64:
		return appendCBORInt(b, x)
	case uint64:
		return appendCBORHead(b, 0, x)
	case float64:
		b = append(b, 0xfb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case string:
		b = appendCBORHead(b, 3, uint64(len(x)))
		return append(b, x...)
	case []byte:
		b = appendCBORHead(b, 2, uint64(len(x)))
		return append(b, x...)
	case time.Time:
		b = append(b, 0xc1)
		if x.Nanosecond() == 0 {
			return appendCBORInt(b, x.Unix())
		}
		return appendCBOR(b, float64(x.UnixMilli())/1000)
	case []any:
		b = appendCBORHead(b, 4, uint64(len(x)))
		for _, e := range x {
			b = appendCBOR(b, e)
		}
		return b
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendCBORHead(b, 5, uint64(len(keys)))
		for _, k := range keys {
			b = appendCBOR(b, k)
			b = appendCBOR(b, x[k])
		}
		return b
	case object:
		b = appendCBORHead(b, 5, uint64(len(x)))
		for _, f := range x {
			b = appendCBOR(b, f.name)
			b = appendCBOR(b, f.value)
		}
		return b
	case floatMap:
		b = appendCBORHead(b, 5, uint64(len(x)))
		for _, e := range x {
			b = appendCBOR(b, e.key)
			b = appendCBOR(b, e.value)
		}
		return b
	}
	panic(fmt.Sprintf("cloudwatch: cannot encode %T as CBOR", v))
}

func appendCBORInt(b []byte, n int64) []byte {
	if n < 0 {
		return appendCBORHead(b, 1, uint64(-1-n))
	}
	return appendCBORHead(b, 0, uint64(n))
}

func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}
