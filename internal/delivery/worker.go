// Package delivery runs one worker per delivery stream. A worker reads the stream's journal
// from its cursor and feeds each of its legs (the destination, and the S3 backup when enabled).
// A leg processes the records (when the stream has processors), routes them to one buffer per
// partition (one buffer without dynamic partitioning) and failed records to the error output,
// and writes each buffer as one object under the Firehose key when its size or interval hint is
// reached. The journal cursor passes a message only once every leg has every record of it in an
// object. A leg without processing or partitioning saves the key and journal range of each
// object as an intent before writing it, so after a crash the same object is rewritten under the
// same key instead of being duplicated.
package delivery

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
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

// Processor transforms the records of one journal message; records that fail are returned
// for the error output.
type Processor interface {
	Process(ctx context.Context, in []processor.Record) (out []processor.Record, failed []processor.Failure, err error)
}

// Leg names.
const (
	LegDestination = "destination"
	LegBackup      = "backup"
)

// codePartitionLimit is the error code of records refused by the active-partition limit
// (error output type processing-failed).
const codePartitionLimit = "DynamicPartitioning.ActivePartitionsLimitExceeded"

// Spec is what a worker needs to know of its stream's delivery.
type Spec struct {
	Stream  string
	Version int
	// Legs are the S3 destination and, with S3BackupMode Enabled, the backup of the source
	// records. Each has its own buffers, hints and progress.
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
	// Processor transforms records before they are buffered; nil delivers them as read.
	Processor Processor
	// ErrorPrefix is where records that fail processing or partitioning go.
	ErrorPrefix *prefix.Expr
	// HasLambda says whether Processor invokes a Lambda (for the ExecuteProcessing metrics).
	HasLambda bool
	// Dynamic partitioning: one buffer per distinct evaluated Prefix, at most MaxPartitions
	// at a time; records beyond go to the error output.
	Dynamic       bool
	MaxPartitions int
	// MaxBufferedBytes bounds the bytes a leg holds in its open buffers; beyond it the largest
	// buffer is written early (hints are hints), so that many partitions cannot exhaust
	// memory. Zero means no bound.
	MaxBufferedBytes int
}

// simple reports whether the leg's objects are whole journal messages, so that an interrupted
// flush can be rebuilt exactly from its journal range.
func (s LegSpec) simple() bool { return s.Processor == nil && !s.Dynamic }

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
	metrics Recorder

	flushes chan flushReq
	drain   chan struct{} // closed to ask for a final flush and exit

	st      journal.State // the stored state; st.Cursor: every message below it is settled by every leg
	legs    []*leg
	lastSeq uint64 // the last message read
	pending []flushReq
	timer   *time.Timer
	enc     bytes.Buffer // the object being written; owned by the job in flight
	job     *job
}

// leg is the running state of one LegSpec.
type leg struct {
	LegSpec
	settled  uint64           // every message up to and including settled is in this leg's objects
	parts    map[string]*part // open buffers by partition
	waiting  map[uint64]int   // records of a message above settled not yet in an object
	taken    []uint64         // messages above settled, in order
	zw       *compress.Encoder
	exceeded bool     // the active-partition limit refused records since the last report
	lambda   bool     // the leg's processors include a Lambda
	spare    [][]byte // emptied buffers of written parts, reused so buffers do not regrow
	flying   *part    // the buffer being written, if it is this leg's
}

// maxSpares bounds the emptied buffers a leg keeps for reuse.
const maxSpares = 4

// part is one buffer of a leg: the leg's only one, one partition's, or the error output's.
type part struct {
	id       string
	errorOut bool
	values   prefix.Values // partition keys of the partition
	buf      buffer
	runs     []run // how many records of which message the buffer holds, in order
	deadline time.Time
}

type run struct {
	seq uint64
	n   int
}

