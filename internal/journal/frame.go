package journal

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// Frame versions: the first byte of every message body (docs/design/journal.md, "Message
// framing"). Version 1 holds one put and is only decoded; version 2 holds several and is written
// for puts; version 3 is version 2 followed by a source position, written by source readers.
const (
	frameV1 = 1
	frameV2 = 2
	frameV3 = 3
)

// MaxPositionBytes bounds the source position of a version 3 frame.
const MaxPositionBytes = 1 << 20

// frameV1HeaderLen is the fixed part of a version 1 frame: version and arrival time.
const frameV1HeaderLen = 1 + 8

// frameV2MaxHeader bounds the header of a version 2 frame: version, lseq and put count.
const frameV2MaxHeader = 1 + binary.MaxVarintLen64 + binary.MaxVarintLen32

// maxArrivalLen bounds the encoded arrival of a put in a version 2 frame: 8 bytes for the first
// put, a zig-zag varint of the difference for the others.
const maxArrivalLen = binary.MaxVarintLen64

// maxRecordsPerFrame bounds the records of one message so that a record index fits a record ID.
const maxRecordsPerFrame = 1 << 16

// putSpan is one put of a decoded message: the index of its first record and its arrival time
// (unix milliseconds).
type putSpan struct {
	first   int
	arrival int64
}

// frame is a decoded message. The records are sub-slices of the message body.
type frame struct {
	lseq     uint64 // 0 for version 1
	puts     []putSpan
	records  [][]byte
	position []byte // version 3 only: the source position after this message; aliases the body
}

