// Package kinesis reads a Kinesis data stream into a delivery stream's journal, as Firehose does
// for a KinesisStreamAsSource stream: every shard, parents before children, about once a second,
// KPL aggregates de-aggregated, each record with its ApproximateArrivalTimestamp, and the shards'
// sequence numbers stored with the records (docs/design/sources.md).
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/processor"
	"github.com/hydrant-dev/hydrant/internal/source"
)

// API is what the reader calls on Kinesis (a *kinesis.Client).
type API interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Metric names, as Firehose publishes them for a Kinesis source.
const (
	MetricReadRecords       = "DataReadFromKinesisStream.Records"
	MetricReadBytes         = "DataReadFromKinesisStream.Bytes"
	MetricMillisBehind      = "KinesisMillisBehindLatest"
	MetricThrottledRecords  = "ThrottledGetRecords"
	MetricThrottledIterator = "ThrottledGetShardIterator"
	MetricThrottledDescribe = "ThrottledDescribeStream"
)

// Defaults of Config.
const (
	DefaultPollEvery = time.Second
	DefaultListEvery = 10 * time.Second
	// DefaultLimit is GetRecords's largest Limit.
	DefaultLimit = 10000
	// minPollGap keeps a shard's calls within its 5 reads a second when it is behind.
	minPollGap = 200 * time.Millisecond
	// Backoff after throttling or an error: from minBackoff doubling to maxBackoff, jittered.
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// callTimeout bounds one Kinesis call; atTimestampTimeout a GetShardIterator at the start
	// timestamp, which some servers (kinesalite) never answer when the shard holds no record
	// after it.
	callTimeout        = 30 * time.Second
	atTimestampTimeout = 5 * time.Second
)

