package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/membudget"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// Errors of the control calls.
var (
	// ErrNoWorker is returned by Flush for a stream that has no running actor.
	ErrNoWorker = errors.New("no delivery worker for stream")
	// ErrRemoved is returned by Apply for a spec of a stream that was removed after the spec's
	// stream was created: a deleted stream never gets an actor.
	ErrRemoved = errors.New("delivery stream removed")
	// ErrNotRunning is returned by control calls made before Run started or after it ended.
	ErrNotRunning = errors.New("delivery manager not running")
)

// Defaults of Deps.
const (
	DefaultWritesPerStream = 4
	DefaultWrites          = 32
)

// Deps are the collaborators and bounds of every actor.
type Deps struct {
	Log     Log
	State   StateStore
	Objects ObjectWriter
	Logger  *slog.Logger
	Backoff Backoff
	// Clock drives buffer deadlines and back-off waits; nil is the system clock.
	Clock Clock
	// Compression configures the encoders of every leg; its Concurrency lets one GZIP object
	// use several cores.
	Compression compress.Config
	// Metrics receives the AWS/Firehose delivery metrics; nil records nothing.
	Metrics Recorder
	// WritesPerStream bounds the object writes in flight of one stream (default 4); Writes
	// bounds them in the whole process (default 32).
	WritesPerStream int
	Writes          int
	// Processors bounds the processing jobs running in the whole process (default
	// GOMAXPROCS × 2).
	Processors int
	// SleepAfter is how long an actor with nothing to do keeps its goroutine before it sleeps
	// (default 30 s; negative: never); a command or an append wakes it.
	SleepAfter time.Duration
	// Budget is the process-wide memory budget the actors' buffers and objects draw from
	// (docs/design/memory.md); nil is no bound.
	Budget *membudget.Budget
}

// Recorder takes one sample of a stream's metric.
type Recorder interface {
	Record(stream, name string, unit metrics.Unit, v float64)
}

type noMetrics struct{}

func (noMetrics) Record(string, string, metrics.Unit, float64) {}

// shared is what every actor of a manager uses: the deps and the process-wide bounds.
type shared struct {
	Deps
	writeSem chan struct{}
	procSem  chan struct{}
}

// sampleEvery is how often the gauges of every stream (data freshness, partition count) are
// sampled into the metrics.
const sampleEvery = 10 * time.Second

// Manager owns one actor per delivery stream. Its control calls are messages: none holds a
// lock across I/O, so a store that hangs delays none of them.
type Manager struct {
	d    *shared
	cmds chan startReq

	mu      sync.Mutex
	running bool
	actors  map[string]*handle
	removed map[string]time.Time // name → when it was removed
}

// DefaultSleepAfter is Deps.SleepAfter's default.
const DefaultSleepAfter = 30 * time.Second

// handle is the manager's reference to an actor.
type handle struct {
	name    string
	status  *Status
	mail    chan command
	done    chan struct{}
	cancel  context.CancelFunc
	dynamic bool

	// Sleep (docs/design/delivery.md, "Idle streams"), guarded by Manager.mu: asleep means no
	// goroutine runs the actor; start runs one. senders counts callers about to send on mail,
	// kick a wake-up that came while the actor was still running; either keeps it awake.
	asleep    bool
	kick      bool
	senders   int
	start     func()
	unwatch   func() // cancels the append wake-up of a sleeping actor
	closeDone func()
}

type startReq struct {
	spec  Spec
	reply chan *handle
}

