// Package lease decides which node of a cluster runs each delivery stream's worker. Every node
// heartbeats into a nodes bucket; each stream's owner holds a lease in a leases bucket and renews
// it with a compare-and-set; the preferred owner of a stream is the live node with the highest
// rendezvous score (docs/design/cluster.md, "Delivery ownership: leases").
//
// Timing, with Renew R and TTL T (defaults 2 s and 6 s):
//
//   - A held lease is renewed every R. A renewal that finds the lease changed or gone
//     (ErrConflict, ErrNotFound) stops the worker at once.
//   - A renewal that fails for another reason (a timeout while partitioned) is retried every
//     round; once T−R has passed since the last successful renewal was sent, the worker is
//     stopped (Lost) without waiting for a round, so it stops at least R before the lease can
//     expire and be taken elsewhere (as long as Lost returns within R). Store calls are cut off
//     at that deadline, so a hung call cannot delay it.
//   - A graceful stop stops the workers, then releases every lease and the heartbeat: the
//     preferred nodes among the others take the streams in their next round (≤ R). A dead
//     node's heartbeat and leases expire within T of their last write (the heartbeat first, as
//     it is written first in a round) and the new preferred node takes each lease in its next
//     round: delivery resumes ≤ T + R after the death.
//   - A lease left vacant is taken by a node that is not its preferred one only after it saw
//     the lease vacant, with the same preferred node, in two consecutive rounds, so the
//     preferred node had a whole round to take it even when the nodes' rounds run in step:
//     a stream never waits more than about 3R on a preferred node that cannot take it.
//   - A joining node's share moves to it within two rounds: its owners stop and release in
//     their next round, and it takes them in its next one. An owner hands a stream over only
//     when the stream's preferred node changes to another node; a stream taken because its
//     preferred node left it vacant stays where it is until the preference changes again, so it
//     does not bounce between a node that cannot take it and one that can.
//
// A round makes a bounded number of store calls and starts no goroutine: a heartbeat, a key
// listing and one read per node; one renewal or release per held stream (plus a read and a retry
// when the renewal's earlier reply was lost); one read per other stream, plus a create for each
// vacant lease it takes. Every call of a round ends within R.
package lease

import (
	"bytes"
	"context"
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

var _ Store = (*journal.KV)(nil)

// Handler starts and stops the workers of the streams this node owns. The Manager calls it from
// Run's goroutine, one call at a time, so for one stream Acquired and Lost alternate.
type Handler interface {
	// Acquired reports that this node now owns stream: start its worker. It must not block long.
	Acquired(stream string)
	// Lost reports that this node no longer owns stream (the renewal failed, the lease was
	// released to rebalance or because the stream is gone, or Run is ending). It returns only
	// once the worker is stopped.
	Lost(stream string)
}

// Defaults of Config.
const (
	DefaultRenew = 2 * time.Second
	DefaultTTL   = 6 * time.Second
)

// Config configures a Manager.
type Config struct {
	Node  string        // this node's name: its key in the nodes bucket and the owner in its leases
	Addr  string        // this node's API address, published in its heartbeat
	Renew time.Duration // heartbeat, renewal and placement period; 0 = DefaultRenew
	TTL   time.Duration // the TTL of both buckets; 0 = DefaultTTL; must be over 2*Renew
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
	Released    uint64 `json:"released"`    // leases deleted: rebalance, stream gone, stop
	RenewErrors uint64 `json:"renewErrors"` // renewals failed with an error other than a conflict
	StoreErrors uint64 `json:"storeErrors"` // other failed store calls (heartbeat, reads, takes)
}

// nodeValue is a heartbeat, the value of a node's key in the nodes bucket.
type nodeValue struct {
	Node    string    `json:"node"`
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
}

// leaseValue is the value of a stream's key in the leases bucket.
type leaseValue struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// vacancy is a stream seen without an owner in consecutive rounds, all with one preferred node.
type vacancy struct {
	preferred string
	looks     int
}

// holding is a lease this node holds.
type holding struct {
	value   []byte
	rev     uint64
	renewed time.Time // when the last successful write of the lease was sent
	failing bool      // the last renewal failed with an error other than a conflict
	// preferred is the stream's preferred node in the last round; when it changes to another
	// node, the lease is released to that node.
	preferred string
}

// Manager heartbeats this node, holds its leases and takes the streams it should own.
type Manager struct {
	cfg           Config
	nodes, leases Store
	log           *slog.Logger
	running       atomic.Bool

	// Owned by Run's goroutine.
	started time.Time
	held    map[string]*holding
	vacant  map[string]vacancy
	owners  map[string]string
	infos   map[string]NodeStatus

	mu       sync.Mutex // guards the fields below; never held across store or Handler calls
	owns     map[string]bool
	status   Status
	counters Counters
}

// New returns a Manager for the node cfg.Node, using the buckets nodes and leases.
func New(cfg Config, nodes, leases Store, log *slog.Logger) (*Manager, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		cfg:    cfg,
		nodes:  nodes,
		leases: leases,
		log:    log.With("node", cfg.Node),
		held:   map[string]*holding{},
		vacant: map[string]vacancy{},
		owners: map[string]string{},
		infos:  map[string]NodeStatus{},
		owns:   map[string]bool{},
		status: Status{Node: cfg.Node, Nodes: []NodeStatus{}, Owners: map[string]string{}},
	}, nil
}

