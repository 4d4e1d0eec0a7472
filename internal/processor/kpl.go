package processor

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"strconv"
)

// kplMagic starts every KPL aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// errProto reports malformed protobuf; the record is then a plain record.
var errProto = errors.New("processor: malformed KPL protobuf")

// kplStage de-aggregates KPL aggregated records; anything else passes
// unchanged.
type kplStage struct{}

func (kplStage) run(_ context.Context, r *runState, in []item) ([]item, error) {
	var out []item // allocated on the first aggregated record
	for i, it := range in {
		subs, ok := DeaggregateKPL(it.rec.Data)
		if !ok {
			if out != nil {
				out = append(out, it)
			}
			continue
		}
		if out == nil {
			out = make([]item, i, len(in)+len(subs))
			copy(out, in[:i])
		}
		out = appendSubRecords(out, r, it, subs)
	}
	if out == nil {
		return in, nil
	}
	return out, nil
}

// appendSubRecords appends the sub-records of parent to out, each its own
// raw record with ID parent.ID + "." + index.
func appendSubRecords(out []item, r *runState, parent item, subs [][]byte) []item {
	for j, d := range subs {
		sub := parent.rec
		sub.Data = d
		sub.ID = parent.rec.ID + "." + strconv.Itoa(j)
		out = append(out, item{rec: sub, raw: d, rawID: sub.ID, origin: r.newOrigin()})
	}
	return out
}

// DeaggregateKPL splits a KPL aggregated record into the data of its user
// records. ok is false, and data must be treated as one plain record, when
// data lacks the magic, its MD5 does not match, or its protobuf is malformed
// or holds no records. The returned slices alias data.
func DeaggregateKPL(data []byte) (records [][]byte, ok bool) {
	if len(data) < len(kplMagic)+md5.Size || !bytes.Equal(data[:len(kplMagic)], kplMagic) {
		return nil, false
	}
	body := data[len(kplMagic) : len(data)-md5.Size]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return nil, false
	}
	records, err := parseAggregated(body)
	if err != nil || len(records) == 0 {
		return nil, false
	}
	return records, true
}

// kplRecord is one Record message of an AggregatedRecord.
type kplRecord struct {
	pk, ehk       uint64
	hasPK, hasEHK bool
	data          []byte
	hasData       bool
}

// parseAggregated decodes AggregatedRecord{repeated string
// partition_key_table = 1; repeated string explicit_hash_key_table = 2;
// repeated Record records = 3}.
func parseAggregated(b []byte) ([][]byte, error) {
	var nPK, nEHK uint64
	var recs []kplRecord
	for len(b) > 0 {
		field, wire, n := protoKey(b)
		if n <= 0 {
			return nil, errProto
		}
		b = b[n:]
		switch {
		case field == 1 && wire == 2, field == 2 && wire == 2:
			_, m := protoBytes(b)
			if m <= 0 {
				return nil, errProto
			}
			b = b[m:]
			if field == 1 {
				nPK++
			} else {
				nEHK++
			}
		case field == 3 && wire == 2:
			v, m := protoBytes(b)
			if m <= 0 {
				return nil, errProto
			}
			b = b[m:]
			rec, err := parseKPLRecord(v)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		default:
			m := protoSkip(b, wire)
			if m < 0 {
				return nil, errProto
			}
			b = b[m:]
		}
	}
	out := make([][]byte, len(recs))
	for i, rec := range recs {
		if !rec.hasPK || !rec.hasData || rec.pk >= nPK || (rec.hasEHK && rec.ehk >= nEHK) {
			return nil, errProto
		}
		out[i] = rec.data
	}
	return out, nil
}

// parseKPLRecord decodes Record{required uint64 partition_key_index = 1;
// optional uint64 explicit_hash_key_index = 2; required bytes data = 3;
// repeated Tag tags = 4}.
func parseKPLRecord(b []byte) (kplRecord, error) {
	var rec kplRecord
	for len(b) > 0 {
		field, wire, n := protoKey(b)
		if n <= 0 {
			return rec, errProto
		}
		b = b[n:]
		switch {
		case (field == 1 || field == 2) && wire == 0:
			v, m := binary.Uvarint(b)
			if m <= 0 {
				return rec, errProto
			}
			b = b[m:]
			if field == 1 {
				rec.pk, rec.hasPK = v, true
			} else {
				rec.ehk, rec.hasEHK = v, true
			}
		case field == 3 && wire == 2:
			v, m := protoBytes(b)
			if m <= 0 {
				return rec, errProto
			}
			b = b[m:]
			rec.data, rec.hasData = v, true
		default: // tags (4) and unknown fields
			m := protoSkip(b, wire)
			if m < 0 {
				return rec, errProto
			}
			b = b[m:]
		}
	}
	return rec, nil
}

// protoKey decodes a field key; n <= 0 on error.
func protoKey(b []byte) (field uint64, wire uint64, n int) {
	k, n := binary.Uvarint(b)
	if n <= 0 || k>>3 == 0 {
		return 0, 0, -1
	}
	return k >> 3, k & 7, n
}

// protoBytes decodes a length-delimited value; n <= 0 on error.
func protoBytes(b []byte) ([]byte, int) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	end := n + int(l)
	return b[n:end:end], end
}

// protoSkip returns the length of a value of the wire type, or -1.
func protoSkip(b []byte, wire uint64) int {
	switch wire {
	case 0:
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return -1
		}
		return n
	case 1:
		if len(b) < 8 {
			return -1
		}
		return 8
	case 2:
		_, n := protoBytes(b)
		if n <= 0 {
			return -1
		}
		return n
	case 5:
		if len(b) < 4 {
			return -1
		}
		return 4
	}
	return -1 // groups (3, 4) and invalid types
}
