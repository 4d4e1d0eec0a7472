// Package lease decides which node of a cluster runs each delivery stream's worker. Every node
// heartbeats into a nodes bucket under an incarnation, its epoch; each stream's owner holds a
// lease in a leases bucket naming the node and the epoch, valid for as long as that node's
// heartbeat exists with that epoch; the preferred owner of a stream is the live node with the
// highest rendezvous score (docs/design/cluster.md, "Delivery ownership: leases").
//
// A lease is not renewed: the heartbeat renews all of a node's leases at once, and every node
// keeps the leases bucket in memory through one watch. A round so makes a fixed number of store
// calls whatever the number of streams: a heartbeat (a compare-and-set on its own revision), a
// listing of the nodes bucket and one read per node. It writes a lease only to change it: to take
// a vacant lease (create) or one whose node is dead (a compare-and-set on the dead lease's
// revision), to release one (a delete at its revision), and at most Config.MaxWrites of those
// per round, Config.Writers at a time, taking none once half the round has gone; the rest wait
// for the next round (Counters.Deferred) and the node's next heartbeat shows their number.
// Workers are started (Acquired) only in the first three quarters of a round, so slow starts
// cannot hold off the next heartbeat; a lease taken but not started is adopted, without a
// write, by a later round.
//
// Timing, with Renew R and TTL T (defaults 2 s and 6 s); T is the TTL of the nodes bucket, the
// leases bucket has none:
//
//   - The heartbeat is written every R. One that finds the heartbeat changed or gone (the
//     epoch's leases may be taken already) stops every worker at once and starts a new epoch:
//     the old epoch's leases, this node's included, are then vacant for every node.
//   - A heartbeat that fails for another reason (a timeout while partitioned) is retried every
//     round; once T−R has passed since the last successful one was sent, every worker is
//     stopped (Lost) without waiting for a round, and the next heartbeat starts a new epoch. The
//     workers so stop at least R before the heartbeat can expire and their leases be taken (as
//     long as Lost returns within R). Store calls are cut off at that deadline, so a hung call
//     cannot delay it.
//   - A graceful stop stops the workers, then deletes the heartbeat: every lease of the node is
//     vacant at once, and the preferred nodes among the others take the streams in their next
//     round (≤ R, more when there are more than MaxWrites per node). A dead node's heartbeat
//     expires within T of its last write, and the new preferred node takes each lease in its
//     next round: delivery resumes ≤ T + R after the death (plus a round per MaxWrites leases).
//   - A vacant lease (missing, or its node's epoch gone) is taken by a node that is not its
//     preferred one only after it saw the lease vacant, with the same preferred node, in two
//     consecutive rounds, so the preferred node had a whole round to take it even when the
//     nodes' rounds run in step: a stream never waits more than about 3R on a preferred node
//     that cannot take it. Rounds in which the preferred node's heartbeat shows deferred writes
//     do not count: it is busy, not unable.
//   - A joining node's share moves to it within two rounds: its owners stop and release in
//     their next round, and it takes them in its next one. An owner hands a stream over only
//     when the stream's preferred node changes to another node; a stream taken because its
//     preferred node left it vacant stays where it is until the preference changes again, so it
//     does not bounce between a node that cannot take it and one that can.
//
// Every lease write is a compare-and-set against the entry the watch showed, so a stale view
// costs a failed write, never a second owner.
package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// Store is the part of a journal KV bucket the Manager uses, for both the nodes bucket and the
// leases bucket. Entry, Update, DeleteRev and Create report journal.ErrNotFound and
// journal.ErrConflict as *journal.KV does.
type Store interface {
	Entry(ctx context.Context, key string) ([]byte, uint64, error)
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	DeleteRev(ctx context.Context, key string, rev uint64) error
	Keys(ctx context.Context) ([]string, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// LeaseStore is the leases bucket: a Store that can be watched. WatchReady behaves as
// (*journal.KV).WatchReady: fn sees every key's current value, then ready is called, then fn
// sees every later change in order, until ctx ends.
type LeaseStore interface {
	Store
	WatchReady(ctx context.Context, fn func(journal.Change), ready func()) error
}

var _ LeaseStore = (*journal.KV)(nil)

// Handler starts and stops the workers of the streams this node owns. The Manager calls it from
// Run's goroutine, one call at a time, so for one stream Acquired and Lost alternate.
type Handler interface {
	// Acquired reports that this node now owns stream: start its worker. It must not block long.
	Acquired(stream string)
	// Lost reports that this node no longer owns stream (the heartbeat failed, the lease was
	// released to rebalance or because the stream is gone, or Run is ending). It returns only
	// once the worker is stopped.
	Lost(stream string)
}

// Defaults of Config.
const (
	DefaultRenew     = 2 * time.Second
	DefaultTTL       = 6 * time.Second
	DefaultMaxWrites = 5000
	DefaultWriters   = 32
)

// Config configures a Manager.
type Config struct {
	Node  string        // this node's name: its key in the nodes bucket and the owner in its leases
	Addr  string        // this node's API address, published in its heartbeat
	Renew time.Duration // heartbeat and placement period; 0 = DefaultRenew
	TTL   time.Duration // the TTL of the nodes bucket; 0 = DefaultTTL; must be over 2*Renew
	// MaxWrites bounds the lease writes (takes and releases) of one round; 0 = DefaultMaxWrites.
	// Takes and deletions also stop once half a round has gone.
	MaxWrites int
	// Writers is how many lease writes of a round run at once; 0 = DefaultWriters.
	Writers int
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Renew == 0 {
		c.Renew = DefaultRenew
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.MaxWrites == 0 {
		c.MaxWrites = DefaultMaxWrites
	}
	if c.Writers == 0 {
		c.Writers = DefaultWriters
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first field out of bounds.
func (c Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("lease config: node is empty")
	case c.Renew <= 0:
		return fmt.Errorf("lease config: renew %s must be positive", c.Renew)
	case c.TTL <= 2*c.Renew:
		return fmt.Errorf("lease config: ttl %s must be over 2*renew (%s)", c.TTL, 2*c.Renew)
	case c.MaxWrites < 0:
		return fmt.Errorf("lease config: max writes %d must not be negative", c.MaxWrites)
	case c.Writers < 0:
		return fmt.Errorf("lease config: writers %d must not be negative", c.Writers)
	}
	return nil
}

// Status is a snapshot of what a Manager knows, for `hydrant cluster status` and the console.
type Status struct {
	Node     string            `json:"node"`     // this node
	Nodes    []NodeStatus      `json:"nodes"`    // every node seen since Run started, by name
	Owners   map[string]string `json:"owners"`   // stream → owning node, for the streams with an owner
	Counters Counters          `json:"counters"` // since New
}

// NodeStatus is one node as its heartbeat describes it.
type NodeStatus struct {
	Name    string    `json:"name"`
	Addr    string    `json:"addr,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Live    bool      `json:"live"` // its heartbeat was present in the last round
}

// Counters count what the Manager did and logged.
type Counters struct {
	Rounds      uint64 `json:"rounds"`
	Acquired    uint64 `json:"acquired"`    // Acquired calls
	Lost        uint64 `json:"lost"`        // Lost calls
	Released    uint64 `json:"released"`    // leases deleted: rebalance, stream gone
	RenewErrors uint64 `json:"renewErrors"` // heartbeats failed with an error other than a conflict
	StoreErrors uint64 `json:"storeErrors"` // other failed store calls (listing, reads, writes)
	Epochs      uint64 `json:"epochs"`      // epochs started: 1 + one per heartbeat lost
	Deferred    uint64 `json:"deferred"`    // lease writes left to a later round by MaxWrites
	StoreCalls  uint64 `json:"storeCalls"`  // calls to the buckets, the watch not included
}

// nodeValue is a heartbeat, the value of a node's key in the nodes bucket.
type nodeValue struct {
	Node    string    `json:"node"`
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
	Epoch   string    `json:"epoch,omitempty"`
	// Backlog is how many lease writes the node's last round deferred: while it has some, the
	// vacant leases it prefers are not a sign that it cannot take them.
	Backlog int `json:"backlog,omitempty"`
}

// leaseValue is the value of a stream's key in the leases bucket.
type leaseValue struct {
	Node  string    `json:"node"`
	Epoch string    `json:"epoch,omitempty"` // "" in a lease of an earlier version: valid while its node lives
	Since time.Time `json:"since"`
}

// vacancy is a stream seen without a valid lease in consecutive rounds, all with one preferred
// node.
type vacancy struct {
	preferred string
	looks     int
}

// holding is a lease this node holds.
type holding struct {
	rev uint64
	// preferred is the stream's preferred node in the last round; when it changes to another
	// node, the lease is released to that node.
	preferred string
}

// Manager heartbeats this node, holds its leases and takes the streams it should own.
type Manager struct {
	cfg     Config
	nodes   Store
	leases  LeaseStore
	log     *slog.Logger
	running atomic.Bool
	cache   *cache

	// Owned by Run's goroutine.
	started  time.Time
	epoch    string    // this incarnation; "" until its heartbeat is written
	beatRev  uint64    // the revision of the heartbeat
	beat     time.Time // when the last successful heartbeat write was sent
	failing  bool      // the last heartbeat failed with an error other than a conflict
	held     map[string]*holding
	vacant   map[string]vacancy
	infos    map[string]NodeStatus
	epochs   map[string]string // live node → its epoch, from the last round
	unsure   map[string]bool   // nodes never read, whose read failed in the last round
	backlog  int               // lease writes deferred in the last round
	backlogs map[string]int    // live node → its backlog, from the last round
	// startBy ends the part of a round in which workers are started (Acquired), so that slow
	// starts cannot hold off the next heartbeat.
	startBy time.Time

	mu       sync.Mutex // guards the fields below; never held across store or Handler calls
	owns     map[string]bool
	status   Status
	counters Counters
}

// New returns a Manager for the node cfg.Node, using the buckets nodes and leases. The leases
// bucket must not expire its entries: a lease lasts as long as its node's heartbeat.
func New(cfg Config, nodes Store, leases LeaseStore, log *slog.Logger) (*Manager, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		cfg:      cfg,
		nodes:    nodes,
		leases:   leases,
		log:      log.With("node", cfg.Node),
		cache:    newCache(),
		held:     map[string]*holding{},
		vacant:   map[string]vacancy{},
		infos:    map[string]NodeStatus{},
		epochs:   map[string]string{},
		unsure:   map[string]bool{},
		backlogs: map[string]int{},
		owns:     map[string]bool{},
		status:   Status{Node: cfg.Node, Nodes: []NodeStatus{}, Owners: map[string]string{}},
	}, nil
}

// Run watches the leases, heartbeats and places streams every Renew until ctx ends, calling h
// as this node gains and loses streams. streams returns the streams to place; it is called
// once a round. When ctx ends Run stops every worker (Lost) and deletes the heartbeat, which
// leaves every lease of this node vacant, so the other nodes take over in their next round, and
// returns nil.
func (m *Manager) Run(ctx context.Context, streams func() []string, h Handler) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("lease manager already running")
	}
	defer m.running.Store(false)
	m.started = m.cfg.Now()
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		m.watch(wctx)
	}()
	defer func() {
		stopWatch()
		<-watched
	}()
	// No heartbeat before the leases are in memory: a live node that cannot place its streams
	// would have them taken by others after two rounds, for good.
	select {
	case <-m.cache.readyC():
	case <-ctx.Done():
		return nil
	}
	m.round(ctx, streams(), h)
	tick := time.NewTicker(m.cfg.Renew)
	defer tick.Stop()
	for {
		// Between rounds, wake when the workers must be stopped for want of a heartbeat.
		var loss <-chan time.Time
		timer := time.NewTimer(0)
		timer.Stop()
		if at, ok := m.nextLoss(); ok {
			timer.Reset(max(at.Sub(m.cfg.Now()), 0))
			loss = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			m.stop(ctx, h)
			return nil
		case <-tick.C:
			timer.Stop()
			m.round(ctx, streams(), h)
		case <-loss:
			m.expire(h)
		}
	}
}

// watch keeps the cache of the leases bucket until ctx ends, watching again a Renew after a
// watch stops.
func (m *Manager) watch(ctx context.Context) {
	for {
		gen := m.cache.reset()
		err := m.leases.WatchReady(ctx, func(c journal.Change) { m.cache.apply(gen, c) },
			func() { m.cache.setReady(gen) })
		if ctx.Err() != nil {
			return
		}
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("watch leases stopped", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.cfg.Renew):
		}
	}
}

// Owns reports whether this node holds the lease of stream. It turns false before the Lost call.
func (m *Manager) Owns(stream string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owns[stream]
}

// Owner returns the live node that held the lease of stream in the last round ("" and false
// when none did). It is cheap enough to ask on every put.
func (m *Manager) Owner(stream string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.status.Owners[stream]
	if !ok {
		return "", false
	}
	for _, info := range m.status.Nodes {
		if info.Name == n {
			return n, info.Live
		}
	}
	return "", false
}

// Nodes returns the nodes of Status without copying the owners.
func (m *Manager) Nodes() []NodeStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.status.Nodes)
}

// Status returns what the Manager saw in its last round.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.status
	s.Nodes = slices.Clone(s.Nodes)
	s.Owners = make(map[string]string, len(m.status.Owners))
	for k, v := range m.status.Owners {
		s.Owners[k] = v
	}
	s.Counters = m.counters
	return s
}

// count applies f to the counters.
func (m *Manager) count(f func(*Counters)) {
	m.mu.Lock()
	f(&m.counters)
	m.mu.Unlock()
}

// called counts n store calls.
func (m *Manager) called(n int) {
	m.count(func(c *Counters) { c.StoreCalls += uint64(n) })
}

// round is one heartbeat and placement pass (its store calls: see the package doc).
func (m *Manager) round(parent context.Context, streams []string, h Handler) {
	ctx, cancel := context.WithTimeout(parent, m.cfg.Renew)
	defer cancel()
	m.count(func(c *Counters) { c.Rounds++ })
	m.startBy = m.cfg.Now().Add(m.cfg.Renew * 3 / 4)

	m.heartbeat(ctx, h)
	// The leases before the nodes: a lease is vacant when its epoch's heartbeat is gone or
	// changed in a read made after the lease was seen, and an epoch once over never returns.
	// (The other way round, a node that started after the read of the nodes would look dead
	// in its first leases.)
	leases, owners, ready := m.cache.snapshot()
	live, liveOK := m.liveNodes(ctx, h, owners)
	if parent.Err() != nil {
		return // Run is ending: stop stops what is held
	}
	if liveOK && ready {
		p := m.plan(streams, live, leases, h)
		m.apply(ctx, p, h)
	}
	m.expire(h)
	m.publish(streams) // with this round's writes
}

// lossAt is when the workers must be stopped for want of a heartbeat: T−R after the last
// successful one was sent.
func (m *Manager) lossAt() time.Time {
	return m.beat.Add(m.cfg.TTL - m.cfg.Renew)
}

// op returns the context for a store call of a round: it ends with the round, or when the
// workers must be stopped for want of a heartbeat, so a hung call cannot delay a Lost. It
// first stops them if that time has come.
func (m *Manager) op(ctx context.Context, h Handler) (context.Context, context.CancelFunc) {
	m.expire(h)
	if m.epoch != "" {
		return context.WithTimeout(ctx, max(m.lossAt().Sub(m.cfg.Now()), 0))
	}
	return context.WithCancel(ctx)
}

// nextLoss returns when the held workers must be stopped, if any are held.
func (m *Manager) nextLoss() (time.Time, bool) {
	if len(m.held) == 0 {
		return time.Time{}, false
	}
	return m.lossAt(), true
}

// expire stops every worker once T−R has passed since the last successful heartbeat was sent:
// the heartbeat may expire, and the leases be taken, before the next one could land. The next
// heartbeat starts a new epoch.
func (m *Manager) expire(h Handler) {
	if m.epoch == "" || m.cfg.Now().Before(m.lossAt()) {
		return
	}
	m.log.Warn("heartbeat failing until it may expire: stopping every worker", "since", m.beat, "held", len(m.held))
	m.loseAll(h, "heartbeat failing until it may expire")
}

// loseAll stops every worker and forgets the epoch: its leases may be taken elsewhere.
func (m *Manager) loseAll(h Handler, reason string) {
	for _, s := range sortedKeys(m.held) {
		m.lose(s, h, reason)
	}
	m.epoch = ""
}

// heartbeat writes this node's heartbeat, on its own revision, or starts a new epoch.
func (m *Manager) heartbeat(ctx context.Context, h Handler) {
	m.expire(h)
	if m.epoch == "" {
		m.newEpoch(ctx, h)
		return
	}
	v := m.nodeValue(m.epoch)
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	sent := m.cfg.Now()
	rev, err := m.nodes.Update(cctx, m.cfg.Node, v, m.beatRev)
	m.called(1)
	if errors.Is(err, journal.ErrConflict) {
		// Our own earlier write may have landed with its reply lost (a timeout): if the
		// heartbeat still holds exactly our value, it never lapsed.
		cur, crev, gerr := m.nodes.Entry(cctx, m.cfg.Node)
		m.called(1)
		if gerr == nil && bytes.Equal(cur, v) {
			sent = m.cfg.Now()
			rev, err = m.nodes.Update(cctx, m.cfg.Node, v, crev)
			m.called(1)
		}
	}
	switch {
	case err == nil:
		m.beatRev, m.beat = rev, sent
		if m.failing {
			m.failing = false
			m.log.Info("heartbeat written again")
		}
	case errors.Is(err, journal.ErrConflict) || errors.Is(err, journal.ErrNotFound):
		m.log.Warn("heartbeat changed or gone: stopping every worker", "err", err)
		m.loseAll(h, "heartbeat lost")
		m.newEpoch(ctx, h)
	default:
		m.count(func(c *Counters) { c.RenewErrors++ })
		if !m.failing {
			m.failing = true
			m.log.Warn("heartbeat failed", "err", err, "until", m.lossAt())
		}
	}
}

// newEpoch writes a heartbeat with a new epoch. Nothing is held.
func (m *Manager) newEpoch(ctx context.Context, h Handler) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	epoch := hex.EncodeToString(b[:])
	v := m.nodeValue(epoch)
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	sent := m.cfg.Now()
	_, rev, err := m.nodes.Entry(cctx, m.cfg.Node)
	m.called(1)
	switch {
	case err == nil:
		rev, err = m.nodes.Update(cctx, m.cfg.Node, v, rev)
	case errors.Is(err, journal.ErrNotFound):
		rev, err = m.nodes.Create(cctx, m.cfg.Node, v)
	}
	m.called(1)
	if err != nil {
		m.count(func(c *Counters) { c.RenewErrors++ })
		m.log.Warn("heartbeat of a new epoch failed", "err", err)
		return
	}
	m.epoch, m.beatRev, m.beat, m.failing = epoch, rev, sent, false
	m.count(func(c *Counters) { c.Epochs++ })
	m.log.Info("new epoch", "epoch", epoch)
}

func (m *Manager) nodeValue(epoch string) []byte {
	v, err := json.Marshal(nodeValue{Node: m.cfg.Node, Addr: m.cfg.Addr, Started: m.started, Epoch: epoch, Backlog: m.backlog})
	if err != nil {
		panic(err) // strings and a time
	}
	return v
}

// liveNodes reads the nodes bucket: the sorted live node names, this one included while it has
// an epoch, and false if the list could not be read. It records each live node's epoch.
//
// A key listing can miss a key rewritten while it runs, so the nodes live in the last round and
// the nodes named in leases are looked up too, and each node's own entry (read from the
// bucket's leader) decides: a node is dead only when its entry was read missing.
func (m *Manager) liveNodes(ctx context.Context, h Handler, owners []string) ([]string, bool) {
	cctx, cancel := m.op(ctx, h)
	keys, err := m.nodes.Keys(cctx)
	cancel()
	m.called(1)
	if err != nil {
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("list nodes failed", "err", err)
		return nil, false
	}
	for n, info := range m.infos {
		if info.Live {
			keys = append(keys, n)
		}
	}
	keys = append(keys, m.cfg.Node)
	keys = append(keys, owners...)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) > 0 && keys[0] == "" {
		keys = keys[1:] // the owner of an unreadable lease
	}
	clear(m.unsure)
	live := keys[:0:0]
	for _, n := range keys {
		info := m.infos[n]
		info.Name = n
		if n == m.cfg.Node {
			info.Addr, info.Started, info.Live = m.cfg.Addr, m.started, m.epoch != ""
			m.infos[n] = info
			if info.Live {
				m.epochs[n] = m.epoch
				live = append(live, n)
			}
			continue
		}
		cctx, cancel := m.op(ctx, h)
		v, _, err := m.nodes.Entry(cctx, n)
		cancel()
		m.called(1)
		var nv nodeValue
		switch {
		case err == nil:
			info.Live = true
			if json.Unmarshal(v, &nv) == nil {
				info.Addr, info.Started = nv.Addr, nv.Started
			}
			m.epochs[n], m.backlogs[n] = nv.Epoch, nv.Backlog
		case errors.Is(err, journal.ErrNotFound):
			info.Live = false
		default:
			m.count(func(c *Counters) { c.StoreErrors++ })
			// Keep what the last round knew; a node never read is taken for live until it is.
			if _, seen := m.infos[n]; !seen {
				m.unsure[n] = true
			}
		}
		m.infos[n] = info
		if info.Live {
			live = append(live, n)
		} else {
			delete(m.epochs, n)
			delete(m.backlogs, n)
		}
	}
	return live, true
}

// valid reports whether a lease's node lives with the lease's epoch.
func (m *Manager) valid(e entry) bool {
	if m.unsure[e.node] {
		return true
	}
	epoch, ok := m.epochs[e.node]
	if !ok || !m.infos[e.node].Live {
		return false
	}
	return e.epoch == epoch
}
