// Package delivery runs one worker per delivery stream. A worker reads the stream's journal
// from its cursor, buffers records by the destination's size and interval hints, writes each
// buffer as one object under the Firehose key, and only then advances the cursor. Before an
// object is written its key and journal range are saved as an intent, so after a crash the
// same object is rewritten under the same key instead of being duplicated.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/prefix"
)

// Log is the part of the journal a worker reads.
type Log interface {
	Read(ctx context.Context, stream string, from uint64) (*journal.Reader, error)
	ReadRange(ctx context.Context, stream string, from, to uint64) (*journal.Reader, error)
	Stats(ctx context.Context, stream string) (journal.Stats, error)
}

// StateStore keeps a worker's cursor and flush intent durably.
type StateStore interface {
	LoadState(ctx context.Context, stream string) (journal.State, error)
	SaveState(ctx context.Context, stream string, st journal.State) (journal.State, error)
	Trim(ctx context.Context, stream string, below uint64) error
}

// ObjectWriter stores a delivered object whole.
type ObjectWriter interface {
	PutObject(ctx context.Context, o destination.Object) error
}

// Spec is what a worker needs to know of its stream's S3 destination.
type Spec struct {
	Stream      string
	Version     int
	Bucket      string
	Prefix      *prefix.Expr
	Location    *time.Location
	Compression compress.Format
	Extension   string // the object name suffix: FileExtension, or the compression's default
	SizeBytes   int
	Interval    time.Duration
}

type flushReq struct {
	upTo uint64
	done chan error
}

// worker delivers one stream.
type worker struct {
	spec    Spec
	log     Log
	state   StateStore
	out     ObjectWriter
	logger  *slog.Logger
	backoff Backoff
	now     func() time.Time
	rnd     *rand.Rand

	flushes chan flushReq
	drain   chan struct{} // closed to ask for a final flush and exit

	st      journal.State // the stored state; st.Cursor: every message below it is settled
	lastSeq uint64        // the last message read into the buffer
	buf     buffer
	pending []flushReq
	enc     bytes.Buffer
	zw      *compress.Encoder
}

type buffer struct {
	from, to uint64
	data     []byte
	records  int
	oldest   time.Time // arrival time of the oldest record: the object's timestamp
	started  time.Time // when the first record entered the buffer: the interval's anchor
}

func (b *buffer) empty() bool { return b.records == 0 && b.from == 0 }

func (b *buffer) reset() {
	b.from, b.to, b.records = 0, 0, 0
	b.data = b.data[:0]
	b.oldest, b.started = time.Time{}, time.Time{}
}

// run delivers until ctx ends or a drain is requested and done.
func (w *worker) run(ctx context.Context) error {
	st, err := w.state.LoadState(ctx, w.spec.Stream)
	if err != nil {
		return fmt.Errorf("load delivery state: %w", err)
	}
	w.st = st
	w.st.Cursor = max(st.Cursor, 1)
	w.buf.reset()
	w.lastSeq = w.st.Cursor - 1
	if in := st.Intent; in != nil && in.ToSeq >= w.st.Cursor {
		if err := w.redo(ctx, in); err != nil {
			return err
		}
	}
	w.lastSeq = w.st.Cursor - 1
	rd, err := w.log.Read(ctx, w.spec.Stream, w.st.Cursor)
	if err != nil {
		return fmt.Errorf("open journal reader: %w", err)
	}
	defer rd.Close()

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan journal.Batch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		for {
			b, err := rd.Next(rctx)
			if errors.Is(err, journal.ErrCorrupt) {
				// Settle it with the batch it lands in, so delivery goes on; it is counted in
				// the log. The error output for such records comes with record processing.
				w.logger.Error("journal message does not decode; skipped", "stream", w.spec.Stream, "seq", b.Seq, "err", err)
				b.Records = nil
				err = nil
			}
			if err != nil {
				if rctx.Err() == nil {
					readErr <- err
				}
				return
			}
			select {
			case batches <- b:
			case <-rctx.Done():
				return
			}
		}
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.answer(ctx.Err())
			return nil
		case err := <-readErr:
			return fmt.Errorf("read journal: %w", err)
		case <-w.drain:
			err := w.flush(ctx)
			w.answer(err)
			return err
		case req := <-w.flushes:
			w.pending = append(w.pending, req)
			if err := w.maybeFlushForRequests(ctx); err != nil {
				return err
			}
		case <-timer.C:
			if err := w.flush(ctx); err != nil {
				return err
			}
		case b, ok := <-batches:
			if !ok {
				continue
			}
			wasEmpty := w.buf.empty()
			w.add(b)
			if wasEmpty && w.spec.Interval > 0 {
				timer.Reset(w.spec.Interval)
			}
			full := len(w.buf.data) >= w.spec.SizeBytes
			zeroBufferCaughtUp := w.spec.Interval == 0 && b.Pending == 0
			if full || zeroBufferCaughtUp {
				timer.Stop()
				if err := w.flush(ctx); err != nil {
					return err
				}
			}
			if err := w.maybeFlushForRequests(ctx); err != nil {
				return err
			}
		}
	}
}

