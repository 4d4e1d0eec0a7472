package journal

import (
	"encoding/binary"
	"fmt"
	"time"
)

// frameVersion is the first byte of every message body.
const frameVersion = 1

// frameHeaderLen is the fixed part of a frame: version and arrival time.
const frameHeaderLen = 1 + 8

// maxRecordsPerFrame bounds the record count so that a record index fits a record ID.
const maxRecordsPerFrame = 1 << 16

// frameLen returns the encoded size of a frame holding records.
func frameLen(records [][]byte) int {
	n := frameHeaderLen + uvarintLen(uint64(len(records)))
	for _, r := range records {
		n += uvarintLen(uint64(len(r))) + len(r)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendFrame appends the frame of one put to dst: version, arrival (unix ms, big-endian),
// uvarint count, then uvarint length and bytes of each record.
func appendFrame(dst []byte, arrival time.Time, records [][]byte) []byte {
	dst = append(dst, frameVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(arrival.UnixMilli()))
	dst = binary.AppendUvarint(dst, uint64(len(records)))
	for _, r := range records {
		dst = binary.AppendUvarint(dst, uint64(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// decodeFrame decodes a frame. The records are sub-slices of b. It returns an error, never
// panics, on malformed input, including varints longer than needed, so that each frame has
// exactly one encoding.
func decodeFrame(b []byte) (arrival time.Time, records [][]byte, err error) {
	if len(b) < frameHeaderLen {
		return time.Time{}, nil, fmt.Errorf("short frame header: %d bytes", len(b))
	}
	if b[0] != frameVersion {
		return time.Time{}, nil, fmt.Errorf("unknown frame version %d", b[0])
	}
	arrival = time.UnixMilli(int64(binary.BigEndian.Uint64(b[1:9])))
	rest := b[frameHeaderLen:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || n != uvarintLen(count) {
		return time.Time{}, nil, fmt.Errorf("bad record count")
	}
	rest = rest[n:]
	if count > uint64(len(rest)) || count > maxRecordsPerFrame {
		return time.Time{}, nil, fmt.Errorf("record count %d exceeds frame", count)
	}
	records = make([][]byte, count)
	for i := range records {
		l, n := binary.Uvarint(rest)
		if n <= 0 || n != uvarintLen(l) {
			return time.Time{}, nil, fmt.Errorf("bad length of record %d", i)
		}
		rest = rest[n:]
		if l > uint64(len(rest)) {
			return time.Time{}, nil, fmt.Errorf("record %d length %d exceeds frame", i, l)
		}
		records[i] = rest[:l:l]
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return time.Time{}, nil, fmt.Errorf("%d trailing bytes after records", len(rest))
	}
	return arrival, records, nil
}
