package httpendpoint

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// The request body is generated as it is sent, a record at a time, rather than built whole:
// a 64 MiB batch would otherwise take another 86 MiB of base64 JSON per attempt in flight. Its
// length is known in advance (Content-Length), and a retry or a redirect-less resend reads it
// again from the start (GetBody).

// bodyReader reads the body of a batch: AppendBody's bytes, produced record by record in a
// scratch buffer of at most one record's base64.
type bodyReader struct {
	head    []byte // {"requestId":…,"timestamp":…,"records":[
	records [][]byte
	next    int    // the record whose JSON comes next
	done    bool   // the closing ]} is in scratch
	scratch []byte // what is produced and not yet read: part of head or of buf
	buf     []byte // the storage of one record's JSON, reused
}

const (
	recordOpen  = `{"data":"`
	recordClose = `"}`
	bodyClose   = "]}"
)

func newBodyReader(requestID string, timestamp time.Time, records [][]byte) *bodyReader {
	head := []byte(`{"requestId":`)
	id, _ := json.Marshal(requestID) // a string always encodes
	head = append(head, id...)
	head = append(head, `,"timestamp":`...)
	head = strconv.AppendInt(head, timestamp.UnixMilli(), 10)
	head = append(head, `,"records":[`...)
	return &bodyReader{head: head, records: records, scratch: head}
}

// size returns the body's length in bytes.
func (b *bodyReader) size() int64 {
	n := int64(len(b.head) + len(bodyClose))
	for i, r := range b.records {
		if i > 0 {
			n++
		}
		n += int64(len(recordOpen) + base64.StdEncoding.EncodedLen(len(r)) + len(recordClose))
	}
	return n
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(b.scratch) == 0 && !b.fill() {
			break
		}
		c := copy(p[n:], b.scratch)
		b.scratch = b.scratch[c:]
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// fill produces the next record's JSON, or the closing bytes, into scratch; false at the end.
func (b *bodyReader) fill() bool {
	if b.done {
		return false
	}
	buf := b.buf[:0]
	if b.next == len(b.records) {
		b.buf = append(buf, bodyClose...)
		b.scratch, b.done = b.buf, true
		return true
	}
	if b.next > 0 {
		buf = append(buf, ',')
	}
	buf = append(buf, recordOpen...)
	buf = base64.StdEncoding.AppendEncode(buf, b.records[b.next])
	b.buf = append(buf, recordClose...)
	b.scratch = b.buf
	b.next++
	return true
}

// again returns a new reader of the same body, from its first byte (http.Request.GetBody).
func (b *bodyReader) again() (io.ReadCloser, error) {
	return io.NopCloser(&bodyReader{head: b.head, records: b.records, scratch: b.head}), nil
}
