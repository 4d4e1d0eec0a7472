package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// ErrNoWorker is returned by Flush for a stream that has no running worker.
var ErrNoWorker = errors.New("no delivery worker for stream")

// Deps are the collaborators of every worker.
type Deps struct {
	Log     Log
	State   StateStore
	Objects ObjectWriter
	Logger  *slog.Logger
	Backoff Backoff
	Now     func() time.Time
	// Compression configures the encoders of every leg; its Concurrency lets one GZIP object
	// use several cores.
	Compression compress.Config
	// Metrics receives the AWS/Firehose delivery metrics; nil records nothing.
	Metrics Recorder
}

// Recorder takes one sample of a stream's metric.
type Recorder interface {
	Record(stream, name string, unit metrics.Unit, v float64)
}

type noMetrics struct{}

func (noMetrics) Record(string, string, metrics.Unit, float64) {}

// sampleEvery is how often the gauges of every stream (data freshness, partition count) are
// sampled into the metrics.
const sampleEvery = 10 * time.Second

// Manager owns one worker per delivery stream.
type Manager struct {
	deps    Deps
	ctx     context.Context
	mu      sync.Mutex
	workers map[string]*handle
	wg      sync.WaitGroup
}

type handle struct {
	w      *worker
	cancel context.CancelFunc
	done   chan struct{}
}

// Recent returns the stream's latest delivered objects and failures, newest first.
func (m *Manager) Recent(stream string, n int) ([]ObjectRecord, []FailureRecord) {
	m.mu.Lock()
	h, ok := m.workers[stream]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return h.w.status.Objects(n), h.w.status.Failures(n)
}

// Status returns the delivery status of the stream's legs, or false without a worker.
func (m *Manager) Status(stream string) ([]LegStatus, bool) {
	m.mu.Lock()
	h, ok := m.workers[stream]
	m.mu.Unlock()
	if !ok {
		return nil, false
	}
	return h.w.status.Snapshot(m.deps.Now()), true
}

// NewManager returns a Manager whose workers live until ctx ends.
func NewManager(ctx context.Context, deps Deps) *Manager {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Backoff == (Backoff{}) {
		deps.Backoff = Backoff{Initial: time.Second, Max: 30 * time.Second}
	}
	if deps.Metrics == nil {
		deps.Metrics = noMetrics{}
	}
	m := &Manager{deps: deps, ctx: ctx, workers: map[string]*handle{}}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.sample(ctx)
	}()
	return m
}

// sample records the gauges of every running stream until ctx ends.
func (m *Manager) sample(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	hits := map[string]int64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		hs := make(map[string]*handle, len(m.workers))
		for name, h := range m.workers {
			hs[name] = h
		}
		m.mu.Unlock()
		for name, h := range hs {
			for _, l := range h.w.status.Snapshot(m.deps.Now()) {
				prefix := "DeliveryToS3"
				if l.Leg == LegBackup {
					prefix = "BackupToS3"
				}
				m.deps.Metrics.Record(name, prefix+".DataFreshness", metrics.UnitSeconds, l.DataFreshness.Seconds())
				if h.w.dynamic() && l.Leg == LegDestination {
					m.deps.Metrics.Record(name, "PartitionCount", metrics.UnitCount, float64(l.Partitions))
					exceeded := 0.0
					if l.PartitionLimitHits > hits[name] {
						exceeded = 1
					}
					hits[name] = l.PartitionLimitHits
					m.deps.Metrics.Record(name, "PartitionCountExceeded", metrics.UnitCount, exceeded)
				}
			}
		}
	}
}

// Apply starts a worker for spec. A worker already running for the stream first flushes its
// buffer under its old configuration, then the new one takes over from the cursor.
func (m *Manager) Apply(spec Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	status := newStatus()
	if h, ok := m.workers[spec.Stream]; ok {
		close(h.w.drain)
		<-h.done
		h.cancel()
		status = h.w.status
	}
	m.start(spec, status)
}

func (m *Manager) start(spec Spec, status *Status) {
	ctx, cancel := context.WithCancel(m.ctx)
	w := &worker{
		spec:    spec,
		log:     m.deps.Log,
		state:   m.deps.State,
		out:     m.deps.Objects,
		logger:  m.deps.Logger,
		backoff: m.deps.Backoff,
		now:     m.deps.Now,
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		status:  status,
		zcfg:    m.deps.Compression,
		metrics: m.deps.Metrics,
		flushes: make(chan flushReq),
		drain:   make(chan struct{}),
	}
	h := &handle{w: w, cancel: cancel, done: make(chan struct{})}
	m.workers[spec.Stream] = h
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(h.done)
		for attempt := 1; ; attempt++ {
			err := w.run(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			select {
			case <-w.drain:
				return
			default:
			}
			d := m.deps.Backoff.Delay(attempt, w.rnd)
			m.deps.Logger.Error("delivery worker failed; restarting", "stream", spec.Stream, "retry_in", d, "err", err)
			w.answer(err)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
	}()
}

// Remove stops the stream's worker without flushing: buffered records are discarded from
// delivery, as Firehose does when a stream is deleted.
func (m *Manager) Remove(stream string) {
	m.mu.Lock()
	h, ok := m.workers[stream]
	delete(m.workers, stream)
	m.mu.Unlock()
	if ok {
		h.cancel()
		<-h.done
	}
}

// Flush makes the stream's worker write every record acknowledged before the call, and
// returns when the object is written.
func (m *Manager) Flush(ctx context.Context, stream string) error {
	m.mu.Lock()
	h, ok := m.workers[stream]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoWorker, stream)
	}
	stats, err := m.deps.Log.Stats(ctx, stream)
	if err != nil {
		return fmt.Errorf("read journal position: %w", err)
	}
	req := flushReq{upTo: stats.LastSeq, done: make(chan error, 1)}
	select {
	case h.w.flushes <- req:
	case <-h.done:
		return fmt.Errorf("%w: %s stopped", ErrNoWorker, stream)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Streams returns the names of the streams with a running worker.
func (m *Manager) Streams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.workers))
	for name := range m.workers {
		out = append(out, name)
	}
	return out
}

// Wait blocks until every worker has stopped (after the Manager's context ends).
func (m *Manager) Wait() { m.wg.Wait() }