func (w *worker) add(b journal.Batch) {
	if b.Seq > w.lastSeq+1 {
		// Retention removed messages that were never delivered, as Firehose drops data it
		// could not deliver within 24 hours.
		w.logger.Error("undelivered records expired from the journal", "stream", w.spec.Stream, "messages", b.Seq-w.lastSeq-1, "from_seq", w.lastSeq+1)
	}
	if w.buf.empty() {
		w.buf.from = b.Seq
		w.buf.oldest = b.Arrival
		w.buf.started = w.now()
	}
	w.buf.to = b.Seq
	w.lastSeq = b.Seq
	if b.Arrival.Before(w.buf.oldest) {
		w.buf.oldest = b.Arrival
	}
	for _, r := range b.Records {
		w.buf.data = append(w.buf.data, r...)
	}
	w.buf.records += len(b.Records)
}

// maybeFlushForRequests flushes once every message a pending flush request waits for is in
// the buffer, and answers those requests.
func (w *worker) maybeFlushForRequests(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	need := uint64(0)
	for _, r := range w.pending {
		need = max(need, r.upTo)
	}
	if w.lastSeq < need {
		return nil
	}
	err := w.flush(ctx)
	w.answer(err)
	return err
}

func (w *worker) answer(err error) {
	for _, r := range w.pending {
		r.done <- err
	}
	w.pending = w.pending[:0]
}

// flush writes the buffer as one object and settles its messages.
func (w *worker) flush(ctx context.Context) error {
	if w.buf.empty() {
		return nil
	}
	key, err := w.key(w.buf.oldest)
	if err != nil {
		return fmt.Errorf("build object key: %w", err)
	}
	next := w.st
	next.Intent = &journal.Intent{FromSeq: w.buf.from, ToSeq: w.buf.to, Key: key}
	if w.st, err = w.state.SaveState(ctx, w.spec.Stream, next); err != nil {
		return fmt.Errorf("save flush intent: %w", err)
	}
	if err := w.write(ctx, key, w.buf.data, w.buf.records); err != nil {
		return err
	}
	return w.settle(ctx, w.buf.to)
}

// redo rewrites the object of an intent left by a crash, under the same key.
func (w *worker) redo(ctx context.Context, in *journal.Intent) error {
	rd, err := w.log.ReadRange(ctx, w.spec.Stream, in.FromSeq, in.ToSeq)
	if err != nil {
		return fmt.Errorf("re-read intent range %d-%d: %w", in.FromSeq, in.ToSeq, err)
	}
	defer rd.Close()
	w.buf.reset()
	for {
		b, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("re-read intent range %d-%d: %w", in.FromSeq, in.ToSeq, err)
		}
		w.add(b)
	}
	w.logger.Info("rewriting object of interrupted flush", "stream", w.spec.Stream, "key", in.Key, "from", in.FromSeq, "to", in.ToSeq)
	if err := w.write(ctx, in.Key, w.buf.data, w.buf.records); err != nil {
		return err
	}
	return w.settle(ctx, in.ToSeq)
}

// settle advances the cursor past seq, trims the journal, and empties the buffer.
func (w *worker) settle(ctx context.Context, seq uint64) error {
	next := w.st
	next.Cursor, next.Intent = seq+1, nil
	var err error
	if w.st, err = w.state.SaveState(ctx, w.spec.Stream, next); err != nil {
		return fmt.Errorf("save delivery cursor: %w", err)
	}
	if err := w.state.Trim(ctx, w.spec.Stream, w.st.Cursor); err != nil {
		w.logger.Warn("trim journal", "stream", w.spec.Stream, "err", err)
	}
	w.buf.reset()
	return nil
}

// write encodes data and stores it, retrying with back-off until it succeeds or ctx ends.
func (w *worker) write(ctx context.Context, key string, data []byte, records int) error {
	w.enc.Reset()
	if w.zw == nil {
		zw, err := compress.NewEncoder(w.spec.Compression, compress.Config{})
		if err != nil {
			return err
		}
		w.zw = zw
	}
	zw := w.zw
	zw.Reset(&w.enc)
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("compress object: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress object: %w", err)
	}
	obj := destination.Object{
		Bucket:          w.spec.Bucket,
		Key:             key,
		Body:            w.enc.Bytes(),
		ContentType:     "application/octet-stream",
		ContentEncoding: w.spec.Compression.ContentEncoding(),
	}
	for attempt := 1; ; attempt++ {
		err := w.out.PutObject(ctx, obj)
		if err == nil {
			w.logger.Debug("delivered object", "stream", w.spec.Stream, "bucket", obj.Bucket, "key", key, "records", records, "bytes", len(data))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, destination.ErrInvalidObject) && attempt > 3 {
			w.logger.Error("object cannot be stored; still retrying", "stream", w.spec.Stream, "bucket", obj.Bucket, "key", key, "err", err)
		}
		d := w.backoff.Delay(attempt, w.rnd)
		w.logger.Warn("deliver object failed; retrying", "stream", w.spec.Stream, "bucket", obj.Bucket, "key", key, "attempt", attempt, "retry_in", d, "err", err)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// key returns the object key for a buffer whose oldest record arrived at t:
// <prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>.
func (w *worker) key(t time.Time) (string, error) {
	p, err := w.spec.Prefix.Eval(prefix.Values{Time: t, Location: w.spec.Location})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-%d-%s-%s%s", p, w.spec.Stream, w.spec.Version, prefix.ObjectTime(t, w.spec.Location), uuid.NewString(), w.spec.Extension), nil
}
