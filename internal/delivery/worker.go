// Package delivery runs one worker per delivery stream. A worker reads the stream's journal
// from its cursor and feeds each of its legs (the destination, and the S3 backup when enabled),
// which buffer records by their size and interval hints and write each buffer as one object
// under the Firehose key. A leg's progress is saved only after its object is written, and the
// journal cursor only passes a message once every leg has it in an object. Before an object is
// written its key and journal range are saved as an intent, so after a crash the same object is
// rewritten under the same key instead of being duplicated.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
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

// Leg names.
const (
	LegDestination = "destination"
	LegBackup      = "backup"
)

// Spec is what a worker needs to know of its stream's delivery.
type Spec struct {
	Stream  string
	Version int
	// Legs are the S3 destination and, with S3BackupMode Enabled, the backup of the source
	// records. Each has its own buffer, hints and progress.
	Legs []LegSpec
}

// LegSpec is one object-writing leg of a stream.
type LegSpec struct {
	Name        string // LegDestination or LegBackup
	Bucket      string
	Prefix      *prefix.Expr
	Location    *time.Location
	Compression compress.Format
	Extension   string // the object name suffix: FileExtension, or the compression's default
	KMSKeyARN   string // SSE-KMS key, when the destination asks for one
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
	status  *Status
	zcfg    compress.Config

	flushes chan flushReq
	drain   chan struct{} // closed to ask for a final flush and exit

	st      journal.State // the stored state; st.Cursor: every message below it is settled by every leg
	legs    []*leg
	lastSeq uint64 // the last message read
	pending []flushReq
	timer   *time.Timer
	enc     bytes.Buffer
}

// leg is the running state of one LegSpec.
type leg struct {
	LegSpec
	settled  uint64 // every message up to and including settled is in this leg's objects
	buf      buffer
	deadline time.Time // when the buffer's interval ends; zero when empty
	zw       *compress.Encoder
}

type buffer struct {
	from, to uint64
	data     []byte
	records  int
	oldest   time.Time // arrival time of the oldest record: the object's timestamp
}

func (b *buffer) empty() bool { return b.from == 0 }

func (b *buffer) reset() {
	b.from, b.to, b.records = 0, 0, 0
	b.data = b.data[:0]
	b.oldest = time.Time{}
}

// progress is the worker's detail saved with the cursor: how far each leg has settled.
type progress struct {
	Settled map[string]uint64 `json:"settled"`
}

// run delivers until ctx ends or a drain is requested and done.
func (w *worker) run(ctx context.Context) error {
	if err := w.load(ctx); err != nil {
		return err
	}
	rd, err := w.log.Read(ctx, w.spec.Stream, w.st.Cursor)
	if err != nil {
		return fmt.Errorf("open journal reader: %w", err)
	}
	defer rd.Close()

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	batches := make(chan journal.Batch, 2)
	readErr := make(chan error, 1)
	go w.pump(rctx, rd, batches, readErr)

	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	defer w.timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.answer(ctx.Err())
			return nil
		case err := <-readErr:
			return fmt.Errorf("read journal: %w", err)
		case <-w.drain:
			err := w.flushAll(ctx)
			w.answer(err)
			return err
		case req := <-w.flushes:
			w.pending = append(w.pending, req)
		case <-w.timer.C:
			now := w.now()
			for _, l := range w.legs {
				if !l.buf.empty() && !now.Before(l.deadline) {
					if err := w.flush(ctx, l); err != nil {
						return err
					}
				}
			}
		case b, ok := <-batches:
			if !ok {
				continue
			}
			if err := w.take(ctx, b); err != nil {
				return err
			}
		}
		if err := w.maybeFlushForRequests(ctx); err != nil {
			return err
		}
		w.arm()
	}
}

// load reads the saved state, rebuilds the legs' progress and finishes an interrupted flush.
func (w *worker) load(ctx context.Context) error {
	st, err := w.state.LoadState(ctx, w.spec.Stream)
	if err != nil {
		return fmt.Errorf("load delivery state: %w", err)
	}
	w.st = st
	w.st.Cursor = max(st.Cursor, 1)
	var p progress
	if len(st.Data) > 0 {
		if err := json.Unmarshal(st.Data, &p); err != nil {
			return fmt.Errorf("decode delivery progress: %w", err)
		}
	}
	w.legs = w.legs[:0]
	for _, ls := range w.spec.Legs {
		l := &leg{LegSpec: ls, settled: w.st.Cursor - 1}
		if s, ok := p.Settled[ls.Name]; ok && s > l.settled {
			l.settled = s
		}
		w.legs = append(w.legs, l)
	}
	w.lastSeq = w.st.Cursor - 1
	w.status.setLegs(w.legs)
	if in := st.Intent; in != nil {
		for _, l := range w.legs {
			if string(in.Data) == l.Name && in.ToSeq > l.settled {
				if err := w.redo(ctx, l, in); err != nil {
					return err
				}
			}
		}
	}
	for _, l := range w.legs {
		l.buf.reset()
		l.deadline = time.Time{}
	}
	return nil
}

