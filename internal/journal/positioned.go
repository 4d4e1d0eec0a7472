package journal

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// A positioned append stores records read from a source (a Kinesis stream, a Kafka topic) together
// with the source position after them, in one message (frame version 3). The position is opaque
// to the journal. The last message of a stream is its reader's checkpoint, so Trim never removes
// a last message that carries a position (docs/design/sources.md, "Positions travel with the
// data").

// lastMessage is what Trim knows of a stream's last message.
type lastMessage struct {
	nonce      uint64
	seq        uint64 // its sequence, when positioned
	positioned bool
}

// AppendPositioned stores puts and the source position after them as one message, and returns
// its position once the server acknowledged it. Positioned appends to a stream are meant to come
// from one reader at a time, in order; each is a message of its own, never grouped with other
// appends. An error means nothing is acknowledged; after a context that ended or a lost answer
// the message may be stored all the same, which LastPosition tells.
func (j *Journal) AppendPositioned(ctx context.Context, stream string, puts []Put, position []byte) (Position, error) {
	if len(position) == 0 || len(position) > MaxPositionBytes {
		return Position{}, fmt.Errorf("append %q: position of %d bytes: %w", stream, len(position), ErrTooLarge)
	}
	if len(puts) == 0 {
		return Position{}, fmt.Errorf("append %q: no puts", stream)
	}
	records, body := 0, 0
	for i, p := range puts {
		records += len(p.Records)
		body += putBodyLen(p.Records)
		if i > 0 {
			body += maxArrivalLen
		} else {
			body += 8
		}
	}
	if records > maxRecordsPerFrame {
		return Position{}, fmt.Errorf("append %q: %d records: %w", stream, records, ErrTooLarge)
	}
	if n := frameV2MaxHeader + body + binaryLenMax + len(position); n > j.cfg.MaxMessageBytes {
		return Position{}, fmt.Errorf("append %q: frame of %d bytes over %d: %w", stream, n, j.cfg.MaxMessageBytes, ErrTooLarge)
	}
	held, err := j.space.admit(body)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	defer j.space.release(held)
	ref, err := j.ref(ctx, stream)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	pos, err := j.committer(stream, ref).appendPositioned(ctx, puts, records, body, position)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	j.wake(stream)
	return pos, nil
}

// binaryLenMax bounds the length prefix of a position.
const binaryLenMax = 4

// LastPosition returns the source position of the stream's last message (a copy), or nil when
// the stream has no message or its last message carries none.
func (j *Journal) LastPosition(ctx context.Context, stream string) ([]byte, error) {
	ref, err := j.ref(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("last position of %q: %w", stream, err)
	}
	m, err := j.directGet(ctx, ref, directGetReq{LastBySubj: ref.subject})
	if err != nil {
		return nil, fmt.Errorf("last position of %q: %w", stream, err)
	}
	if m == nil {
		return nil, nil
	}
	f, err := decodeFrame(m.Data)
	if err != nil {
		return nil, fmt.Errorf("last position of %q: %w", stream, err)
	}
	if seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64); err == nil {
		j.noteLast(stream, ref.nonce, seq, f.position != nil)
	}
	return slices.Clone(f.position), nil
}

// keepSeq returns the sequence of the stream's last message when it carries a position (Trim
// keeps it), else 0. It reads the last message only when it does not know it.
func (j *Journal) keepSeq(ctx context.Context, name string, ref streamRef) (uint64, error) {
	j.mu.Lock()
	l, ok := j.lasts[name]
	j.mu.Unlock()
	if ok && l.nonce == ref.nonce {
		if l.positioned {
			return l.seq, nil
		}
		return 0, nil
	}
	m, err := j.directGet(ctx, ref, directGetReq{LastBySubj: ref.subject})
	if err != nil || m == nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("last message: %w", err)
	}
	positioned := len(m.Data) > 0 && m.Data[0] == frameV3
	j.noteLast(name, ref.nonce, seq, positioned)
	if !positioned {
		return 0, nil
	}
	return seq, nil
}

// noteLast records what the stream's last message is known to be. A positioned message only
// ever follows positioned ones, so a later sequence replaces an earlier one.
func (j *Journal) noteLast(name string, nonce, seq uint64, positioned bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lasts == nil {
		j.lasts = make(map[string]lastMessage)
	}
	if l, ok := j.lasts[name]; ok && l.nonce == nonce && l.seq > seq {
		return
	}
	j.lasts[name] = lastMessage{nonce: nonce, seq: seq, positioned: positioned}
}

// forgetLast drops what Trim knows of the stream's last message.
func (j *Journal) forgetLast(name string) {
	j.mu.Lock()
	delete(j.lasts, name)
	j.mu.Unlock()
}
