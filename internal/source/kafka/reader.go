// Package kafka reads a Kafka topic (an MSK cluster's, as Firehose does for an MSKAsSource
// stream) into a delivery stream's journal: every partition, assigned by Hydrant itself, each
// record's value with its timestamp as the arrival, and the partitions' next offsets stored
// with the records, so that every record reaches the journal exactly once
// (docs/design/sources.md).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/source"
)

// Metric names. The first three are Firehose's for an MSK source; the others are Hydrant's.
const (
	MetricReadRecords = "DataReadFromSource.Records"
	MetricReadBytes   = "DataReadFromSource.Bytes"
	MetricOffsetLag   = "KafkaOffsetLag"
	// MetricTooLarge counts records over MaxRecordBytes, skipped (Firehose sends them to the
	// error bucket; Hydrant counts and logs them).
	MetricTooLarge      = "KafkaRecordsTooLarge"
	MetricTombstones    = "KafkaTombstonesSkipped"
	MetricReadErrors    = "KafkaReadErrors"
	MetricCommitErrors  = "KafkaOffsetCommitErrors"
	MetricDuplicateSkip = "KafkaRecordsBehindPosition"
)

const (
	// MaxRecordBytes is the largest record value read; larger ones are skipped.
	MaxRecordBytes = 10_000_000
	// maxBatchRecords bounds the records of one append, well within a journal frame's.
	maxBatchRecords = 1 << 15
	// Backoff after an error: from minBackoff doubling to maxBackoff, jittered.
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// lagEvery is the least time between two KafkaOffsetLag samples.
	lagEvery = 10 * time.Second
	// Bounds of what the client fetches and buffers: fetchMaxBytes per request, at most
	// maxConcurrentFetches requests in flight or buffered.
	fetchMaxBytes          = 16 << 20
	fetchMaxPartitionBytes = 2 << 20
	maxConcurrentFetches   = 4
	// commitTimeout bounds one offset commit.
	commitTimeout = 10 * time.Second
)

// Reader reads one Kafka topic into one delivery stream. Run it in one goroutine; Status may
// be called from any.
type Reader struct {
	cfg    Config
	w      *source.Writer
	rec    source.Recorder
	log    *slog.Logger
	source string
	group  string
	opts   []kgo.Opt
	status *source.Tracker
}