// pump reads batches into ch until ctx ends; a read error goes to errs.
func (w *worker) pump(ctx context.Context, rd *journal.Reader, ch chan<- journal.Batch, errs chan<- error) {
	defer close(ch)
	for {
		b, err := rd.Next(ctx)
		if errors.Is(err, journal.ErrCorrupt) {
			// Settled with the buffer it lands in, so delivery goes on; it is counted in the
			// log. The error output for such records comes with record processing.
			w.logger.Error("journal message does not decode; skipped", "stream", w.spec.Stream, "seq", b.Seq, "err", err)
			b.Records = nil
			err = nil
		}
		if err != nil {
			if ctx.Err() == nil {
				errs <- err
			}
			return
		}
		select {
		case ch <- b:
		case <-ctx.Done():
			return
		}
	}
}

// take adds a batch to every leg that has not settled it, and flushes legs that are full or,
// with zero buffering, caught up.
func (w *worker) take(ctx context.Context, b journal.Batch) error {
	if b.Seq > w.lastSeq+1 {
		// Retention removed messages that were never delivered, as Firehose drops data it
		// could not deliver within 24 hours.
		w.logger.Error("undelivered records expired from the journal", "stream", w.spec.Stream, "messages", b.Seq-w.lastSeq-1, "from_seq", w.lastSeq+1)
	}
	w.lastSeq = b.Seq
	for _, l := range w.legs {
		if b.Seq <= l.settled {
			continue
		}
		if l.buf.empty() {
			l.deadline = w.now().Add(l.Interval)
		}
		l.add(b)
		w.status.buffered(l)
		full := len(l.buf.data) >= l.SizeBytes
		zeroCaughtUp := l.Interval == 0 && b.Pending == 0
		if full || zeroCaughtUp {
			if err := w.flush(ctx, l); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *leg) add(b journal.Batch) {
	if l.buf.empty() {
		l.buf.from = b.Seq
		l.buf.oldest = b.Arrival
	}
	l.buf.to = b.Seq
	if b.Arrival.Before(l.buf.oldest) {
		l.buf.oldest = b.Arrival
	}
	for _, r := range b.Records {
		l.buf.data = append(l.buf.data, r...)
	}
	l.buf.records += len(b.Records)
}

// arm sets the timer to the earliest interval deadline of a non-empty leg.
func (w *worker) arm() {
	var next time.Time
	for _, l := range w.legs {
		if !l.buf.empty() && l.Interval > 0 && (next.IsZero() || l.deadline.Before(next)) {
			next = l.deadline
		}
	}
	w.timer.Stop()
	if !next.IsZero() {
		w.timer.Reset(max(next.Sub(w.now()), 0))
	}
}

// maybeFlushForRequests flushes every leg once every message a pending flush request waits
// for has been read, and answers those requests.
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
	err := w.flushAll(ctx)
	w.answer(err)
	return err
}

func (w *worker) flushAll(ctx context.Context) error {
	for _, l := range w.legs {
		if err := w.flush(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) answer(err error) {
	for _, r := range w.pending {
		r.done <- err
	}
	w.pending = w.pending[:0]
}

// flush writes a leg's buffer as one object and settles its messages for that leg.
func (w *worker) flush(ctx context.Context, l *leg) error {
	if l.buf.empty() {
		return nil
	}
	key, err := w.key(l, l.buf.oldest)
	if err != nil {
		return fmt.Errorf("build object key: %w", err)
	}
	next := w.st
	next.Intent = &journal.Intent{FromSeq: l.buf.from, ToSeq: l.buf.to, Key: key, Data: []byte(l.Name)}
	if w.st, err = w.state.SaveState(ctx, w.spec.Stream, next); err != nil {
		return fmt.Errorf("save flush intent: %w", err)
	}
	if err := w.write(ctx, l, key); err != nil {
		return err
	}
	return w.settle(ctx, l, l.buf.to)
}

// redo rewrites the object of an intent left by a crash, under the same key.
func (w *worker) redo(ctx context.Context, l *leg, in *journal.Intent) error {
	rd, err := w.log.ReadRange(ctx, w.spec.Stream, in.FromSeq, in.ToSeq)
	if err != nil {
		return fmt.Errorf("re-read intent range %d-%d: %w", in.FromSeq, in.ToSeq, err)
	}
	defer rd.Close()
	l.buf.reset()
	for {
		b, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, journal.ErrCorrupt) {
			continue
		}
		if err != nil {
			return fmt.Errorf("re-read intent range %d-%d: %w", in.FromSeq, in.ToSeq, err)
		}
		if b.Seq > l.settled {
			l.add(b)
		}
	}
	w.logger.Info("rewriting object of interrupted flush", "stream", w.spec.Stream, "leg", l.Name, "key", in.Key, "from", in.FromSeq, "to", in.ToSeq)
	if err := w.write(ctx, l, in.Key); err != nil {
		return err
	}
	return w.settle(ctx, l, in.ToSeq)
}

// settle records that the leg has every message up to seq in objects, advances the cursor to
// the lowest progress of all legs, trims the journal below it, and empties the leg's buffer.
func (w *worker) settle(ctx context.Context, l *leg, seq uint64) error {
	l.settled = max(l.settled, seq)
	p := progress{Settled: map[string]uint64{}}
	low := l.settled
	for _, o := range w.legs {
		p.Settled[o.Name] = o.settled
		low = min(low, o.settled)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	next := w.st
	next.Cursor, next.Intent, next.Data = low+1, nil, data
	if w.st, err = w.state.SaveState(ctx, w.spec.Stream, next); err != nil {
		return fmt.Errorf("save delivery progress: %w", err)
	}
	if err := w.state.Trim(ctx, w.spec.Stream, w.st.Cursor); err != nil {
		w.logger.Warn("trim journal", "stream", w.spec.Stream, "err", err)
	}
	w.status.delivered(l, len(l.buf.data), l.buf.records)
	l.buf.reset()
	l.deadline = time.Time{}
	return nil
}

// write encodes the leg's buffer and stores it, retrying with back-off until it succeeds or
// ctx ends. Failures are logged with the stream, bucket, key and error code.
func (w *worker) write(ctx context.Context, l *leg, key string) error {
	w.enc.Reset()
	if l.zw == nil {
		zw, err := compress.NewEncoder(l.Compression, w.zcfg)
		if err != nil {
			return err
		}
		l.zw = zw
	}
	l.zw.Reset(&w.enc)
	if _, err := l.zw.Write(l.buf.data); err != nil {
		return fmt.Errorf("compress object: %w", err)
	}
	if err := l.zw.Close(); err != nil {
		return fmt.Errorf("compress object: %w", err)
	}
	obj := destination.Object{
		Bucket:          l.Bucket,
		Key:             key,
		Body:            w.enc.Bytes(),
		ContentType:     "application/octet-stream",
		ContentEncoding: l.Compression.ContentEncoding(),
		KMSKeyARN:       l.KMSKeyARN,
	}
	for attempt := 1; ; attempt++ {
		err := w.out.PutObject(ctx, obj)
		if err == nil {
			w.logger.Debug("delivered object", "stream", w.spec.Stream, "leg", l.Name, "bucket", obj.Bucket, "key", key, "records", l.buf.records, "bytes", len(l.buf.data))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		code := ErrorCode(err)
		w.status.failed(l, code, err, w.now())
		d := w.backoff.Delay(attempt, w.rnd)
		w.logger.Warn("deliver object failed; retrying", "stream", w.spec.Stream, "leg", l.Name, "bucket", obj.Bucket, "key", key, "code", code, "attempt", attempt, "retry_in", d, "err", err)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrorCode returns the AWS error code carried by err ("NoSuchBucket", "AccessDenied", …), or a
// generic code for errors without one.
func ErrorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	if errors.Is(err, destination.ErrInvalidObject) {
		return "InvalidObject"
	}
	return "InternalError"
}

// key returns the object key for a buffer whose oldest record arrived at t:
// <prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>.
func (w *worker) key(l *leg, t time.Time) (string, error) {
	p, err := l.Prefix.Eval(prefix.Values{Time: t, Location: l.Location})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-%d-%s-%s%s", p, w.spec.Stream, w.spec.Version, prefix.ObjectTime(t, l.Location), uuid.NewString(), l.Extension), nil
}
