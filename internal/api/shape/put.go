package shape

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Bounds of PutRecord and PutRecordBatch, from the model; put_test.go checks them against it.
const (
	maxRecordBytes   = 1024000
	maxBatchRecords  = 500
	maxStreamNameLen = 64
	maxSkipDepth     = 64 // deeper unknown members go to the generic path
)

// PutBatch is a decoded PutRecordBatch or PutRecord request.
//
// Pass the same PutBatch to successive decode calls to reuse its buffers: a call overwrites
// Records and Arena, so the caller must be done with the previous contents first.
type PutBatch struct {
	// DeliveryStreamName is the target stream.
	DeliveryStreamName string
	// Records holds each record's decoded bytes, in request order; each is a slice of Arena
	// whose capacity ends where the record does.
	Records [][]byte
	// Arena holds the decoded bytes of all records; it is reused across calls.
	Arena []byte
	// TotalBytes is the sum of the decoded record sizes.
	TotalBytes int

	scratch []byte // unescaped JSON strings
}

// reset empties b and makes sure Arena can hold every record body can decode to, so the
// Records slices are never invalidated by growth.
func (b *PutBatch) reset(bodyLen int) {
	need := bodyLen/4*3 + 4
	if cap(b.Arena) < need {
		b.Arena = make([]byte, 0, need)
	}
	b.Arena = b.Arena[:0]
	clear(b.Records)
	b.Records = b.Records[:0]
	b.TotalBytes = 0
}

// DecodePutRecordBatch decodes and validates a PutRecordBatch body into dst. It returns the same
// error, type and text, that Validate("PutRecordBatch", body) returns; on a nil error dst holds
// the request. Common bodies take a single pass with no allocation once dst's buffers have
// grown; anything unusual takes the generic path (Validate, then encoding/json).
func DecodePutRecordBatch(body []byte, dst *PutBatch) error {
	dst.reset(len(body))
	if fastPut(body, dst, true) {
		return nil
	}
	return genericPut("PutRecordBatch", body, dst, true)
}

// DecodePutRecord decodes and validates a PutRecord body into dst as exactly one record. It
// returns the same error that Validate("PutRecord", body) returns.
func DecodePutRecord(body []byte, dst *PutBatch) error {
	dst.reset(len(body))
	if fastPut(body, dst, false) {
		return nil
	}
	return genericPut("PutRecord", body, dst, false)
}

// genericPut is the reference path: the full validator, then encoding/json.
func genericPut(op string, body []byte, dst *PutBatch, batch bool) error {
	dst.reset(len(body))
	if err := Validate(op, body); err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("decode %s after validation: %w", op, err)
	}
	var name string
	if err := json.Unmarshal(top["DeliveryStreamName"], &name); err != nil {
		return fmt.Errorf("decode %s after validation: %w", op, err)
	}
	recs := []json.RawMessage{top["Record"]}
	if batch {
		if err := json.Unmarshal(top["Records"], &recs); err != nil {
			return fmt.Errorf("decode %s after validation: %w", op, err)
		}
	}
	for _, raw := range recs {
		var rec map[string]json.RawMessage
		var data string
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("decode %s after validation: %w", op, err)
		}
		if err := json.Unmarshal(rec["Data"], &data); err != nil {
			return fmt.Errorf("decode %s after validation: %w", op, err)
		}
		start := len(dst.Arena)
		out := dst.Arena[start:cap(dst.Arena)]
		if len(out) < base64.StdEncoding.DecodedLen(len(data)) {
			// Cannot happen: reset sized Arena for the whole body.
			return fmt.Errorf("decode %s: arena too small", op)
		}
		n, err := base64.StdEncoding.Decode(out, []byte(data))
		if err != nil {
			return fmt.Errorf("decode %s after validation: %w", op, err)
		}
		dst.Arena = dst.Arena[:start+n]
		dst.Records = append(dst.Records, dst.Arena[start:start+n:start+n])
		dst.TotalBytes += n
	}
	dst.setName([]byte(name))
	return nil
}

// setName sets DeliveryStreamName, allocating only when it changes.
func (b *PutBatch) setName(name []byte) {
	if b.DeliveryStreamName != string(name) {
		b.DeliveryStreamName = string(name)
	}
}