// Config configures a Reader.
type Config struct {
	// Stream is the delivery stream's name.
	Stream string
	// StreamARN is the Kinesis stream's ARN (KinesisStreamSourceConfiguration.KinesisStreamARN).
	StreamARN string
	// Start is the DeliveryStartTimestamp: a shard without a saved position is read from
	// records that arrived at or after it.
	Start time.Time
	// PollEvery is the time between two GetRecords of a shard that is caught up; ListEvery
	// between two ListShards. Limit is GetRecords's Limit.
	PollEvery, ListEvery time.Duration
	Limit                int32
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c Config) withDefaults() Config {
	if c.PollEvery <= 0 {
		c.PollEvery = DefaultPollEvery
	}
	if c.ListEvery <= 0 {
		c.ListEvery = DefaultListEvery
	}
	if c.Limit <= 0 {
		c.Limit = DefaultLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error { return source.Sleep(ctx, d) }

// StreamName returns the stream name of a Kinesis stream ARN (arn:aws:kinesis:region:account:stream/name).
func StreamName(arn string) (string, error) {
	_, name, ok := strings.Cut(arn, ":stream/")
	if !ok || name == "" || !strings.HasPrefix(arn, "arn:") {
		return "", fmt.Errorf("not a Kinesis stream ARN: %q", arn)
	}
	return name, nil
}

// shard is what the reader knows of one shard.
type shard struct {
	id       string
	parents  []string
	iterator *string
	due      time.Time // next GetRecords
	failures int       // consecutive throttles or errors, for the backoff
	lag      int64     // MillisBehindLatest of the last GetRecords
	// fromStart: the iterator does not come from a stored sequence number, so records that
	// arrived before Config.Start are skipped (the iterator may be TRIM_HORIZON).
	fromStart bool
}

// Reader reads one Kinesis stream into one delivery stream. Run it in one goroutine.
type Reader struct {
	cfg    Config
	api    API
	w      *source.Writer
	rec    source.Recorder
	log    *slog.Logger
	name   string // the Kinesis stream's name
	status *source.Tracker

	committed source.Position // stored in the journal
	pending   source.Position // committed plus what the records gathered since hold
	shards    map[string]*shard
	listed    time.Time // last successful ListShards
	listDue   time.Time
	listFails int
	batch     []source.Record
	batchSize int
	// Counts of the records gathered in batch, for the metrics once stored.
	batchReads, batchBytes int
}

// New returns a Reader of cfg.StreamARN into cfg.Stream.
func New(cfg Config, api API, w *source.Writer, rec source.Recorder, log *slog.Logger) (*Reader, error) {
	name, err := StreamName(cfg.StreamARN)
	if err != nil {
		return nil, err
	}
	return &Reader{
		cfg: cfg.withDefaults(), api: api, w: w, rec: rec, log: log, name: name,
		status: source.NewTracker("Kinesis", cfg.StreamARN),
	}, nil
}

// Status returns what the reader shows of itself.
func (r *Reader) Status() source.Status { return r.status.Snapshot() }

// Run reads until ctx ends, then returns nil. Errors of Kinesis and of the journal are retried
// with backoff; they show in Status and the log.
func (r *Reader) Run(ctx context.Context) error {
	defer r.status.Update(func(s *source.Status) { s.State = "stopped" })
	for ctx.Err() == nil {
		if err := r.load(ctx); err != nil {
			r.failed(ctx, "load position", err)
			if r.cfg.Sleep(ctx, maxBackoff/6) != nil {
				break
			}
			continue
		}
		err := r.read(ctx)
		if ctx.Err() != nil {
			break
		}
		// A failed append may have stored the message: resume from what the journal holds.
		r.failed(ctx, "append", err)
		if r.cfg.Sleep(ctx, minBackoff) != nil {
			break
		}
	}
	return nil
}

func (r *Reader) failed(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.log.Warn("kinesis source: "+what+" failed; retrying", "stream", r.cfg.Stream, "kinesis_stream", r.name, "err", err)
	r.status.Failed(fmt.Errorf("%s: %w", what, err), r.cfg.Now())
}

// load reads the position to resume from and forgets every iterator.
func (r *Reader) load(ctx context.Context) error {
	p, err := r.w.Load(ctx, r.cfg.StreamARN)
	if err != nil {
		return err
	}
	r.committed, r.pending = p, p.Clone()
	r.shards = make(map[string]*shard)
	r.listDue = time.Time{}
	r.resetBatch()
	return nil
}

func (r *Reader) resetBatch() {
	clear(r.batch)
	r.batch, r.batchSize, r.batchReads, r.batchBytes = r.batch[:0], 0, 0, 0
}

// read polls the shards until ctx ends or an append fails.
func (r *Reader) read(ctx context.Context) error {
	for ctx.Err() == nil {
		now := r.cfg.Now()
		if !now.Before(r.listDue) {
			r.list(ctx)
		}
		next := r.listDue
		for _, id := range r.readable() {
			s := r.shards[id]
			if now.Before(s.due) {
				next = earliest(next, s.due)
				continue
			}
			if err := r.poll(ctx, s); err != nil {
				return err
			}
			next = earliest(next, s.due)
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		r.report()
		if d := next.Sub(r.cfg.Now()); d > 0 {
			if r.cfg.Sleep(ctx, d) != nil {
				return ctx.Err()
			}
		}
	}
	return ctx.Err()
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// list refreshes the shards from ListShards. Entries of shards that are no longer listed
// (expired past the stream's retention) are dropped from the position.
func (r *Reader) list(ctx context.Context) {
	var listed []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(r.name)}
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := r.api.ListShards(cctx, in)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isThrottle(err) {
				r.rec.Record(r.cfg.Stream, MetricThrottledDescribe, metrics.UnitCount, 1)
				r.status.Update(func(s *source.Status) { s.Throttled++ })
			} else {
				r.failed(ctx, "list shards", err)
			}
			r.listFails++
			r.listDue = r.cfg.Now().Add(backoff(r.listFails))
			return
		}
		listed = append(listed, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	r.listFails = 0
	r.listed = r.cfg.Now()
	r.listDue = r.listed.Add(r.cfg.ListEvery)
	seen := make(map[string]bool, len(listed))
	for _, sh := range listed {
		id := aws.ToString(sh.ShardId)
		seen[id] = true
		if _, ok := r.shards[id]; ok {
			continue
		}
		var parents []string
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if p != nil && *p != "" {
				parents = append(parents, *p)
			}
		}
		r.shards[id] = &shard{id: id, parents: parents}
	}
	for id := range r.shards {
		if !seen[id] {
			delete(r.shards, id)
		}
	}
	for id := range r.pending.Entries {
		if !seen[id] {
			delete(r.pending.Entries, id)
		}
	}
	if r.status.Snapshot().State == "starting" {
		r.status.Update(func(s *source.Status) { s.State = "reading" })
	}
}

// readable returns the shards to poll, in ID order: not read to their end, and every parent
// still listed read to its end (a parent no longer listed expired and has nothing left).
func (r *Reader) readable() []string {
	var ids []string
	for id, s := range r.shards {
		if r.done(id) {
			continue
		}
		ready := true
		for _, p := range s.parents {
			if _, listed := r.shards[p]; listed && !r.done(p) {
				ready = false
			}
		}
		if ready {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (r *Reader) done(id string) bool { return r.pending.Entries[id].Done }

// poll calls GetRecords once on s and gathers its records, appending when the batch is full.
func (r *Reader) poll(ctx context.Context, s *shard) error {
	now := r.cfg.Now()
	if s.iterator == nil {
		it, err := r.iterator(ctx, s)
		if err != nil {
			r.shardFailed(ctx, s, err, MetricThrottledIterator, "get shard iterator")
			return nil
		}
		s.iterator = it
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	out, err := r.api.GetRecords(cctx, &kinesis.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(r.cfg.Limit)})
	cancel()
	if err != nil {
		var expired *types.ExpiredIteratorException
		if errors.As(err, &expired) {
			s.iterator = nil // renewed from the position at once
			return nil
		}
		r.shardFailed(ctx, s, err, MetricThrottledRecords, "get records")
		return nil
	}
	s.failures = 0
	s.lag = aws.ToInt64(out.MillisBehindLatest)
	for _, rec := range out.Records {
		subs, ok := processor.DeaggregateKPL(rec.Data)
		if !ok {
			subs = [][]byte{rec.Data}
		}
		size := 0
		for _, d := range subs {
			size += len(d)
		}
		if r.batchSize > 0 && r.batchSize+size > source.MaxAppendBytes {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
		arrival := aws.ToTime(rec.ApproximateArrivalTimestamp)
		if s.fromStart && arrival.Before(r.cfg.Start) {
			r.pending.Set(s.id, source.Entry{Value: aws.ToString(rec.SequenceNumber)})
			continue // arrived before the delivery stream's start
		}
		for _, d := range subs {
			r.batch = append(r.batch, source.Record{Data: d, Arrival: arrival})
		}
		r.batchSize += size
		r.batchReads++
		r.batchBytes += len(rec.Data)
		r.pending.Set(s.id, source.Entry{Value: aws.ToString(rec.SequenceNumber)})
	}
	s.iterator = out.NextShardIterator
	if s.iterator == nil {
		// Closed and read to its end: its children may be read once this is stored.
		e := r.pending.Entries[s.id]
		e.Done = true
		r.pending.Set(s.id, e)
		r.listDue = now // list again to find the children
		return nil
	}
	s.due = now.Add(r.cfg.PollEvery)
	if s.lag > 0 && len(out.Records) > 0 {
		s.due = now.Add(minPollGap)
	}
	return nil
}

// iterator returns a new iterator of s: after its last stored sequence number, or at the start
// timestamp when none was read from it.
func (r *Reader) iterator(ctx context.Context, s *shard) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(r.name), ShardId: aws.String(s.id)}
	seq := r.pending.Entries[s.id].Value
	s.fromStart = seq == ""
	timeout := callTimeout
	if seq != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(seq)
	} else {
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(r.cfg.Start)
		timeout = atTimestampTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	out, err := r.api.GetShardIterator(cctx, in)
	cancel()
	if err != nil && seq == "" && ctx.Err() == nil && !isThrottle(err) && !isNotFound(err) {
		// A server that cannot position at the timestamp (no answer, or a start it calls in
		// the future): read from the shard's oldest record and skip what came before Start.
		r.log.Debug("kinesis source: AT_TIMESTAMP failed; reading from TRIM_HORIZON", "shard", s.id, "err", err)
		in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeTrimHorizon, nil
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err = r.api.GetShardIterator(cctx, in)
		cancel()
	}
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

func isNotFound(err error) bool {
	var notFound *types.ResourceNotFoundException
	return errors.As(err, &notFound)
}

// shardFailed backs the shard off after a throttle (counted as metric) or an error.
func (r *Reader) shardFailed(ctx context.Context, s *shard, err error, metric, what string) {
	if ctx.Err() != nil {
		return
	}
	s.failures++
	s.due = r.cfg.Now().Add(backoff(s.failures))
	if isThrottle(err) {
		r.rec.Record(r.cfg.Stream, metric, metrics.UnitCount, 1)
		r.status.Update(func(st *source.Status) { st.Throttled++ })
		return
	}
	if isNotFound(err) {
		s.iterator = nil
		r.listDue = r.cfg.Now() // the shard or the stream is gone: list again
	}
	r.failed(ctx, what+" of "+s.id, err)
}

// flush stores the gathered records with the position after them.
func (r *Reader) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		// Shards finished or dropped without records are kept in memory and stored with the
		// next records; after a restart reading the closed shards' ends finds them again.
		return nil
	}
	if err := r.w.Append(ctx, r.batch, r.pending); err != nil {
		r.resetBatch()
		return err
	}
	r.rec.Record(r.cfg.Stream, MetricReadRecords, metrics.UnitCount, float64(r.batchReads))
	r.rec.Record(r.cfg.Stream, MetricReadBytes, metrics.UnitBytes, float64(r.batchBytes))
	reads, bytes := r.batchReads, r.batchBytes
	r.status.Update(func(s *source.Status) {
		s.Records += int64(reads)
		s.Bytes += int64(bytes)
		s.State, s.LastError, s.LastErrorAt = "reading", "", time.Time{}
	})
	r.committed = r.pending.Clone()
	r.resetBatch()
	return nil
}

// report publishes the lag and the shards' positions.
func (r *Reader) report() {
	var lag int64
	parts := make([]source.Part, 0, len(r.shards))
	for _, id := range slices.Sorted(maps.Keys(r.shards)) {
		s := r.shards[id]
		e := r.pending.Entries[id]
		if !e.Done {
			lag = max(lag, s.lag)
		}
		parts = append(parts, source.Part{ID: id, Position: e.Value, Done: e.Done, LagMillis: s.lag})
	}
	r.rec.Record(r.cfg.Stream, MetricMillisBehind, metrics.UnitMilliseconds, float64(lag))
	r.status.Update(func(s *source.Status) { s.LagMillis, s.Parts = lag, parts })
}

// isThrottle reports Kinesis's throttling answers.
func isThrottle(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException":
		return true
	}
	return false
}

// backoff returns the wait after n consecutive failures: minBackoff doubling to maxBackoff,
// with up to a quarter of jitter either way.
func backoff(n int) time.Duration {
	d := minBackoff << min(n-1, 5)
	d = min(d, maxBackoff)
	return d - d/4 + rand.N(d/2+1)
}
