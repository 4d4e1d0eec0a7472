// Package metrics keeps the AWS/Firehose metrics of every delivery stream at one-minute
// resolution: a concurrent minute store that Record feeds from the hot path, CloudWatch-style
// reads over it (Statistics, List, Series) with percentiles from sparse log-bucketed histograms,
// a durable snapshot file, and a Prometheus text exposition of the same data.
//
// The design, the file format and the percentile error bound are in docs/design/metrics.md.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Unit is a CloudWatch unit, spelled as on the wire.
type Unit string

// CloudWatch units used by the Firehose metrics.
const (
	UnitBytes          Unit = "Bytes"
	UnitCount          Unit = "Count"
	UnitMilliseconds   Unit = "Milliseconds"
	UnitSeconds        Unit = "Seconds"
	UnitBytesPerSecond Unit = "Bytes/Second"
	UnitNone           Unit = "None"
	UnitPercent        Unit = "Percent"
)

// Namespace is the CloudWatch namespace of every metric in the store.
const Namespace = "AWS/Firehose"

// DimensionStream is the name of the only dimension of a stream metric.
const DimensionStream = "DeliveryStreamName"

// Defaults applied by Open to zero Config fields, and the bounds Validate enforces.
const (
	DefaultRetention     = 24 * time.Hour
	DefaultFlushInterval = 10 * time.Second
	MinRetention         = time.Hour
	MaxRetention         = 15 * 24 * time.Hour
	MinFlushInterval     = time.Second
	MaxFlushInterval     = 10 * time.Minute
)

// FileName is the name of the snapshot file under Config.Dir.
const FileName = "minutes.v1"

// Errors returned by Statistics.
var (
	// ErrInvalidPeriod reports a Period that is not a positive multiple of 60 seconds.
	ErrInvalidPeriod = errors.New("period must be a positive multiple of 60 seconds")
	// ErrInvalidPercentile reports a percentile name that is not "p" followed by a number in [0, 100].
	ErrInvalidPercentile = errors.New("invalid percentile")
)