// arrivalOf returns the arrival time of the put holding record i.
func (f *frame) arrivalOf(i int) int64 {
	k, found := slices.BinarySearchFunc(f.puts, i, func(p putSpan, i int) int { return p.first - i })
	if !found {
		k--
	}
	// Puts without records share their first index with the next put; the last of them holds i.
	for k+1 < len(f.puts) && f.puts[k+1].first == i {
		k++
	}
	return f.puts[max(k, 0)].arrival
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

// putBodyLen returns the encoded size of a put's records: uvarint count, then uvarint length and
// bytes of each record.
func putBodyLen(records [][]byte) int {
	n := uvarintLen(uint64(len(records)))
	for _, r := range records {
		n += uvarintLen(uint64(len(r))) + len(r)
	}
	return n
}

// appendPutBody appends the encoded records of one put to dst (putBodyLen bytes).
func appendPutBody(dst []byte, records [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(records)))
	for _, r := range records {
		dst = binary.AppendUvarint(dst, uint64(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// appendFrameHeader appends the header of a version 2 (or 3) frame of puts puts.
func appendFrameHeader(dst []byte, version byte, lseq uint64, puts int) []byte {
	dst = append(dst, version)
	dst = binary.AppendUvarint(dst, lseq)
	return binary.AppendUvarint(dst, uint64(puts))
}

// appendArrival appends the arrival (unix ms) of a put in a version 2 frame: 8 bytes big-endian
// for the first put, the zig-zag varint of the difference to the previous put's for the others.
func appendArrival(dst []byte, first bool, prev, ms int64) []byte {
	if first {
		return binary.BigEndian.AppendUint64(dst, uint64(ms))
	}
	return binary.AppendVarint(dst, ms-prev)
}

// decodeFrame decodes a message body of either version. The records are sub-slices of b. It
// returns an error, never panics, on malformed input, including varints longer than needed, so
// that each frame has exactly one encoding.
func decodeFrame(b []byte) (frame, error) {
	if len(b) == 0 {
		return frame{}, fmt.Errorf("empty frame")
	}
	switch b[0] {
	case frameV1:
		return decodeV1(b)
	case frameV2, frameV3:
		return decodeV2(b)
	}
	return frame{}, fmt.Errorf("unknown frame version %d", b[0])
}

func decodeV1(b []byte) (frame, error) {
	if len(b) < frameV1HeaderLen {
		return frame{}, fmt.Errorf("short frame header: %d bytes", len(b))
	}
	arrival := int64(binary.BigEndian.Uint64(b[1:9]))
	records, rest, err := decodeRecords(b[frameV1HeaderLen:], nil, 0)
	if err != nil {
		return frame{}, err
	}
	if len(rest) != 0 {
		return frame{}, fmt.Errorf("%d trailing bytes after records", len(rest))
	}
	return frame{puts: []putSpan{{first: 0, arrival: arrival}}, records: records}, nil
}

func decodeV2(b []byte) (frame, error) {
	rest := b[1:]
	lseq, rest, err := canonicalUvarint(rest, "lseq")
	if err != nil {
		return frame{}, err
	}
	if lseq == 0 {
		return frame{}, fmt.Errorf("lseq 0")
	}
	count, rest, err := canonicalUvarint(rest, "put count")
	if err != nil {
		return frame{}, err
	}
	if count == 0 || count > uint64(len(rest)/2) { // a put takes at least two bytes
		return frame{}, fmt.Errorf("put count %d exceeds frame", count)
	}
	f := frame{lseq: lseq, puts: make([]putSpan, count)}
	var arrival int64
	for k := range f.puts {
		if k == 0 {
			if len(rest) < 8 {
				return frame{}, fmt.Errorf("short arrival of put 0")
			}
			arrival = int64(binary.BigEndian.Uint64(rest))
			rest = rest[8:]
		} else {
			d, n := binary.Varint(rest)
			if n <= 0 || n != uvarintLen(zigzag(d)) {
				return frame{}, fmt.Errorf("bad arrival of put %d", k)
			}
			rest = rest[n:]
			arrival += d
		}
		f.puts[k] = putSpan{first: len(f.records), arrival: arrival}
		f.records, rest, err = decodeRecords(rest, f.records, k)
		if err != nil {
			return frame{}, err
		}
	}
	if b[0] == frameV3 {
		n, r, err := canonicalUvarint(rest, "position length")
		if err != nil {
			return frame{}, err
		}
		if n == 0 || n > MaxPositionBytes || n > uint64(len(r)) {
			return frame{}, fmt.Errorf("position length %d exceeds frame", n)
		}
		f.position, rest = r[:n:n], r[n:]
	}
	if len(rest) != 0 {
		return frame{}, fmt.Errorf("%d trailing bytes after records", len(rest))
	}
	return f, nil
}

func canonicalUvarint(b []byte, what string) (uint64, []byte, error) {
	x, n := binary.Uvarint(b)
	if n <= 0 || n != uvarintLen(x) {
		return 0, nil, fmt.Errorf("bad %s", what)
	}
	return x, b[n:], nil
}

// decodeRecords decodes the records of put k (uvarint count, then length and bytes of each),
// appending them to records, and returns the bytes after them.
func decodeRecords(b []byte, records [][]byte, k int) ([][]byte, []byte, error) {
	count, rest, err := canonicalUvarint(b, "record count")
	if err != nil {
		return nil, nil, fmt.Errorf("put %d: %w", k, err)
	}
	if count > uint64(len(rest)) || uint64(len(records))+count > maxRecordsPerFrame {
		return nil, nil, fmt.Errorf("put %d: record count %d exceeds frame", k, count)
	}
	records = slices.Grow(records, int(count))
	for i := range int(count) {
		l, n := binary.Uvarint(rest)
		if n <= 0 || n != uvarintLen(l) {
			return nil, nil, fmt.Errorf("put %d: bad length of record %d", k, i)
		}
		rest = rest[n:]
		if l > uint64(len(rest)) {
			return nil, nil, fmt.Errorf("put %d: record %d length %d exceeds frame", k, i, l)
		}
		records = append(records, rest[:l:l])
		rest = rest[l:]
	}
	return records, rest, nil
}

// Put is one put of a positioned append: records sharing one arrival time.
type Put struct {
	Arrival time.Time
	Records [][]byte
}

// appendPuts appends the puts of a frame after its header: each put's arrival (the first as 8
// bytes, the others as differences) and its records.
func appendPuts(dst []byte, puts []Put) []byte {
	var prev int64
	for i, p := range puts {
		ms := p.Arrival.UnixMilli()
		dst = appendArrival(dst, i == 0, prev, ms)
		prev = ms
		dst = appendPutBody(dst, p.Records)
	}
	return dst
}

// appendPosition appends the position section that ends a version 3 frame.
func appendPosition(dst, position []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(position)))
	return append(dst, position...)
}