// Run heartbeats, renews the held leases and places streams every Renew until ctx ends, calling
// h as this node gains and loses streams. streams returns the streams to place; it is called
// once a round. When ctx ends Run stops every worker (Lost), releases every held lease and
// deletes the heartbeat, so the other nodes take over in their next round, and returns nil.
func (m *Manager) Run(ctx context.Context, streams func() []string, h Handler) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("lease manager already running")
	}
	defer m.running.Store(false)
	m.started = m.cfg.Now()
	m.round(ctx, streams(), h)
	tick := time.NewTicker(m.cfg.Renew)
	defer tick.Stop()
	for {
		// Between rounds, wake for the first failing lease that must be given up.
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

// round is one heartbeat, renewal and placement pass (its store calls: see the package doc).
// Held leases are renewed before other streams are placed.
func (m *Manager) round(parent context.Context, streams []string, h Handler) {
	ctx, cancel := context.WithTimeout(parent, m.cfg.Renew)
	defer cancel()
	m.count(func(c *Counters) { c.Rounds++ })

	m.heartbeat(ctx, h)
	live, liveOK := m.liveNodes(ctx, h)

	wanted := make(map[string]bool, len(streams))
	for _, s := range streams {
		wanted[s] = true
	}
	lost := map[string]bool{} // not taken again in the round that lost them
	for _, s := range sortedKeys(m.held) {
		l, ok := m.held[s]
		if parent.Err() != nil {
			return // Run is ending: stop releases what is held
		}
		if !ok {
			continue // lost by expire during this loop
		}
		lost[s] = true
		pref := l.preferred
		if liveOK {
			pref = Preferred(live, s)
		}
		switch {
		case !wanted[s]:
			m.release(ctx, s, h, "stream gone")
		case pref != l.preferred && pref != m.cfg.Node:
			// Another node became preferred (it joined): hand the stream over. A stream taken
			// while its preferred node was live but did not take it stays until the
			// preference changes, so it does not bounce between the two.
			m.release(ctx, s, h, "rebalance")
		default:
			l.preferred = pref
			m.renew(ctx, s, l, h)
			lost[s] = m.held[s] == nil
		}
	}

	for _, s := range streams {
		if parent.Err() != nil {
			return
		}
		if m.held[s] != nil || lost[s] || !liveOK {
			continue
		}
		m.place(ctx, s, Preferred(live, s), h)
	}
	m.expire(h)

	for s := range m.vacant {
		if !wanted[s] {
			delete(m.vacant, s)
		}
	}
	for s := range m.owners {
		if !wanted[s] {
			delete(m.owners, s)
		}
	}
	m.publish()
}

// op returns the context for one store call of a round: it ends with the round, or when the
// first failing lease must be given up, so a hung call cannot delay a Lost. It first gives up
// the leases already past that point.
func (m *Manager) op(ctx context.Context, h Handler) (context.Context, context.CancelFunc) {
	m.expire(h)
	if at, ok := m.nextLoss(); ok {
		return context.WithTimeout(ctx, max(at.Sub(m.cfg.Now()), 0))
	}
	return context.WithCancel(ctx)
}

// heartbeat publishes this node in the nodes bucket.
func (m *Manager) heartbeat(ctx context.Context, h Handler) {
	v, err := json.Marshal(nodeValue{Node: m.cfg.Node, Addr: m.cfg.Addr, Started: m.started})
	if err != nil {
		panic(err) // a struct of strings and a time
	}
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	if err := m.nodes.Put(cctx, m.cfg.Node, v); err != nil {
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("heartbeat failed", "err", err)
	}
}

// liveNodes reads the nodes bucket: the sorted live node names, always including this one, and
// false if the list could not be read.
//
// A key listing can miss a key rewritten while it runs, so the nodes live in the last round are
// looked up too, and each node's own entry (read from the bucket's leader) decides.
func (m *Manager) liveNodes(ctx context.Context, h Handler) ([]string, bool) {
	cctx, cancel := m.op(ctx, h)
	keys, err := m.nodes.Keys(cctx)
	cancel()
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
	keys = append(keys, m.cfg.Node) // alive even if our heartbeat is late
	slices.Sort(keys)
	keys = slices.Compact(keys)
	live := keys[:0:0]
	for _, n := range keys {
		info := m.infos[n]
		info.Name = n
		if n == m.cfg.Node {
			info.Addr, info.Started, info.Live = m.cfg.Addr, m.started, true
			m.infos[n] = info
			live = append(live, n)
			continue
		}
		cctx, cancel := m.op(ctx, h)
		v, _, err := m.nodes.Entry(cctx, n)
		cancel()
		var nv nodeValue
		switch {
		case err == nil:
			info.Live = true
			if json.Unmarshal(v, &nv) == nil {
				info.Addr, info.Started = nv.Addr, nv.Started
			}
		case errors.Is(err, journal.ErrNotFound):
			info.Live = false
		default:
			m.count(func(c *Counters) { c.StoreErrors++ })
			// Keep what the last round knew.
		}
		m.infos[n] = info
		if info.Live {
			live = append(live, n)
		}
	}
	return live, true
}

// renew extends a held lease; a conflict or a missing lease loses it at once.
func (m *Manager) renew(ctx context.Context, s string, l *holding, h Handler) {
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	if m.held[s] != l {
		return // given up by op
	}
	sent := m.cfg.Now()
	rev, err := m.leases.Update(cctx, s, l.value, l.rev)
	if errors.Is(err, journal.ErrConflict) {
		// Our own earlier write may have landed with its reply lost (a timeout): if the lease
		// still holds exactly our value, renew it at its revision.
		if v, cur, gerr := m.leases.Entry(cctx, s); gerr == nil && bytes.Equal(v, l.value) {
			sent = m.cfg.Now()
			rev, err = m.leases.Update(cctx, s, l.value, cur)
		}
	}
	switch {
	case err == nil:
		l.rev, l.renewed = rev, sent
		if l.failing {
			l.failing = false
			m.log.Info("lease renewed again", "stream", s)
		}
	case errors.Is(err, journal.ErrConflict) || errors.Is(err, journal.ErrNotFound):
		m.lose(s, h, "renewal conflict", err)
	default:
		m.count(func(c *Counters) { c.RenewErrors++ })
		if !l.failing {
			l.failing = true
			m.log.Warn("lease renewal failed", "stream", s, "err", err,
				"until", l.renewed.Add(m.cfg.TTL-m.cfg.Renew))
		}
	}
}

// release stops the worker of a held lease, then deletes the lease so another node can take it.
func (m *Manager) release(ctx context.Context, s string, h Handler, reason string) {
	l := m.held[s]
	m.lose(s, h, reason, nil)
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	m.deleteLease(cctx, s, l)
}

// deleteLease deletes a lease this node held. If it fails the lease expires after TTL.
func (m *Manager) deleteLease(ctx context.Context, s string, l *holding) {
	err := m.leases.DeleteRev(ctx, s, l.rev)
	if errors.Is(err, journal.ErrConflict) {
		// As in renew: a renewal may have landed with its reply lost.
		if v, cur, gerr := m.leases.Entry(ctx, s); gerr == nil && bytes.Equal(v, l.value) {
			err = m.leases.DeleteRev(ctx, s, cur)
		}
	}
	if err != nil {
		if !errors.Is(err, journal.ErrConflict) && !errors.Is(err, journal.ErrNotFound) {
			m.count(func(c *Counters) { c.StoreErrors++ })
		}
		m.log.Warn("lease release failed", "stream", s, "err", err)
		return
	}
	m.count(func(c *Counters) { c.Released++ })
}

// place looks at the lease of a stream this node does not hold and takes it if it is vacant and
// this node is preferred, or it was already vacant in the two previous rounds with the same
// preferred node (which so had a whole round to take it).
func (m *Manager) place(ctx context.Context, s, preferred string, h Handler) {
	cctx, cancel := m.op(ctx, h)
	v, rev, err := m.leases.Entry(cctx, s)
	cancel()
	switch {
	case err == nil:
		delete(m.vacant, s)
		var lv leaseValue
		if json.Unmarshal(v, &lv) != nil {
			m.owners[s] = ""
			return
		}
		m.owners[s] = lv.Node
		if lv.Node == m.cfg.Node {
			// Ours from before a restart, or from a take whose reply was lost: renew it.
			// Recorded with no preferred node, so that the next round hands it to its
			// preferred node if that is another.
			m.take(ctx, s, rev, lv.Since, "", h, "adopt")
		}
	case errors.Is(err, journal.ErrNotFound):
		delete(m.owners, s)
		v := m.vacant[s]
		if v.preferred != preferred {
			v = vacancy{preferred: preferred}
		}
		switch {
		case preferred == m.cfg.Node:
			m.take(ctx, s, 0, time.Time{}, preferred, h, "preferred")
		case v.looks >= 2:
			// Its preferred node had a whole round to take it and did not. (Two looks, not
			// one: the first may come just after the preferred node's look, when rounds on
			// the nodes run in step.)
			m.take(ctx, s, 0, time.Time{}, preferred, h, "vacant")
		default:
			v.looks++
			m.vacant[s] = v
		}
	default:
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("read lease failed", "stream", s, "err", err)
	}
}

// take creates the lease of s (rev 0) or rewrites this node's own lease at rev, then starts the
// worker.
func (m *Manager) take(ctx context.Context, s string, rev uint64, since time.Time, preferred string, h Handler, why string) {
	sent := m.cfg.Now()
	if since.IsZero() {
		since = sent
	}
	v, err := json.Marshal(leaseValue{Node: m.cfg.Node, Since: since})
	if err != nil {
		panic(err) // a string and a time
	}
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	if rev == 0 {
		rev, err = m.leases.Create(cctx, s, v)
	} else {
		rev, err = m.leases.Update(cctx, s, v, rev)
	}
	switch {
	case err == nil:
	case errors.Is(err, journal.ErrConflict) || errors.Is(err, journal.ErrNotFound):
		return // another node was faster
	default:
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("take lease failed", "stream", s, "err", err)
		return
	}
	delete(m.vacant, s)
	m.held[s] = &holding{value: v, rev: rev, renewed: sent, preferred: preferred}
	m.owners[s] = m.cfg.Node
	m.mu.Lock()
	m.owns[s] = true
	m.counters.Acquired++
	m.mu.Unlock()
	m.log.Info("lease acquired", "stream", s, "how", why)
	h.Acquired(s)
}

// lose forgets a held lease and stops its worker.
func (m *Manager) lose(s string, h Handler, reason string, err error) {
	delete(m.held, s)
	if m.owners[s] == m.cfg.Node {
		delete(m.owners, s)
	}
	m.mu.Lock()
	delete(m.owns, s)
	m.counters.Lost++
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("lease lost", "stream", s, "reason", reason, "err", err)
	} else {
		m.log.Info("lease lost", "stream", s, "reason", reason)
	}
	h.Lost(s)
}