// New returns the Reader of cfg appending with w. It validates cfg and reads its files (the CA
// certificates and the SASL password file).
func New(cfg Config, w *source.Writer, rec source.Recorder, log *slog.Logger) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil || rec == nil || log == nil {
		return nil, fmt.Errorf("%w: writer, recorder and logger are required", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	src := cfg.ClusterARN + " " + cfg.Topic
	log = log.With("stream", cfg.Stream, "source", src)
	opts, err := cfg.Cluster.clientOpts(log)
	if err != nil {
		return nil, err
	}
	return &Reader{
		cfg: cfg, w: w, rec: rec, log: log, source: src, group: "hydrant-" + cfg.Stream,
		opts: opts, status: source.NewTracker("MSK", src),
	}, nil
}

// Status returns what the reader shows of itself.
func (r *Reader) Status() source.Status { return r.status.Snapshot() }

// Run reads until ctx ends, then returns nil once everything it started has stopped. Errors
// (of Kafka, of the journal) are logged, counted and retried with a backoff from 1 s doubling
// to 30 s; each retry resumes from the position in the journal.
func (r *Reader) Run(ctx context.Context) error {
	defer r.status.Update(func(s *source.Status) { s.State = "stopped" })
	fails := 0
	for {
		s := &session{r: r}
		err := s.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if s.appended {
			fails = 0
		}
		fails++
		r.rec.Record(r.cfg.Stream, MetricReadErrors, metrics.UnitCount, 1)
		r.status.Failed(err, r.cfg.Now())
		d := backoff(fails)
		r.log.Warn("kafka source failed; retrying", "err", err, "retry_in", d)
		if r.cfg.Sleep(ctx, d) != nil {
			return nil
		}
	}
}

// backoff returns the wait after the n-th consecutive failure: 1 s doubling to 30 s, each
// between half and all of that.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 6 {
		d = min(minBackoff<<(n-1), maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// session reads from one position loaded from the journal with one pair of clients. Any error
// ends it: what was appended is unknown, and the next session starts from the journal again.
type session struct {
	r        *Reader
	adm      *kadm.Client
	admCl    *kgo.Client
	cl       *kgo.Client
	next     map[int32]int64 // the vector: each partition's next offset
	base     map[int32]int64 // the vector stored last
	hwm      map[int32]int64 // high watermarks last seen
	dirty    bool            // next moved past records not appended yet (skipped ones)
	appended bool            // an append succeeded
	batch    []source.Record
	offsets  []recordAt // where each record of batch was read
	lagAt    time.Time
	commits  chan kadm.Offsets // the latest vector to commit, if not taken yet
}

func (s *session) run(ctx context.Context) error {
	r := s.r
	r.status.Update(func(st *source.Status) { st.State = "starting" })
	pos, err := r.w.Load(ctx, r.source)
	if err != nil {
		return fmt.Errorf("load position: %w", err)
	}
	if s.next, err = parseVector(pos); err != nil {
		return err
	}
	s.base = maps.Clone(s.next)
	s.hwm = make(map[int32]int64)
	if s.admCl, err = kgo.NewClient(r.opts...); err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer s.admCl.Close()
	s.adm = kadm.NewClient(s.admCl)

	ends, err := s.listEnds(ctx)
	if err != nil {
		return err
	}
	added, err := s.addPartitions(ctx, ends, r.cfg.ReadFrom)
	if err != nil {
		return err
	}
	start := make(map[int32]kgo.Offset)
	for p := range ends {
		start[p] = kgo.NewOffset().At(s.next[p])
	}
	s.cl, err = kgo.NewClient(append(slices.Clip(r.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.MaxConcurrentFetches(maxConcurrentFetches),
		kgo.FetchMaxWait(time.Second),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer s.cl.Close()

	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	s.commits = make(chan kadm.Offsets, 1)
	wg.Go(func() { s.committer(cctx) })
	defer wg.Wait()
	defer cancel()
	if added > 0 {
		if err := s.append(ctx); err != nil {
			return err
		}
	}
	r.status.Update(func(st *source.Status) { st.State = "reading" })
	r.log.Info("kafka source reading", "partitions", len(ends), "new", added)
	return s.read(ctx)
}

// read polls and appends until ctx ends or something fails.
func (s *session) read(ctx context.Context) error {
	r := s.r
	metaAt := r.cfg.Now().Add(r.cfg.MetadataEvery)
	for {
		if now := r.cfg.Now(); !now.Before(metaAt) {
			if err := s.refresh(ctx); err != nil {
				return err
			}
			metaAt = now.Add(r.cfg.MetadataEvery)
		}
		wait := min(max(metaAt.Sub(r.cfg.Now()), 10*time.Millisecond), r.cfg.MetadataEvery)
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := s.cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		if err := s.take(ctx, fetches); err != nil {
			return err
		}
		s.report()
	}
}

// take appends the records of fetches, in batches of at most source.MaxAppendBytes, each with
// the vector after its last record.
func (s *session) take(ctx context.Context, fetches kgo.Fetches) error {
	r := s.r
	s.batch = s.batch[:0]
	size := 0
	var err error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Topic == r.cfg.Topic && p.HighWatermark >= 0 {
			s.hwm[p.Partition] = p.HighWatermark
		}
	})
	fetches.EachRecord(func(k *kgo.Record) {
		if err != nil || k.Topic != r.cfg.Topic {
			return
		}
		next, ok := s.next[k.Partition]
		if !ok || k.Offset < next {
			// Never stored twice: the client went back (a reset after lost data).
			r.rec.Record(r.cfg.Stream, MetricDuplicateSkip, metrics.UnitCount, 1)
			r.log.Warn("kafka record behind the position skipped", "partition", k.Partition,
				"offset", k.Offset, "next", next)
			return
		}
		switch {
		case k.Value == nil:
			r.rec.Record(r.cfg.Stream, MetricTombstones, metrics.UnitCount, 1)
		case len(k.Value) > MaxRecordBytes:
			s.tooLarge(k.Partition, k.Offset, len(k.Value))
		default:
			if len(s.batch) > 0 && (size+len(k.Value) > source.MaxAppendBytes || len(s.batch) >= maxBatchRecords) {
				if err = s.append(ctx); err != nil {
					return
				}
				size = 0
			}
			s.batch = append(s.batch, source.Record{Data: k.Value, Arrival: k.Timestamp})
			s.offsets = append(s.offsets, recordAt{k.Partition, k.Offset})
			size += len(k.Value)
		}
		s.next[k.Partition] = k.Offset + 1
		s.dirty = true
	})
	if err != nil {
		return err
	}
	if s.dirty {
		return s.append(ctx)
	}
	return nil
}

func (s *session) tooLarge(p int32, offset int64, n int) {
	r := s.r
	r.rec.Record(r.cfg.Stream, MetricTooLarge, metrics.UnitCount, 1)
	r.log.Error("kafka record over the size limit skipped", "partition", p, "offset", offset,
		"bytes", n, "limit", MaxRecordBytes)
}

// append stores the batch with the vector, then hands the vector to the committer.
func (s *session) append(ctx context.Context) error {
	if err := s.store(ctx, 0, len(s.batch), s.position(nil)); err != nil {
		return err
	}
	clear(s.batch)
	s.batch, s.offsets = s.batch[:0], s.offsets[:0]
	s.base = maps.Clone(s.next)
	s.dirty, s.appended = false, true
	r := s.r
	offs := make(kadm.Offsets)
	for p, o := range s.next {
		offs.AddOffset(r.cfg.Topic, p, o, -1)
	}
	select { // replace a vector not committed yet: only the latest matters
	case <-s.commits:
	default:
	}
	s.commits <- offs
	return nil
}

// store appends the batch's records lo to hi with pos. A part the journal refuses as too large
// (refused before it is sent: nothing is stored) is stored in halves, each with the vector
// after its last record; a single record too large is skipped.
func (s *session) store(ctx context.Context, lo, hi int, pos source.Position) error {
	r := s.r
	recs := s.batch[lo:hi]
	err := r.w.Append(ctx, recs, pos)
	switch {
	case errors.Is(err, journal.ErrTooLarge) && len(recs) == 1:
		r.rec.Record(r.cfg.Stream, MetricTooLarge, metrics.UnitCount, 1)
		r.log.Error("kafka record too large for the journal skipped", "partition", s.offsets[lo].partition,
			"offset", s.offsets[lo].offset, "bytes", len(recs[0].Data), "err", err)
		return s.store(ctx, lo, lo, pos)
	case errors.Is(err, journal.ErrTooLarge) && len(recs) > 1:
		mid := lo + len(recs)/2
		if err := s.store(ctx, lo, mid, s.position(s.offsets[:mid])); err != nil {
			return err
		}
		return s.store(ctx, mid, hi, pos)
	case err != nil:
		return fmt.Errorf("append to the journal: %w", err)
	}
	var bytes int64
	for _, b := range recs {
		bytes += int64(len(b.Data))
	}
	r.rec.Record(r.cfg.Stream, MetricReadRecords, metrics.UnitCount, float64(len(recs)))
	r.rec.Record(r.cfg.Stream, MetricReadBytes, metrics.UnitBytes, float64(bytes))
	r.status.Update(func(st *source.Status) {
		st.Records += int64(len(recs))
		st.Bytes += bytes
	})
	return nil
}

// position returns the vector as a source.Position: the current one when upTo is nil, else
// the one after the batch's records read at upTo.
func (s *session) position(upTo []recordAt) source.Position {
	next := s.next
	if upTo != nil {
		next = maps.Clone(s.base)
		for _, a := range upTo {
			next[a.partition] = a.offset + 1
		}
	}
	p := source.Position{Source: s.r.source, Entries: make(map[string]source.Entry, len(next))}
	for part, o := range next {
		p.Entries[strconv.FormatInt(int64(part), 10)] = source.Entry{Value: strconv.FormatInt(o, 10)}
	}
	return p
}

// recordAt is where a record of the batch was read.
type recordAt struct {
	partition int32
	offset    int64
}

// parseVector reads a Kafka position's entries.
func parseVector(pos source.Position) (map[int32]int64, error) {
	next := make(map[int32]int64, len(pos.Entries))
	for k, e := range pos.Entries {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%w: partition %q", source.ErrBadPosition, k)
		}
		o, err := strconv.ParseInt(e.Value, 10, 64)
		if err != nil || o < 0 {
			return nil, fmt.Errorf("%w: offset %q of partition %d", source.ErrBadPosition, e.Value, p)
		}
		next[int32(p)] = o
	}
	return next, nil
}

// committer commits the vectors append hands it to the group, for lag tools; the offsets are
// never read back. A failure is logged and counted.
func (s *session) committer(ctx context.Context) {
	r := s.r
	for {
		select {
		case <-ctx.Done():
			return
		case offs := <-s.commits:
			cctx, cancel := context.WithTimeout(ctx, commitTimeout)
			err := s.adm.CommitAllOffsets(cctx, r.group, offs)
			cancel()
			if err != nil && ctx.Err() == nil {
				r.rec.Record(r.cfg.Stream, MetricCommitErrors, metrics.UnitCount, 1)
				r.log.Warn("commit kafka offsets", "group", r.group, "err", err)
			}
		}
	}
}

// listEnds returns the topic's partitions and their high watermarks, and notes the latter.
func (s *session) listEnds(ctx context.Context) (map[int32]int64, error) {
	topic := s.r.cfg.Topic
	listed, err := s.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	ends := make(map[int32]int64)
	for p, o := range listed[topic] {
		ends[p] = o.Offset
		s.hwm[p] = o.Offset
	}
	if len(ends) == 0 {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, ErrNoTopic)
	}
	return ends, nil
}

// ErrNoTopic reports a topic without partitions.
var ErrNoTopic = errors.New("topic not found")

// addPartitions puts the partitions of ends that the vector lacks into it, at their first
// record at or after from (the earliest when from is not after the epoch), and returns how many.
func (s *session) addPartitions(ctx context.Context, ends map[int32]int64, from time.Time) (int, error) {
	var missing []int32
	for p := range ends {
		if _, ok := s.next[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return 0, nil
	}
	topic := s.r.cfg.Topic
	var listed kadm.ListedOffsets
	var err error
	if ms := from.UnixMilli(); ms > 0 {
		listed, err = s.adm.ListOffsetsAfterMilli(ctx, ms, topic)
	} else {
		listed, err = s.adm.ListStartOffsets(ctx, topic)
	}
	if err != nil {
		return 0, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	for _, p := range missing {
		o, ok := listed.Lookup(topic, p)
		if !ok {
			return 0, fmt.Errorf("list start offsets of %s: partition %d missing", topic, p)
		}
		if o.Err != nil {
			return 0, fmt.Errorf("list start offsets of %s/%d: %w", topic, p, o.Err)
		}
		off := o.Offset
		if off < 0 { // no record at or after from: the end
			off = ends[p]
		}
		s.next[p] = max(off, 0)
	}
	return len(missing), nil
}

// refresh lists the partitions: new ones are read from their start (they were created after
// the reader started), stored in the vector at once so that a restart starts them there too.
func (s *session) refresh(ctx context.Context) error {
	ends, err := s.listEnds(ctx)
	if err != nil {
		return err
	}
	before := maps.Clone(s.next)
	added, err := s.addPartitions(ctx, ends, time.Time{})
	if err != nil || added == 0 {
		return err
	}
	if err := s.append(ctx); err != nil {
		return err
	}
	add := make(map[int32]kgo.Offset)
	for p, o := range s.next {
		if _, ok := before[p]; !ok {
			add[p] = kgo.NewOffset().At(o)
		}
	}
	s.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.r.cfg.Topic: add})
	s.r.log.Info("kafka partitions added", "new", added, "partitions", len(s.next))
	s.report()
	return nil
}

// report updates the status and, at most every lagEvery, records the lag.
func (s *session) report() {
	r := s.r
	parts := make([]source.Part, 0, len(s.next))
	var lag int64
	for _, p := range slices.Sorted(maps.Keys(s.next)) {
		o := s.next[p]
		l := max(s.hwm[p]-o, 0)
		lag += l
		parts = append(parts, source.Part{ID: strconv.Itoa(int(p)), Position: strconv.FormatInt(o, 10), LagRecords: l})
	}
	r.status.Update(func(st *source.Status) {
		st.State, st.LagRecords, st.Parts = "reading", lag, parts
	})
	if now := r.cfg.Now(); s.lagAt.IsZero() || now.Sub(s.lagAt) >= lagEvery {
		s.lagAt = now
		r.rec.Record(r.cfg.Stream, MetricOffsetLag, metrics.UnitCount, float64(lag))
	}
}
