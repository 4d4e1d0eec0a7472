package delivery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// identity returns the identity of a record within its journal message (see
// docs/design/delivery.md): index << 40 | sub, where sub encodes the de-aggregation suffix of
// its ID ("" for a record as put, ".n" for sub-record n, ".n.m" one level deeper).
func identity(index int, suffix string) uint64 {
	return uint64(index)<<40 | subIdentity(suffix)
}

const (
	subBits  = 40
	subLevel = 20
	subHash  = uint64(1) << (subBits - 1)
)

func subIdentity(suffix string) uint64 {
	if suffix == "" {
		return 0
	}
	parts := strings.Split(strings.TrimPrefix(suffix, "."), ".")
	if len(parts) <= 2 {
		var sub uint64
		ok := true
		for _, p := range parts {
			n, err := strconv.ParseUint(p, 10, 32)
			if err != nil || n+1 >= 1<<(subLevel-1) {
				ok = false
				break
			}
			sub = sub<<subLevel | (n + 1)
		}
		if ok {
			return sub
		}
	}
	h := fnv.New64a()
	h.Write([]byte(suffix))
	return subHash | h.Sum64()&(subHash-1)
}

// intentObject is one object of an intent batch.
type intentObject struct {
	Leg    string
	Bucket string
	Key    string
	Runs   []Run
}

// maxIntentBytes bounds one stored intent batch; larger batches are split.
const maxIntentBytes = 1 << 20

const intentVersion = 1

// errIntent reports an intent batch that does not decode.
var errIntent = errors.New("malformed intent batch")

// appendIntentObject appends the encoding of o.
func appendIntentObject(b []byte, o intentObject) []byte {
	b = appendString(b, o.Leg)
	b = appendString(b, o.Bucket)
	b = appendString(b, o.Key)
	b = binary.AppendUvarint(b, uint64(len(o.Runs)))
	prev := uint64(0)
	for _, r := range o.Runs {
		b = binary.AppendUvarint(b, r.Seq-prev) // runs are in ascending seq order
		prev = r.Seq
		flags := byte(0)
		if r.Whole {
			flags = 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(r.N))
		if !r.Whole {
			last := uint64(0)
			for i, id := range r.IDs {
				if i == 0 {
					b = binary.AppendUvarint(b, id)
				} else {
					b = binary.AppendVarint(b, int64(id-last))
				}
				last = id
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeIntents encodes objs into batches of at most maxIntentBytes each (an object larger than
// that is a batch of its own).
func encodeIntents(objs []intentObject) [][]byte {
	var out [][]byte
	var cur []byte
	count := 0
	var body []byte
	flush := func() {
		if count == 0 {
			return
		}
		cur = append([]byte{intentVersion}, binary.AppendUvarint(nil, uint64(count))...)
		out = append(out, append(cur, body...))
		body, count = nil, 0
	}
	for _, o := range objs {
		enc := appendIntentObject(nil, o)
		if count > 0 && len(body)+len(enc) > maxIntentBytes {
			flush()
		}
		body = append(body, enc...)
		count++
	}
	flush()
	return out
}

// decodeIntents decodes a batch made by encodeIntents.
func decodeIntents(b []byte) ([]intentObject, error) {
	d := decoder{b: b}
	if v := d.byte(); v != intentVersion {
		return nil, fmt.Errorf("%w: version %d", errIntent, v)
	}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: object count", errIntent)
	}
	out := make([]intentObject, 0, n)
	for range n {
		var o intentObject
		o.Leg, o.Bucket, o.Key = d.string(), d.string(), d.string()
		nr := d.uvarint()
		if d.err != nil || nr > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: run count", errIntent)
		}
		seq := uint64(0)
		for range nr {
			var r Run
			seq += d.uvarint()
			r.Seq = seq
			flags := d.byte()
			if flags > 1 {
				d.fail()
			}
			r.Whole = flags == 1
			cnt := d.uvarint()
			if d.err != nil || cnt > 1<<31 || (!r.Whole && cnt > uint64(len(d.b))) {
				return nil, fmt.Errorf("%w: run size", errIntent)
			}
			r.N = int(cnt)
			if !r.Whole {
				r.IDs = make([]uint64, cnt)
				last := uint64(0)
				for i := range r.IDs {
					if i == 0 {
						last = d.uvarint()
					} else {
						last += uint64(d.varint())
					}
					r.IDs[i] = last
				}
			}
			o.Runs = append(o.Runs, r)
		}
		if d.err != nil {
			return nil, fmt.Errorf("%w: truncated", errIntent)
		}
		out = append(out, o)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errIntent, len(d.b))
	}
	return out, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errIntent
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