type buffer struct {
	data    []byte
	records int
	oldest  time.Time // arrival time of the oldest record: the object's timestamp
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
	defer w.abandon()
	rctx, stop := context.WithCancel(ctx)
	batches := make(chan journal.Batch, 2)
	readErr := make(chan error, 1)
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		w.pump(rctx, rd, batches, readErr)
	}()
	defer func() { // the reader is not safe for concurrent use: close it after the pump stopped
		stop()
		<-pumped
		rd.Close()
	}()

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
		case err := <-w.jobDone():
			if err := w.complete(ctx, err); err != nil {
				return err
			}
		case <-w.timer.C:
			now := w.now()
			for _, l := range w.legs {
				for _, p := range l.sortedParts() {
					if !now.Before(p.deadline) {
						if err := w.flush(ctx, l, p); err != nil {
							return err
						}
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
		l := &leg{LegSpec: ls, settled: w.st.Cursor - 1, lambda: ls.HasLambda}
		if s, ok := p.Settled[ls.Name]; ok && s > l.settled {
			l.settled = s
		}
		l.reset()
		w.legs = append(w.legs, l)
	}
	w.lastSeq = w.st.Cursor - 1
	w.status.setLegs(w.legs)
	if in := st.Intent; in != nil {
		for _, l := range w.legs {
			if string(in.Data) == l.Name && in.ToSeq > l.settled && l.simple() {
				if err := w.redo(ctx, l, in); err != nil {
					return err
				}
			}
		}
	}
	for _, l := range w.legs {
		l.reset()
	}
	return nil
}

func (l *leg) reset() {
	l.parts = map[string]*part{}
	l.waiting = map[uint64]int{}
	l.taken = l.taken[:0]
}

// pump reads batches into ch until ctx ends; a read error goes to errs.
func (w *worker) pump(ctx context.Context, rd *journal.Reader, ch chan<- journal.Batch, errs chan<- error) {
	defer close(ch)
	for {
		b, err := rd.Next(ctx)
		if errors.Is(err, journal.ErrCorrupt) {
			// Settled as an empty message, so delivery goes on; it is counted in the log.
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

// take hands a message to every leg that has not settled it, and flushes buffers that are
// full or, with zero buffering, caught up.
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
		touched, err := w.route(ctx, l, b)
		if err != nil {
			return err
		}
		if len(touched) == 0 { // every record dropped by processing: settled as it is
			if err := w.advance(ctx, l); err != nil {
				return err
			}
		}
		if err := w.bound(ctx, l); err != nil {
			return err
		}
		w.status.buffered(l)
		for _, p := range touched {
			if l.parts[p.id] != p {
				continue // written early by bound
			}
			full := len(p.buf.data) >= l.SizeBytes
			zeroCaughtUp := l.Interval == 0 && b.Pending == 0
			if full || zeroCaughtUp {
				if err := w.flush(ctx, l, p); err != nil {
					return err
				}
			}
		}
		if l.Interval == 0 && b.Pending == 0 {
			for _, p := range l.sortedParts() {
				if err := w.flush(ctx, l, p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bound writes the largest open buffers of a leg early while the leg holds more than its
// MaxBufferedBytes.
func (w *worker) bound(ctx context.Context, l *leg) error {
	if l.MaxBufferedBytes <= 0 {
		return nil
	}
	total := 0
	for _, p := range l.parts {
		total += len(p.buf.data)
	}
	for total > l.MaxBufferedBytes && len(l.parts) > 0 {
		var largest *part
		for _, p := range l.parts {
			if largest == nil || len(p.buf.data) > len(largest.buf.data) {
				largest = p
			}
		}
		total -= len(largest.buf.data)
		if err := w.flush(ctx, l, largest); err != nil {
			return err
		}
	}
	return nil
}

// route processes a message's records for a leg and appends them to their buffers; it returns
// the buffers that received records.
func (w *worker) route(ctx context.Context, l *leg, b journal.Batch) ([]*part, error) {
	var touched []*part
	add := func(p *part, data []byte, arrival time.Time) {
		if p.buf.records == 0 && len(p.runs) == 0 {
			p.buf.oldest = arrival
			p.deadline = w.now().Add(l.Interval)
		} else if arrival.Before(p.buf.oldest) {
			p.buf.oldest = arrival
		}
		p.buf.data = append(p.buf.data, data...)
		p.buf.records++
		if n := len(p.runs); n > 0 && p.runs[n-1].seq == b.Seq {
			p.runs[n-1].n++
		} else {
			p.runs = append(p.runs, run{seq: b.Seq, n: 1})
			touched = append(touched, p)
		}
		l.waiting[b.Seq]++
	}
	if l.simple() {
		p := l.part("", false, prefix.Values{})
		for _, r := range b.Records {
			add(p, r, b.Arrival)
		}
		if len(b.Records) == 0 { // an empty put still occupies its place in the object's range
			if len(p.runs) == 0 {
				p.buf.oldest = b.Arrival
				p.deadline = w.now().Add(l.Interval)
			}
			p.runs = append(p.runs, run{seq: b.Seq})
			touched = append(touched, p)
		}
		l.taken = append(l.taken, b.Seq)
		return touched, nil
	}
	in := make([]processor.Record, len(b.Records))
	for i, r := range b.Records {
		in[i] = processor.Record{Data: r, Arrival: b.Arrival, ID: b.RecordID(i)}
	}
	out, failed := in, []processor.Failure(nil)
	if l.Processor != nil {
		start := time.Now()
		var err error
		if out, failed, err = l.Processor.Process(ctx, in); err != nil {
			return nil, fmt.Errorf("process records: %w", err)
		}
		w.recordProcessing(l, time.Since(start), out, failed)
	}
	// raw returns the source record of an output record, for the error output: processors keep
	// the journal record id as the prefix of a sub-record's id ("<id>.<n>").
	raw := func(r processor.Record) processor.Record {
		id, _, _ := strings.Cut(r.ID, ".")
		for i := range in {
			if in[i].ID == id {
				orig := r
				orig.Data = in[i].Data
				return orig
			}
		}
		return r
	}
	for _, r := range out {
		if !l.Dynamic {
			add(l.part("", false, prefix.Values{}), r.Data, r.Arrival)
			continue
		}
		v := prefix.Values{Time: r.Arrival, Location: l.Location, Query: r.Query, Lambda: r.Lambda, Rand: zeroRand}
		id, err := l.Prefix.Eval(v)
		if err == nil {
			// A key no destination can hold would block the stream: the record fails instead.
			err = destination.CheckKey(id + "x")
		}
		if err != nil {
			failed = append(failed, processor.Failure{Raw: raw(r), Code: processor.CodeMetadataExtractionFailed, Message: err.Error(), Attempts: 1, At: w.now()})
			continue
		}
		if _, open := l.parts[id]; !open && l.partitions() >= l.MaxPartitions {
			l.exceeded = true
			failed = append(failed, processor.Failure{Raw: raw(r), Code: codePartitionLimit,
				Message: fmt.Sprintf("The number of active partitions exceeds the limit of %d.", l.MaxPartitions), Attempts: 1, At: w.now()})
			continue
		}
		add(l.part(id, false, prefix.Values{Query: r.Query, Lambda: r.Lambda}), r.Data, r.Arrival)
	}
	for _, f := range failed {
		w.logger.Warn("record failed processing; sent to the error output", "stream", w.spec.Stream, "leg", l.Name, "code", f.Code, "message", f.Message)
		kind := "processing"
		if strings.HasPrefix(f.Code, "DynamicPartitioning.") {
			kind = "partitioning"
		}
		w.status.recordFailure(l, kind, f.Code, f.Message, f.At)
		typ := f.OutputType
		if typ == "" {
			typ = processor.OutputProcessingFailed
		}
		add(l.part("error:"+typ, true, prefix.Values{ErrorOutputType: typ}), processor.ErrorDocument(f), f.Raw.Arrival)
	}
	l.taken = append(l.taken, b.Seq)
	return touched, nil
}

// recordProcessing records the processing metrics of one message: ExecuteProcessing.* for a
// pipeline with a Lambda, JQProcessing.Duration for dynamic partitioning by JQ alone, and
// SucceedProcessing.* for what came out.
func (w *worker) recordProcessing(l *leg, took time.Duration, out []processor.Record, failed []processor.Failure) {
	ms := float64(took.Microseconds()) / 1000
	if l.lambda {
		ok := 1.0
		for _, f := range failed {
			if f.LambdaARN != "" {
				ok = 0
			}
		}
		w.metrics.Record(w.spec.Stream, "ExecuteProcessing.Duration", metrics.UnitMilliseconds, ms)
		w.metrics.Record(w.spec.Stream, "ExecuteProcessing.Success", metrics.UnitCount, ok)
	} else if l.Dynamic {
		w.metrics.Record(w.spec.Stream, "JQProcessing.Duration", metrics.UnitMilliseconds, ms)
	}
	n := 0
	for _, r := range out {
		n += len(r.Data)
	}
	w.metrics.Record(w.spec.Stream, "SucceedProcessing.Records", metrics.UnitCount, float64(len(out)))
	w.metrics.Record(w.spec.Stream, "SucceedProcessing.Bytes", metrics.UnitBytes, float64(n))
}

// dynamic reports whether the stream is dynamically partitioned.
func (w *worker) dynamic() bool {
	for _, l := range w.spec.Legs {
		if l.Dynamic {
			return true
		}
	}
	return false
}

// zeroRand stands in for random-string when a prefix is evaluated to identify a partition.
func zeroRand() uint64 { return 0 }

func (l *leg) part(id string, errorOut bool, v prefix.Values) *part {
	p, ok := l.parts[id]
	if !ok {
		p = &part{id: id, errorOut: errorOut, values: v}
		if n := len(l.spare); n > 0 {
			p.buf.data, l.spare = l.spare[n-1], l.spare[:n-1]
		}
		l.parts[id] = p
	}
	return p
}

// partitions counts the open partition buffers, not the error output.
func (l *leg) partitions() int {
	n := 0
	for _, p := range l.parts {
		if !p.errorOut {
			n++
		}
	}
	return n
}

// sortedParts returns the open buffers oldest first, so that flushes are deterministic.
func (l *leg) sortedParts() []*part {
	ps := make([]*part, 0, len(l.parts))
	for _, p := range l.parts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *part) int { return cmp.Compare(a.runs[0].seq, b.runs[0].seq) })
	return ps
}

// arm sets the timer to the earliest interval deadline of an open buffer.
func (w *worker) arm() {
	var next time.Time
	for _, l := range w.legs {
		if l.Interval == 0 {
			continue
		}
		for _, p := range l.parts {
			if next.IsZero() || p.deadline.Before(next) {
				next = p.deadline
			}
		}
	}
	w.timer.Stop()
	if !next.IsZero() {
		w.timer.Reset(max(next.Sub(w.now()), 0))
	}
}

// maybeFlushForRequests flushes every buffer once every message a pending flush request waits
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
		for _, p := range l.sortedParts() {
			if err := w.flush(ctx, l, p); err != nil {
				return err
			}
		}
	}
	return w.wait(ctx)
}

func (w *worker) answer(err error) {
	for _, r := range w.pending {
		r.done <- err
	}
	w.pending = w.pending[:0]
}

// flush starts writing a buffer as one object; its records are settled when the write
// completes (see job). At most one write is in flight per worker: flush first waits for the
// previous one, so reading and buffering overlap with compressing and uploading, and intents
// stay one at a time.
func (w *worker) flush(ctx context.Context, l *leg, p *part) error {
	if err := w.wait(ctx); err != nil {
		return err
	}
	key, err := w.key(l, p)
	if err != nil {
		return fmt.Errorf("build object key: %w", err)
	}
	if l.simple() {
		next := w.st
		next.Intent = &journal.Intent{FromSeq: p.runs[0].seq, ToSeq: p.runs[len(p.runs)-1].seq, Key: key, Data: []byte(l.Name)}
		if w.st, err = w.state.SaveState(ctx, w.spec.Stream, next); err != nil {
			return fmt.Errorf("save flush intent: %w", err)
		}
	}
	delete(l.parts, p.id) // records arriving from now on start a new buffer
	l.flying = p
	j := &job{l: l, p: p, key: key, done: make(chan error, 1)}
	w.job = j
	if p.buf.records == 0 && !l.simple() {
		j.done <- nil // nothing to write: the buffer held only dropped records' places
		return nil
	}
	j.write = true
	jctx, cancel := context.WithCancel(ctx)
	j.cancel = cancel
	go func() { j.done <- w.write(jctx, l, key, p.buf) }()
	return nil
}

// abandon stops the write in flight without settling it, when the worker stops: its records
// stay unsettled and are delivered again (a simple leg's intent rewrites the same key).
func (w *worker) abandon() {
	if w.job == nil {
		return
	}
	if w.job.cancel != nil {
		w.job.cancel()
	}
	<-w.job.done
	w.job.l.flying, w.job = nil, nil
}

// job is the one object write in flight.
type job struct {
	l      *leg
	p      *part
	key    string
	write  bool
	done   chan error
	cancel context.CancelFunc
}

// jobDone is the channel on which the write in flight reports, or nil.
func (w *worker) jobDone() <-chan error {
	if w.job == nil {
		return nil
	}
	return w.job.done
}

// wait blocks until the write in flight (if any) has completed and settles its records.
func (w *worker) wait(ctx context.Context) error {
	if w.job == nil {
		return nil
	}
	return w.complete(ctx, <-w.job.done)
}

// complete settles the records of the finished write.
func (w *worker) complete(ctx context.Context, err error) error {
	j := w.job
	w.job = nil
	j.l.flying = nil
	if j.cancel != nil {
		j.cancel()
	}
	if err != nil {
		return err
	}
	stored := 0
	if j.write {
		stored = w.enc.Len()
	}
	w.settle(j.l, j.p, j.key, stored)
	return w.advance(ctx, j.l)
}

// settle removes a written buffer from the leg and counts its records as delivered.
func (w *worker) settle(l *leg, p *part, key string, stored int) {
	if l.parts[p.id] == p {
		delete(l.parts, p.id)
	}
	if len(l.spare) < maxSpares {
		l.spare = append(l.spare, p.buf.data[:0])
	}
	for _, r := range p.runs {
		l.waiting[r.seq] -= r.n
	}
	w.status.delivered(l, p, key, stored)
	w.status.buffered(l)
	if !p.errorOut && p.buf.records > 0 {
		name := l.metricPrefix()
		w.metrics.Record(w.spec.Stream, name+".Bytes", metrics.UnitBytes, float64(len(p.buf.data)))
		w.metrics.Record(w.spec.Stream, name+".Records", metrics.UnitCount, float64(p.buf.records))
		if name == "DeliveryToS3" {
			w.metrics.Record(w.spec.Stream, name+".ObjectCount", metrics.UnitCount, 1)
		}
	}
}

// metricPrefix names the leg's metrics: DeliveryToS3 or BackupToS3.
func (l *leg) metricPrefix() string {
	if l.Name == LegBackup {
		return "BackupToS3"
	}
	return "DeliveryToS3"
}

// redo rewrites the object of an intent left by a crash, under the same key.
func (w *worker) redo(ctx context.Context, l *leg, in *journal.Intent) error {
	rd, err := w.log.ReadRange(ctx, w.spec.Stream, in.FromSeq, in.ToSeq)
	if err != nil {
		return fmt.Errorf("re-read intent range %d-%d: %w", in.FromSeq, in.ToSeq, err)
	}
	defer rd.Close()
	l.reset()
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
			if _, err := w.route(ctx, l, b); err != nil {
				return err
			}
		}
	}
	p, ok := l.parts[""]
	if !ok {
		return w.advance(ctx, l)
	}
	w.logger.Info("rewriting object of interrupted flush", "stream", w.spec.Stream, "leg", l.Name, "key", in.Key, "from", in.FromSeq, "to", in.ToSeq)
	if err := w.write(ctx, l, in.Key, p.buf); err != nil {
		return err
	}
	w.settle(l, p, in.Key, w.enc.Len())
	return w.advance(ctx, l)
}

// advance moves the leg's progress past every message whose records are all in objects, then
// the cursor to the lowest progress of all legs, saves both, and trims the journal below it.
func (w *worker) advance(ctx context.Context, l *leg) error {
	moved := false
	for len(l.taken) > 0 && l.waiting[l.taken[0]] <= 0 {
		delete(l.waiting, l.taken[0])
		l.settled = l.taken[0]
		l.taken = l.taken[1:]
		moved = true
	}
	if !moved && w.st.Intent == nil {
		return nil
	}
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
	return nil
}

// write encodes a buffer and stores it, retrying with back-off until it succeeds or ctx ends.
// Failures are logged with the stream, bucket, key and error code.
func (w *worker) write(ctx context.Context, l *leg, key string, buf buffer) error {
	w.enc.Reset()
	if l.zw == nil {
		zw, err := compress.NewEncoder(l.Compression, w.zcfg)
		if err != nil {
			return err
		}
		l.zw = zw
	}
	l.zw.Reset(&w.enc)
	if _, err := l.zw.Write(buf.data); err != nil {
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
		if ctx.Err() == nil {
			ok := 0.0
			if err == nil {
				ok = 1
			}
			w.metrics.Record(w.spec.Stream, l.metricPrefix()+".Success", metrics.UnitCount, ok)
		}
		if err == nil {
			w.logger.Debug("delivered object", "stream", w.spec.Stream, "leg", l.Name, "bucket", obj.Bucket, "key", key, "records", buf.records, "bytes", len(buf.data))
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

// key returns the object key of a buffer:
// <prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>, with the prefix and time
// evaluated at the arrival of the buffer's oldest record.
func (w *worker) key(l *leg, p *part) (string, error) {
	expr := l.Prefix
	if p.errorOut {
		expr = l.ErrorPrefix
	}
	t := p.buf.oldest
	if t.IsZero() {
		t = w.now()
	}
	v := p.values
	v.Time, v.Location = t, l.Location
	pfx, err := expr.Eval(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-%d-%s-%s%s", pfx, w.spec.Stream, w.spec.Version, prefix.ObjectTime(t, l.Location), uuid.NewString(), l.Extension), nil
}