// fastPut decodes the common shape of a put body in one pass. It returns false, leaving dst in
// an unspecified state, whenever the body is invalid or unusual, and true only for bodies that
// Validate accepts and that decode to exactly what genericPut produces (FuzzDecodePutRecordBatch
// checks this).
func fastPut(body []byte, dst *PutBatch, batch bool) bool {
	s := scanner{b: body}
	var nameBuf [maxStreamNameLen]byte
	var name []byte
	haveName, haveRecords := false, false
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if !s.eat('}') {
		for {
			s.ws()
			var keyBuf [24]byte
			key, ok := s.key(keyBuf[:0])
			if !ok {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			switch {
			case string(key) == "DeliveryStreamName":
				if s.null() {
					haveName = false
					break
				}
				name, ok = s.shortString(nameBuf[:0])
				if !ok {
					return false
				}
				haveName = true
			case batch && string(key) == "Records":
				dst.Arena = dst.Arena[:0]
				dst.Records = dst.Records[:0]
				dst.TotalBytes = 0
				if s.null() {
					haveRecords = false
					break
				}
				if !s.records(dst) {
					return false
				}
				haveRecords = true
			case !batch && string(key) == "Record":
				dst.Arena = dst.Arena[:0]
				dst.Records = dst.Records[:0]
				dst.TotalBytes = 0
				if s.null() {
					haveRecords = false
					break
				}
				if !s.record(dst) {
					return false
				}
				haveRecords = true
			default:
				if !s.skip(0) {
					return false
				}
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return false
		}
	}
	s.ws()
	if s.i != len(s.b) || !haveName || !haveRecords || !validStreamName(name) {
		return false
	}
	dst.setName(name)
	return true
}

// validStreamName is the DeliveryStreamName constraints: length 1–64, [a-zA-Z0-9_.-]+.
func validStreamName(n []byte) bool {
	if len(n) < 1 || len(n) > maxStreamNameLen {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// scanner is a cursor over a JSON body for the fast path. Its methods return false on anything
// they do not handle; the caller then falls back to the generic path.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// records decodes a Records array of 1–500 records into dst.
func (s *scanner) records(dst *PutBatch) bool {
	if !s.eat('[') {
		return false
	}
	for {
		s.ws()
		if len(dst.Records) == maxBatchRecords || !s.record(dst) {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// record decodes one {"Data": "<base64>"} object and appends it to dst.
func (s *scanner) record(dst *PutBatch) bool {
	if !s.eat('{') {
		return false
	}
	start := len(dst.Arena)
	haveData := false
	s.ws()
	if !s.eat('}') {
		for {
			s.ws()
			var keyBuf [8]byte
			key, ok := s.key(keyBuf[:0])
			if !ok {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			if string(key) == "Data" {
				dst.Arena = dst.Arena[:start] // a repeated key replaces the earlier value
				if s.null() {
					haveData = false
				} else {
					if !s.data(dst) {
						return false
					}
					haveData = true
				}
			} else if !s.skip(0) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return false
		}
	}
	if !haveData {
		return false
	}
	n := len(dst.Arena) - start
	dst.Records = append(dst.Records, dst.Arena[start:start+n:start+n])
	dst.TotalBytes += n
	return true
}

// data decodes a base64 string value onto the end of dst.Arena.
func (s *scanner) data(dst *PutBatch) bool {
	if !s.eat('"') {
		return false
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return false
	}
	span := s.b[start : start+end]
	s.i = start + end + 1
	if !decodeInto(dst, span) {
		if bytes.IndexByte(span, '\\') < 0 {
			return false
		}
		// Escaped string (e.g. "\/" from encoders that escape slashes): unescape, then decode.
		s.i = start - 1
		raw, ok := s.str()
		if !ok {
			return false
		}
		dst.scratch, ok = unescapeASCII(dst.scratch[:0], raw)
		if !ok || !decodeInto(dst, dst.scratch) {
			return false
		}
	}
	return true
}

// decodeInto base64-decodes src onto the end of dst.Arena. It accepts exactly the padded
// standard encoding with no characters besides the alphabet: the length check rejects the CR
// and LF that encoding/base64 skips, which JSON forbids unescaped in a string.
func decodeInto(dst *PutBatch, src []byte) bool {
	if len(src)%4 != 0 {
		return false
	}
	start := len(dst.Arena)
	want := len(src) / 4 * 3
	if want > maxRecordBytes+2 || cap(dst.Arena)-start < want {
		return false
	}
	if len(src) > 0 && src[len(src)-1] == '=' {
		want--
		if src[len(src)-2] == '=' {
			want--
		}
	}
	n, err := base64.StdEncoding.Decode(dst.Arena[start:start+len(src)/4*3], src)
	if err != nil || n != want || n > maxRecordBytes {
		return false
	}
	dst.Arena = dst.Arena[:start+n]
	return true
}

// str scans a JSON string starting at its opening quote, checking its syntax, and returns its
// raw contents (escapes intact).
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if unhex(h) < 0 {
						return nil, false
					}
				}
				s.i += 6
			default:
				return nil, false
			}
		default:
			s.i++
		}
	}
	return nil, false
}

// key scans an object key and returns it unescaped (into buf when it has escapes). A key that
// does not fit buf or is not ASCII cannot be one the fast path knows; it is returned as "" (an
// unknown key, skipped like any other).
func (s *scanner) key(buf []byte) ([]byte, bool) {
	raw, ok := s.str()
	if !ok {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, true
	}
	if len(raw) > cap(buf)*6 {
		return nil, true
	}
	k, ok := unescapeASCII(buf, raw)
	if !ok || len(k) > cap(buf) {
		return nil, true
	}
	return k, true
}

// shortString scans a string value that must unescape to ASCII within cap(buf) bytes.
func (s *scanner) shortString(buf []byte) ([]byte, bool) {
	raw, ok := s.str()
	if !ok {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, true
	}
	v, ok := unescapeASCII(buf, raw)
	if !ok || len(v) > cap(buf) {
		return nil, false
	}
	return v, true
}

// unescapeASCII appends the unescaped contents of a syntactically valid JSON string to dst. It
// reports false if the result would not be pure ASCII (the generic path handles those).
func unescapeASCII(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c >= 0x80 {
			return dst, false
		}
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := unhex(raw[i+1])<<12 | unhex(raw[i+2])<<8 | unhex(raw[i+3])<<4 | unhex(raw[i+4])
			if r >= 0x80 {
				return dst, false
			}
			dst = append(dst, byte(r))
			i += 4
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// skip scans over any JSON value, checking its syntax.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.b) || depth > maxSkipDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{':
		s.i++
		s.ws()
		if s.eat('}') {
			return true
		}
		for {
			s.ws()
			if _, ok := s.str(); !ok {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case c == '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) lit(w string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		s.i += len(w)
		return true
	}
	return false
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
