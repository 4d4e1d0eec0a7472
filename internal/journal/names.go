package journal

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Prefixes of the JetStream names that hold delivery streams.
const (
	streamPrefix  = "hydrant-"
	subjectPrefix = "hydrant.rec."
)

const hexDigits = "0123456789ABCDEF"

// encodeName maps any string to [a-z0-9_A-F-]: a-z, 0-9 and '-' are kept, every other byte
// becomes '_' and two upper-case hex digits. The result is a valid JetStream stream name part,
// subject token and KV key, and distinct inputs stay distinct under case folding.
func encodeName(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// decodeName reverses encodeName.
func decodeName(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("decode name %q: short escape", s)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("decode name %q: bad escape", s)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// StreamName returns the JetStream stream name that holds the delivery stream name.
func StreamName(name string) string { return streamPrefix + encodeName(name) }

// Subject returns the subject on which the records of the delivery stream name are published.
func Subject(name string) string { return subjectPrefix + encodeName(name) }

// DeliveryStreamName returns the delivery stream name held by a JetStream stream name, the
// inverse of StreamName.
func DeliveryStreamName(streamName string) (string, error) {
	enc, ok := strings.CutPrefix(streamName, streamPrefix)
	if !ok {
		return "", fmt.Errorf("stream %q: not a hydrant stream", streamName)
	}
	return decodeName(enc)
}

// recordIDLen is the number of bytes behind a record ID: nonce, sequence, index.
const recordIDLen = 8 + 8 + 2

// RecordID returns the opaque ID of the record at index in the message seq of the stream
// whose nonce is nonce: unpadded URL-safe base64 of nonce, seq (8 bytes each) and index
// (2 bytes), big-endian, 24 characters.
func RecordID(nonce, seq uint64, index int) string {
	var b [recordIDLen]byte
	binary.BigEndian.PutUint64(b[0:], nonce)
	binary.BigEndian.PutUint64(b[8:], seq)
	binary.BigEndian.PutUint16(b[16:], uint16(index))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseRecordID returns the parts of a record ID made by RecordID. It exists for debugging and
// tests; clients treat record IDs as opaque.
func ParseRecordID(id string) (nonce, seq uint64, index int, err error) {
	var b [recordIDLen]byte
	if base64.RawURLEncoding.DecodedLen(len(id)) != recordIDLen {
		return 0, 0, 0, errors.New("parse record id: bad length")
	}
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(id)); err != nil {
		return 0, 0, 0, fmt.Errorf("parse record id: %w", err)
	}
	return binary.BigEndian.Uint64(b[0:]), binary.BigEndian.Uint64(b[8:]), int(binary.BigEndian.Uint16(b[16:])), nil
}