// NewManager returns a Manager; its actors run while Run runs.
func NewManager(deps Deps) *Manager {
	if deps.Clock == nil {
		deps.Clock = RealClock{}
	}
	if deps.Backoff == (Backoff{}) {
		deps.Backoff = Backoff{Initial: time.Second, Max: 30 * time.Second}
	}
	if deps.Metrics == nil {
		deps.Metrics = noMetrics{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.WritesPerStream <= 0 {
		deps.WritesPerStream = DefaultWritesPerStream
	}
	if deps.Writes <= 0 {
		deps.Writes = DefaultWrites
	}
	if deps.Processors <= 0 {
		deps.Processors = runtime.GOMAXPROCS(0) * 2
	}
	if deps.SleepAfter == 0 {
		deps.SleepAfter = DefaultSleepAfter
	}
	return &Manager{
		d:       &shared{Deps: deps, writeSem: make(chan struct{}, deps.Writes), procSem: make(chan struct{}, deps.Processors)},
		cmds:    make(chan startReq),
		actors:  map[string]*handle{},
		removed: map[string]time.Time{},
	}
}

// Run runs the actors until ctx ends, then stops them all and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("delivery manager already running")
	}
	m.running = true
	m.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		m.mu.Lock()
		m.running = false
		for _, h := range m.actors {
			m.wakeLocked(h) // a sleeping actor's handle is done: the manager stopped
		}
		m.mu.Unlock()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.sample(ctx)
	}()
	prev := map[string]chan struct{}{} // name → done of the last actor started for it
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-m.cmds:
			m.mu.Lock()
			h, ok := m.actors[req.spec.Stream]
			if !ok {
				actx, cancel := context.WithCancel(ctx)
				h = &handle{name: req.spec.Stream, status: newStatus(), mail: make(chan command), done: make(chan struct{}), cancel: cancel}
				m.actors[h.name] = h
				before := prev[h.name]
				prev[h.name] = h.done
				a := &actor{stream: h.name, d: m.d, status: h.status, mail: h.mail, spec: req.spec}
				var once sync.Once
				h.closeDone = func() { once.Do(func() { close(h.done) }) }
				h.start = func() {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if before != nil {
							select { // the previous incarnation's actor first stops
							case <-before:
							case <-actx.Done():
								h.closeDone()
								return
							}
							before = nil
						}
						if !m.supervise(actx, h, a) {
							h.closeDone()
						}
					}()
				}
				h.start()
			}
			h.dynamic = dynamic(req.spec)
			m.mu.Unlock()
			req.reply <- h
		}
	}
}

// supervise runs an actor, restarting it with back-off after a failure. It returns true when
// the actor went to sleep (its goroutine ends, the handle stays), false when ctx ended.
func (m *Manager) supervise(ctx context.Context, h *handle, a *actor) bool {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for attempt := 1; ; attempt++ {
		start := m.d.Clock.Now()
		err := a.run(ctx)
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, errSleep) {
			if m.sleep(ctx, h) {
				return true
			}
			attempt = 0 // woken before it slept: run again at once
			continue
		}
		if m.d.Clock.Now().Sub(start) > time.Minute {
			attempt = 1
		}
		d := m.d.Backoff.Delay(attempt, rnd)
		m.d.Logger.Error("delivery actor failed; restarting from its saved state", "stream", a.stream, "retry_in", d, "err", err)
		a.status.recordFailure("engine", "delivery", "ActorRestart", err.Error(), m.d.Clock.Now())
		if sleep(ctx, m.d.Clock, d) != nil {
			return false
		}
	}
}

// sleep puts the handle's actor to sleep unless a wake-up is pending, and reports whether it
// did. The append wake-up is registered before the check, so an append in between is a kick.
func (m *Manager) sleep(ctx context.Context, h *handle) bool {
	unwatch := m.d.Log.AfterAppend(h.name, func() { m.wake(h) })
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.kick || h.senders > 0 || ctx.Err() != nil || m.actors[h.name] != h || !m.running {
		h.kick = false
		unwatch()
		return false
	}
	h.asleep, h.unwatch = true, unwatch
	return true
}

// wake runs the handle's actor again if it sleeps, or keeps it from going to sleep.
func (m *Manager) wake(h *handle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !h.asleep {
		h.kick = true // an append while it decides to sleep
		return
	}
	m.wakeLocked(h)
}

// wakeLocked ends the sleep of h's actor (m.mu held): it runs again, or, when the manager
// stopped or the stream was removed, its handle is done.
func (m *Manager) wakeLocked(h *handle) {
	if !h.asleep {
		return
	}
	h.asleep = false
	h.unwatch()
	h.unwatch = nil
	if m.running && m.actors[h.name] == h {
		h.start()
	} else {
		h.closeDone()
	}
}

// send delivers c to the handle's actor, waking it first, or fails when the actor stopped or
// ctx ends.
func (m *Manager) send(ctx context.Context, h *handle, c command) error {
	m.mu.Lock()
	h.senders++
	m.wakeLocked(h)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		h.senders--
		m.mu.Unlock()
	}()
	select {
	case h.mail <- c:
		return nil
	case <-h.done:
		return fmt.Errorf("%w: %s stopped", ErrNoWorker, h.name)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func dynamic(s Spec) bool {
	for _, l := range s.Legs {
		if l.Dynamic {
			return true
		}
	}
	return false
}

// Apply gives the stream's actor a spec, starting the actor if needed. It returns once the
// actor has the spec (a change of configuration then proceeds on its own), or when ctx ends.
func (m *Manager) Apply(ctx context.Context, spec Spec) error {
	m.mu.Lock()
	running := m.running
	if at, ok := m.removed[spec.Stream]; ok {
		if !spec.Created.After(at) {
			m.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrRemoved, spec.Stream)
		}
		delete(m.removed, spec.Stream)
	}
	m.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	req := startReq{spec: spec, reply: make(chan *handle, 1)}
	select {
	case m.cmds <- req:
	case <-ctx.Done():
		return fmt.Errorf("apply %s: %w", spec.Stream, ctx.Err())
	}
	h := <-req.reply
	if err := m.send(ctx, h, command{apply: &spec}); err != nil {
		return fmt.Errorf("apply %s: %w", spec.Stream, err)
	}
	return nil
}

