package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Batch is the content of one message: the records of one or more puts.
type Batch struct {
	// Seq is the message's stream sequence.
	Seq uint64
	// LSeq is the message's number among its delivery stream's messages (1, 2, 3, …), so that a
	// gap shows messages that expired in between; 0 for messages written before group commit.
	LSeq uint64
	// Arrival is the first put's arrival time, at millisecond precision; ArrivalAt gives each
	// record's.
	Arrival time.Time
	// Records are the records of every put of the message, in order. They alias the message;
	// do not modify them.
	Records [][]byte
	// Pending is the number of messages after this one when it was delivered; 0 means the
	// reader is caught up.
	Pending uint64
	// Nonce identifies the stream incarnation, for record IDs.
	Nonce uint64

	f frame // the decoded message: its puts' boundaries and arrivals
}

// RecordID returns the ID that Append gave the record at index.
func (b Batch) RecordID(index int) string { return RecordID(b.Nonce, b.Seq, index) }

// ArrivalAt returns the arrival time of the put that record index belongs to.
func (b Batch) ArrivalAt(index int) time.Time {
	if len(b.f.puts) <= 1 {
		return b.Arrival
	}
	return time.UnixMilli(b.f.arrivalOf(index))
}

// decode fills b from a message body.
func (b *Batch) decode(data []byte) error {
	f, err := decodeFrame(data)
	if err != nil {
		return err
	}
	b.f, b.LSeq, b.Records = f, f.lseq, f.records
	b.Arrival = time.UnixMilli(f.puts[0].arrival)
	b.f.records = nil // Records holds them
	return nil
}

// Reader reads the messages of one stream in order, without acknowledgements. It is not safe
// for concurrent use. Close it when done.
type Reader struct {
	stream string
	nonce  uint64
	it     jetstream.MessagesContext
	to     uint64 // last sequence to return; 0 means no bound
	done   bool

	// A Reader without a bound holds a consumer only while there is something to read: after
	// Config.ReaderIdle without a message it parks, and a later Next opens a new consumer at
	// next once the stream has a message there (docs/design/journal.md, "Reading").
	j    *Journal
	ref  streamRef
	next uint64 // the sequence to read from when (re)opened
	// stopIdle makes Next return ErrIdle rather than wait; wakeCh is the wake-up it registered.
	stopIdle bool
	wakeCh   <-chan struct{}
	cons     jetstream.Consumer

	// budget and held are the read-ahead the open consumer holds (Config.Budget).
	budget Budget
	held   int64
}

// Read returns a Reader of the stream name starting at sequence from (1 if from is 0, or the
// first message if from was trimmed).
func (j *Journal) Read(ctx context.Context, name string, from uint64) (*Reader, error) {
	return j.read(ctx, name, from, 0)
}

// ReadRange returns a Reader of the messages of name with from ≤ Seq ≤ to. Its Next returns
// io.EOF after the last of them, or after catching up with the end of the stream.
func (j *Journal) ReadRange(ctx context.Context, name string, from, to uint64) (*Reader, error) {
	if to == 0 || to < from {
		return &Reader{stream: name, done: true}, nil
	}
	return j.read(ctx, name, from, to)
}

func (j *Journal) read(ctx context.Context, name string, from, to uint64) (*Reader, error) {
	from = max(from, 1)
	ref, err := j.ref(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	if to == 0 {
		return &Reader{stream: name, nonce: ref.nonce, j: j, ref: ref, next: from}, nil
	}
	st, err := j.Stats(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	if st.Messages == 0 || st.LastSeq < from {
		return &Reader{stream: name, done: true}, nil
	}
	r := &Reader{stream: name, nonce: ref.nonce, to: to}
	pull, err := r.acquire(ctx, j)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	cons, err := j.orderedConsumer(ctx, ref, from)
	if err != nil {
		r.release()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = ErrNoStream
		}
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	if r.it, err = cons.Messages(jetstream.PullMaxBytes(int(pull))); err != nil {
		r.release()
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	return r, nil
}

// Next returns the next message. It blocks until one is stored or ctx ends; after ctx ends
// the Reader is still usable. A message that does not decode is returned as an error wrapping
// ErrCorrupt together with a Batch carrying its Seq and Pending, so the caller can skip it.
func (r *Reader) Next(ctx context.Context) (Batch, error) {
	if r.done {
		return Batch{}, io.EOF
	}
	msg, err := r.nextMsg(ctx)
	if err != nil {
		return Batch{}, fmt.Errorf("read %q: %w", r.stream, err)
	}
	md, err := msg.Metadata()
	if err != nil {
		return Batch{}, fmt.Errorf("read %q: %w", r.stream, err)
	}
	b := Batch{Seq: md.Sequence.Stream, Pending: md.NumPending, Nonce: r.nonce}
	r.next = b.Seq + 1
	if r.to != 0 {
		if b.Seq > r.to {
			r.stop()
			return Batch{}, io.EOF
		}
		if b.Seq == r.to || b.Pending == 0 {
			r.stop() // this is the last one
			r.done = true
		}
	}
	if err := b.decode(msg.Data()); err != nil {
		return b, fmt.Errorf("read %q seq %d: %w: %w", r.stream, b.Seq, ErrCorrupt, err)
	}
	return b, nil
}

func (r *Reader) stop() {
	r.done = true
	if r.j != nil {
		r.park()
		return
	}
	if r.it != nil {
		r.it.Stop()
		r.it = nil
		r.release()
	}
}

// Close stops the reader.
func (r *Reader) Close() error {
	r.stop()
	return nil
}

// Get returns the message seq of the stream name, or an error wrapping ErrNotFound.
func (j *Journal) Get(ctx context.Context, name string, seq uint64) (Batch, error) {
	ref, s, err := j.stream(ctx, name)
	if err != nil {
		return Batch{}, fmt.Errorf("get %q seq %d: %w", name, seq, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err == nil && m.Subject != ref.subject {
		err = jetstream.ErrMsgNotFound // another delivery stream's message in the same shard
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = ErrNotFound
		}
		return Batch{}, fmt.Errorf("get %q seq %d: %w", name, seq, err)
	}
	b := Batch{Seq: m.Sequence, Nonce: ref.nonce}
	if err := b.decode(m.Data); err != nil {
		return b, fmt.Errorf("get %q seq %d: %w: %w", name, seq, ErrCorrupt, err)
	}
	return b, nil
}