// nextLoss returns when the first failing lease must be given up: TTL−Renew after its last
// successful renewal was sent.
func (m *Manager) nextLoss() (time.Time, bool) {
	var at time.Time
	for _, l := range m.held {
		if !l.failing {
			continue
		}
		if t := l.renewed.Add(m.cfg.TTL - m.cfg.Renew); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at, !at.IsZero()
}

// expire loses the failing leases whose renewal has failed for TTL−Renew: they may have expired
// and been taken elsewhere by the time the next renewal could land.
func (m *Manager) expire(h Handler) {
	at, ok := m.nextLoss()
	if !ok {
		return
	}
	now := m.cfg.Now()
	if now.Before(at) {
		return
	}
	for _, s := range sortedKeys(m.held) {
		if l := m.held[s]; l.failing && !now.Before(l.renewed.Add(m.cfg.TTL-m.cfg.Renew)) {
			m.lose(s, h, "renewal failing until the lease may expire", nil)
		}
	}
}

// stop stops every worker and releases every lease and the heartbeat, with a fresh deadline
// of one Renew since ctx has ended.
func (m *Manager) stop(ctx context.Context, h Handler) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Renew)
	defer cancel()
	for _, s := range sortedKeys(m.held) {
		l := m.held[s]
		m.lose(s, h, "stopping", nil)
		m.deleteLease(ctx, s, l)
	}
	if err := m.nodes.Delete(ctx, m.cfg.Node); err != nil {
		m.count(func(c *Counters) { c.StoreErrors++ })
		m.log.Warn("delete heartbeat failed", "err", err)
	}
	m.mu.Lock()
	for i := range m.status.Nodes {
		if m.status.Nodes[i].Name == m.cfg.Node {
			m.status.Nodes[i].Live = false
		}
	}
	m.mu.Unlock()
}

// publish makes the round's view the one Status returns.
func (m *Manager) publish() {
	owners := make(map[string]string, len(m.owners))
	for s, n := range m.owners {
		if n != "" {
			owners[s] = n
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	nodes := make([]NodeStatus, 0, len(m.infos))
	for _, n := range sortedKeys(m.infos) {
		nodes = append(nodes, m.infos[n])
	}
	m.status.Nodes = nodes
	m.status.Owners = owners
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