// Config configures the store. Zero fields take the defaults above.
type Config struct {
	// Dir is the directory of the snapshot file, e.g. "<data dir>/metrics". Empty keeps the
	// metrics in memory only.
	Dir string `json:"dir,omitempty"`
	// Retention is how long minutes are kept, between 1h and 15 days (default 24h).
	Retention time.Duration `json:"retention,omitempty"`
	// FlushInterval is how often Run writes the snapshot and prunes old minutes, between 1s and
	// 10m (default 10s). A crash loses at most the samples of one interval.
	FlushInterval time.Duration `json:"flushInterval,omitempty"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	return c
}

// Validate reports the first field of c that is out of bounds. Zero fields stand for their
// defaults and are valid.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Retention < MinRetention || c.Retention > MaxRetention:
		return fmt.Errorf("metrics: retention must be between %s and %s, got %s", MinRetention, MaxRetention, c.Retention)
	case c.FlushInterval < MinFlushInterval || c.FlushInterval > MaxFlushInterval:
		return fmt.Errorf("metrics: flushInterval must be between %s and %s, got %s", MinFlushInterval, MaxFlushInterval, c.FlushInterval)
	}
	return nil
}

// nStripes is the number of independently locked open-minute aggregates per series.
const nStripes = 8

// seriesKey identifies a series.
type seriesKey struct{ stream, name string }

// stripe is one lock and the open aggregate of one minute, on its own cache lines.
type stripe struct {
	mu  sync.Mutex
	cur openMinute
	_   [64]byte
}

// openMinute is the aggregate a stripe is filling.
type openMinute struct {
	t             int64 // Unix minute
	n             uint64
	sum, min, max float64
	hist          map[int32]uint64
}

// add adds one sample of minute t.
func (o *openMinute) add(t int64, v float64) {
	if o.n == 0 {
		o.t, o.min, o.max = t, v, v
		if o.hist == nil {
			o.hist = make(map[int32]uint64, 8)
		}
	} else {
		o.min = math.Min(o.min, v)
		o.max = math.Max(o.max, v)
	}
	o.n++
	o.sum += v
	o.hist[bucketKey(v)]++
}

// minute is a sealed minute aggregate.
type minute struct {
	t             int64 // Unix minute
	n             uint64
	sum, min, max float64
	hist          []bucket // ascending keys, counts > 0, Σ count == n
}

// series is one metric of one stream.
type series struct {
	key     seriesKey
	unit    Unit
	stripes [nStripes]stripe
	dead    bool // set under all stripe locks; Record retries the lookup

	mu         sync.Mutex // guards the fields below
	minutes    []minute   // ascending t
	totalSum   float64
	totalCount uint64
}

// Store is the minute store. Its methods are safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	index   atomic.Pointer[map[seriesKey]*series]
	indexMu sync.Mutex // serializes index writers

	gaugesMu sync.Mutex
	gauges   map[string]gauge

	persistMu sync.Mutex // serializes snapshots
}

// Open returns a store configured by cfg (zero fields take defaults), loading the snapshot in
// cfg.Dir if there is one. An unreadable snapshot is logged and ignored: the store starts empty.
// now is the clock; nil means time.Now.
func Open(cfg Config, log *slog.Logger, now func() time.Time) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{cfg: cfg, log: log, now: now, gauges: map[string]gauge{}}
	empty := map[seriesKey]*series{}
	s.index.Store(&empty)
	if cfg.Dir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run writes the snapshot and prunes minutes older than the retention every FlushInterval, and
// writes a last snapshot when ctx ends. It returns nil after that last snapshot succeeds.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.prune()
			if err := s.persist(); err != nil {
				return fmt.Errorf("persist metrics: %w", err)
			}
			return nil
		case <-t.C:
			s.prune()
			if err := s.persist(); err != nil {
				s.log.Warn("metrics persist failed", "err", err)
			}
		}
	}
}

// unixMinute returns the Unix minute holding t.
func unixMinute(t time.Time) int64 {
	sec := t.Unix()
	m := sec / 60
	if sec%60 < 0 {
		m--
	}
	return m
}

// Record adds one sample v of metric name of stream at now(): the minute's SampleCount grows by
// one, Sum by v, Minimum and Maximum are updated and v is counted in the minute's histogram.
// NaN and infinite values are dropped. Record does not allocate in the steady state.
func (s *Store) Record(stream, name string, unit Unit, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	t := unixMinute(s.now())
	k := seriesKey{stream, name}
	for {
		ser := (*s.index.Load())[k]
		if ser == nil {
			ser = s.create(k, unit)
		}
		st := &ser.stripes[rand.Uint32()%nStripes]
		st.mu.Lock()
		if ser.dead {
			st.mu.Unlock()
			continue
		}
		if st.cur.n > 0 && st.cur.t != t {
			ser.seal(&st.cur)
		}
		st.cur.add(t, v)
		st.mu.Unlock()
		return
	}
}

// create returns the live series of k, adding it to the index if needed.
func (s *Store) create(k seriesKey, unit Unit) *series {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	old := *s.index.Load()
	if ser := old[k]; ser != nil {
		return ser
	}
	ser := &series{key: k, unit: unit}
	next := make(map[seriesKey]*series, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = ser
	s.index.Store(&next)
	return ser
}

// seal moves the open aggregate o into the sealed minutes and resets o, keeping its map. The
// caller holds the stripe lock of o.
func (ser *series) seal(o *openMinute) {
	if o.n == 0 {
		return
	}
	h := make([]bucket, 0, len(o.hist))
	for k, c := range o.hist {
		h = append(h, bucket{k, c})
	}
	sortBuckets(h)
	ser.mu.Lock()
	ser.mergeLocked(minute{t: o.t, n: o.n, sum: o.sum, min: o.min, max: o.max, hist: h})
	ser.totalSum += o.sum
	ser.totalCount += o.n
	ser.mu.Unlock()
	clear(o.hist)
	o.n, o.sum, o.min, o.max = 0, 0, 0, 0
}

// mergeLocked merges m into the sealed minutes. The caller holds ser.mu.
func (ser *series) mergeLocked(m minute) {
	i := len(ser.minutes)
	for i > 0 && ser.minutes[i-1].t > m.t {
		i--
	}
	if i > 0 && ser.minutes[i-1].t == m.t {
		ser.minutes[i-1].merge(&m)
		return
	}
	ser.minutes = append(ser.minutes, minute{})
	copy(ser.minutes[i+1:], ser.minutes[i:])
	ser.minutes[i] = m
}

// merge adds o to m.
func (m *minute) merge(o *minute) {
	if o.n == 0 {
		return
	}
	if m.n == 0 {
		m.min, m.max = o.min, o.max
	} else {
		m.min = math.Min(m.min, o.min)
		m.max = math.Max(m.max, o.max)
	}
	m.n += o.n
	m.sum += o.sum
	m.hist = mergeBuckets(m.hist, o.hist)
}

// drain seals every stripe of ser, so that ser.minutes holds every sample recorded so far.
func (ser *series) drain() {
	for i := range ser.stripes {
		st := &ser.stripes[i]
		st.mu.Lock()
		ser.seal(&st.cur)
		st.mu.Unlock()
	}
}

// all returns the live series, in no particular order.
func (s *Store) all() []*series {
	idx := *s.index.Load()
	out := make([]*series, 0, len(idx))
	for _, ser := range idx {
		out = append(out, ser)
	}
	return out
}

// get returns the series of (stream, name), or nil.
func (s *Store) get(stream, name string) *series {
	return (*s.index.Load())[seriesKey{stream, name}]
}

// oldestKept returns the oldest Unix minute inside the retention window.
func (s *Store) oldestKept() int64 {
	// Minute m is kept while (m+1)·60 > now − retention.
	cut := s.now().Add(-s.cfg.Retention)
	return unixMinute(cut)
}

// prune drops minutes outside the retention window and removes series left empty.
func (s *Store) prune() {
	oldest := s.oldestKept()
	var empty []*series
	for _, ser := range s.all() {
		ser.drain()
		ser.mu.Lock()
		i := 0
		for i < len(ser.minutes) && ser.minutes[i].t < oldest {
			i++
		}
		if i > 0 {
			ser.minutes = append(ser.minutes[:0:0], ser.minutes[i:]...)
		}
		if len(ser.minutes) == 0 {
			empty = append(empty, ser)
		}
		ser.mu.Unlock()
	}
	if len(empty) == 0 {
		return
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	var remove []seriesKey
	for _, ser := range empty {
		for i := range ser.stripes {
			ser.stripes[i].mu.Lock()
		}
		ser.mu.Lock()
		isEmpty := len(ser.minutes) == 0
		for i := range ser.stripes {
			isEmpty = isEmpty && ser.stripes[i].cur.n == 0
		}
		if isEmpty {
			ser.dead = true
			remove = append(remove, ser.key)
		}
		ser.mu.Unlock()
		for i := range ser.stripes {
			ser.stripes[i].mu.Unlock()
		}
	}
	if len(remove) == 0 {
		return
	}
	old := *s.index.Load()
	next := make(map[seriesKey]*series, len(old))
	for k, v := range old {
		next[k] = v
	}
	for _, k := range remove {
		delete(next, k)
	}
	s.index.Store(&next)
}