// Remove stops the stream's actor without writing its buffers (records still buffered are
// discarded, as Firehose does when a stream is deleted) and returns when it stopped or ctx
// ended. From now on, specs of the stream created before this call are refused.
func (m *Manager) Remove(ctx context.Context, stream string) error {
	return m.stop(ctx, stream, true)
}

// Release stops the stream's actor as Remove does, discarding what it buffered (the records
// stay in the journal, unsettled), but a later Apply of the same spec starts it again: another
// node took or takes the stream over (docs/design/cluster.md).
func (m *Manager) Release(ctx context.Context, stream string) error {
	return m.stop(ctx, stream, false)
}

func (m *Manager) stop(ctx context.Context, stream string, removed bool) error {
	m.mu.Lock()
	if removed {
		m.removed[stream] = m.d.Clock.Now()
	}
	for name, at := range m.removed { // a racing activation comes within seconds
		if m.d.Clock.Now().Sub(at) > time.Hour {
			delete(m.removed, name)
		}
	}
	h, ok := m.actors[stream]
	delete(m.actors, stream)
	if ok {
		m.wakeLocked(h) // a sleeping actor ends here: removed, it has no goroutine to start
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	h.cancel()
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("remove %s: %w", stream, ctx.Err())
	}
}

// Flush makes the stream's actor write every record acknowledged before the call, and
// returns when all of them are in objects (or in the error output), or when ctx ends.
func (m *Manager) Flush(ctx context.Context, stream string) error {
	h := m.handle(stream)
	if h == nil {
		return fmt.Errorf("%w: %s", ErrNoWorker, stream)
	}
	m.mu.Lock()
	asleep := h.asleep
	m.mu.Unlock()
	if asleep {
		// It slept with everything it read settled and saved and nothing left to read, and
		// an append acknowledged before this call would have woken it.
		return nil
	}
	stats, err := m.d.Log.Stats(ctx, stream)
	if err != nil {
		return fmt.Errorf("read journal position: %w", err)
	}
	req := &flushReq{upTo: stats.LastSeq, done: make(chan error, 1)}
	if err := m.send(ctx, h, command{flush: req}); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) handle(stream string) *handle {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.actors[stream]
}

// Recent returns the stream's latest delivered objects and failures, newest first.
func (m *Manager) Recent(stream string, n int) ([]ObjectRecord, []FailureRecord) {
	h := m.handle(stream)
	if h == nil {
		return nil, nil
	}
	return h.status.Objects(n), h.status.Failures(n)
}

// Status returns the delivery status of the stream's legs, or false without an actor.
func (m *Manager) Status(stream string) ([]LegStatus, bool) {
	h := m.handle(stream)
	if h == nil {
		return nil, false
	}
	return h.status.Snapshot(m.d.Clock.Now()), true
}

// Streams returns the names of the streams with an actor.
func (m *Manager) Streams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.actors))
	for name := range m.actors {
		out = append(out, name)
	}
	return out
}

// sample records the gauges of every running stream until ctx ends.
func (m *Manager) sample(ctx context.Context) {
	hits := map[string]int64{}
	for {
		if sleep(ctx, m.d.Clock, sampleEvery) != nil {
			return
		}
		type sampled struct {
			name    string
			status  *Status
			dynamic bool
		}
		m.mu.Lock()
		hs := make([]sampled, 0, len(m.actors))
		for _, h := range m.actors {
			hs = append(hs, sampled{h.name, h.status, h.dynamic})
		}
		m.mu.Unlock()
		for _, h := range hs {
			for _, l := range h.status.Snapshot(m.d.Clock.Now()) {
				prefix := l.Metric
				if prefix == "" {
					prefix = "DeliveryToS3"
					if l.Leg == LegBackup {
						prefix = "BackupToS3"
					}
				}
				m.d.Metrics.Record(h.name, prefix+".DataFreshness", metrics.UnitSeconds, l.DataFreshness.Seconds())
				if h.dynamic && l.Leg == LegDestination {
					m.d.Metrics.Record(h.name, "PartitionCount", metrics.UnitCount, float64(l.Partitions))
					exceeded := 0.0
					if l.PartitionLimitHits > hits[h.name] {
						exceeded = 1
					}
					hits[h.name] = l.PartitionLimitHits
					m.d.Metrics.Record(h.name, "PartitionCountExceeded", metrics.UnitCount, exceeded)
				}
			}
		}
	}
}
