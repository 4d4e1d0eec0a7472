// Package source holds what the readers of external sources (a Kinesis stream, a Kafka topic)
// share: the position vector they store with every message they append to the journal, the
// appending of what they read, and their status. The readers themselves live in kinesis and
// kafka (docs/design/sources.md).
package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// positionVersion is the first byte of an encoded Position.
const positionVersion = 1

// Bounds of an encoded Position, checked when it is decoded.
const (
	maxKeyLen   = 256
	maxValueLen = 128
	maxEntries  = 1 << 14
)

// ErrBadPosition reports an encoded position that does not decode.
var ErrBadPosition = errors.New("source: malformed position")

// Position is how far a reader has read its source: one entry per shard or partition. It
// travels in the journal with the records read up to it (journal.AppendPositioned).
type Position struct {
	// Source identifies what was read: the Kinesis stream ARN, or the Kafka cluster ARN and topic.
	// A position of another source is not resumed from.
	Source string
	// Entries is keyed by shard ID (Kinesis) or partition number in decimal (Kafka).
	Entries map[string]Entry
}

// Entry is the position within one shard or partition.
type Entry struct {
	// Value is the sequence number of the last record read (Kinesis; empty when none was read
	// from the shard yet), or the offset of the next record to read in decimal (Kafka).
	Value string
	// Done marks a closed Kinesis shard read to its end.
	Done bool
}

// Clone returns a deep copy of p.
func (p Position) Clone() Position {
	return Position{Source: p.Source, Entries: maps.Clone(p.Entries)}
}

// Set records e under key.
func (p *Position) Set(key string, e Entry) {
	if p.Entries == nil {
		p.Entries = make(map[string]Entry)
	}
	p.Entries[key] = e
}

// Marshal encodes p: version, source, entry count, then each entry in key order (key, value,
// flags), strings as uvarint length and bytes. Each Position has exactly one encoding.
func (p Position) Marshal() []byte {
	n := 1 + binary.MaxVarintLen32 + len(p.Source) + binary.MaxVarintLen32
	for k, e := range p.Entries {
		n += 2*binary.MaxVarintLen32 + len(k) + len(e.Value) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, positionVersion)
	b = appendString(b, p.Source)
	b = binary.AppendUvarint(b, uint64(len(p.Entries)))
	for _, k := range slices.Sorted(maps.Keys(p.Entries)) {
		e := p.Entries[k]
		b = appendString(b, k)
		b = appendString(b, e.Value)
		var flags byte
		if e.Done {
			flags = 1
		}
		b = append(b, flags)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ParsePosition decodes what Marshal encoded. It rejects, never panics on, anything else:
// another version, varints longer than needed, keys out of order or repeated, unknown flags,
// strings over their bounds and trailing bytes.
func ParsePosition(b []byte) (Position, error) {
	if len(b) == 0 || b[0] != positionVersion {
		return Position{}, fmt.Errorf("%w: unknown version", ErrBadPosition)
	}
	d := decoder{b: b[1:]}
	p := Position{Source: d.string(maxKeyLen * 4)}
	count := d.uvarint()
	if d.err == nil && (count > maxEntries || count > uint64(len(d.b))/3) {
		return Position{}, fmt.Errorf("%w: %d entries", ErrBadPosition, count)
	}
	prev := ""
	for i := range int(count) {
		k := d.string(maxKeyLen)
		v := d.string(maxValueLen)
		flags := d.byte()
		if d.err != nil {
			break
		}
		if i > 0 && k <= prev {
			return Position{}, fmt.Errorf("%w: key %q after %q", ErrBadPosition, k, prev)
		}
		if flags > 1 {
			return Position{}, fmt.Errorf("%w: flags %#x", ErrBadPosition, flags)
		}
		prev = k
		p.Set(k, Entry{Value: v, Done: flags == 1})
	}
	if d.err != nil {
		return Position{}, d.err
	}
	if len(d.b) != 0 {
		return Position{}, fmt.Errorf("%w: %d trailing bytes", ErrBadPosition, len(d.b))
	}
	return p, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, x)) {
		d.err = fmt.Errorf("%w: bad varint", ErrBadPosition)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) string(limit int) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: string of %d bytes", ErrBadPosition, n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated", ErrBadPosition)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}
