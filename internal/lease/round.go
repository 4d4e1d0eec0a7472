package lease

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// write is one lease write of a round: a take (a create when rev is 0, else a compare-and-set on
// the dead lease at rev) or a release (a delete at rev).
type write struct {
	stream    string
	release   bool
	held      bool // a release of a held lease: its worker is stopped just before
	rev       uint64
	preferred string // takes: the stream's preferred node
	why       string
	value     []byte // takes: the new lease

	newRev  uint64 // results
	err     error
	skipped bool // not made: half the round had gone
}

// plan is the writes a round wants, in the order they are made within the bound.
type plan struct {
	releases []*write // held leases: their workers are stopped first
	takes    []*write
	cleanups []*write // leases nobody holds: a dead node's for a stream gone, or ours unheld
	// unstarted counts leases of this node whose workers were left to the next round
	// (Manager.startBy).
	unstarted int
}

// plan decides the round's writes from the leases in memory, and stops at once the workers of
// leases that changed under this node (which can only happen if its heartbeat lapsed).
func (m *Manager) plan(streams, live []string, leases map[string]entry, h Handler) plan {
	var p plan
	wanted := make(map[string]bool, len(streams))
	for _, s := range streams {
		wanted[s] = true
	}
	lost := map[string]bool{} // not taken again in the round that lost them
	for _, s := range sortedKeys(m.held) {
		l := m.held[s]
		if e, ok := leases[s]; !ok || e.deleted || e.rev != l.rev {
			m.lose(s, h, "lease changed")
			lost[s] = true
			continue
		}
		pref := Preferred(live, s)
		switch {
		case !wanted[s]:
			p.releases = append(p.releases, &write{stream: s, release: true, held: true, rev: l.rev, why: "stream gone"})
		case pref != l.preferred && pref != m.cfg.Node:
			// Another node became preferred (it joined): hand the stream over. A stream taken
			// while its preferred node was live but did not take it stays until the
			// preference changes, so it does not bounce between the two.
			p.releases = append(p.releases, &write{stream: s, release: true, held: true, rev: l.rev, why: "rebalance"})
		default:
			l.preferred = pref
		}
	}

	canTake := m.epoch != "" && !m.failing
	var others []*write // takes by a node that is not preferred, after the preferred ones
	for _, s := range streams {
		if m.held[s] != nil || lost[s] {
			continue
		}
		e, ok := leases[s]
		pref := Preferred(live, s)
		if ok && !e.deleted && m.valid(e) {
			delete(m.vacant, s)
			if e.node == m.cfg.Node {
				// Ours, from a take whose reply was lost or a release that failed.
				switch {
				case pref == m.cfg.Node && canTake && m.cfg.Now().Before(m.startBy):
					m.acquire(s, &holding{rev: e.rev, preferred: pref}, h, "adopt")
				case pref == m.cfg.Node && canTake:
					p.unstarted++ // the next round
				default:
					p.cleanups = append(p.cleanups, &write{stream: s, release: true, rev: e.rev, why: "not ours to keep"})
				}
			}
			continue
		}
		// Vacant: no lease, or its node's epoch is gone.
		var rev uint64
		if ok && !e.deleted {
			rev = e.rev
		}
		v := m.vacant[s]
		if v.preferred != pref {
			v = vacancy{preferred: pref}
		}
		switch {
		case !canTake:
		case pref == m.cfg.Node:
			p.takes = append(p.takes, &write{stream: s, rev: rev, preferred: pref, why: "preferred"})
		case m.backlogs[pref] > 0:
			// Its preferred node defers writes (MaxWrites): it will come to this one. Count
			// again from its first round without a backlog.
			m.vacant[s] = vacancy{preferred: pref}
		case v.looks >= 2:
			// Its preferred node had a whole round to take it and did not. (Two looks, not
			// one: the first may come just after the preferred node's look, when rounds on
			// the nodes run in step.)
			others = append(others, &write{stream: s, rev: rev, preferred: pref, why: "vacant"})
		default:
			v.looks++
			m.vacant[s] = v
		}
	}
	p.takes = append(p.takes, others...)
	for s := range m.vacant {
		if !wanted[s] {
			delete(m.vacant, s)
		}
	}

	// Leases of streams gone: the preferred node deletes a dead node's; each node its own.
	for s, e := range leases {
		if wanted[s] || e.deleted || m.held[s] != nil || lost[s] {
			continue
		}
		if ours := e.node == m.cfg.Node && e.epoch == m.epoch; ours || !m.valid(e) && Preferred(live, s) == m.cfg.Node {
			p.cleanups = append(p.cleanups, &write{stream: s, release: true, rev: e.rev, why: "stream gone"})
		}
	}
	return p
}

// apply makes the planned writes, at most MaxWrites, Writers at a time, stopping the worker of
// each held lease it releases before the release, then starts the workers of the leases it
// took.
func (m *Manager) apply(ctx context.Context, p plan, h Handler) {
	if len(p.releases)+len(p.takes)+len(p.cleanups) > 0 {
		m.log.Debug("lease writes", "releases", len(p.releases), "takes", len(p.takes), "cleanups", len(p.cleanups))
	}
	budget := m.cfg.MaxWrites
	var batch []*write
	deferred := p.unstarted
	for _, ws := range [][]*write{p.releases, p.takes, p.cleanups} {
		n := min(len(ws), budget)
		batch = append(batch, ws[:n]...)
		deferred += len(ws) - n
		budget -= n
	}
	defer func() {
		for _, w := range batch {
			if w.skipped {
				deferred++
			}
		}
		m.backlog = deferred
		if deferred > 0 {
			m.count(func(c *Counters) { c.Deferred += uint64(deferred) })
			m.log.Info("lease writes deferred to the next round", "deferred", deferred, "max", m.cfg.MaxWrites)
		}
	}()
	if len(batch) == 0 {
		return
	}
	epoch := m.epoch
	now := m.cfg.Now()
	for _, w := range batch {
		if !w.release {
			w.value = m.leaseValue(epoch, now)
		}
	}

	began := time.Now()
	m.writeAll(ctx, batch, h)
	m.log.Debug("lease writes made", "writes", len(batch), "took", time.Since(began))

	lossAt := m.lossAt()
	for _, w := range batch {
		switch {
		case w.skipped:
		case w.err == nil && w.release:
			m.cache.set(w.stream, entry{rev: w.rev, deleted: true})
			m.count(func(c *Counters) { c.Released++ })
		case w.err == nil:
			m.cache.set(w.stream, entry{node: m.cfg.Node, epoch: epoch, rev: w.newRev})
			if m.epoch != epoch || !m.cfg.Now().Before(lossAt) {
				continue // the epoch is over: the lease is vacant already
			}
			if !m.cfg.Now().Before(m.startBy) {
				deferred++ // ours: adopted by the next round, or deleted if not preferred
				continue
			}
			delete(m.vacant, w.stream)
			m.acquire(w.stream, &holding{rev: w.newRev, preferred: w.preferred}, h, w.why)
		case errors.Is(w.err, journal.ErrConflict) || errors.Is(w.err, journal.ErrNotFound):
			// Another node was faster, or the view was stale: the watch will tell.
			m.log.Debug("lease write lost a race", "stream", w.stream, "release", w.release, "why", w.why, "err", w.err)
		default:
			m.count(func(c *Counters) { c.StoreErrors++ })
			m.log.Warn("lease write failed", "stream", w.stream, "release", w.release, "err", w.err)
		}
	}
	m.expire(h)
}

// writeAll makes the writes, Writers at a time, each cut off with the round or when the workers
// must be stopped for want of a heartbeat.
func (m *Manager) writeAll(ctx context.Context, ws []*write, h Handler) {
	cctx, cancel := m.op(ctx, h)
	defer cancel()
	next := make(chan *write)
	var wg sync.WaitGroup
	for range min(m.cfg.Writers, len(ws)) {
		wg.Go(func() {
			for w := range next {
				switch {
				case w.release:
					w.err = m.leases.DeleteRev(cctx, w.stream, w.rev)
				case w.rev == 0:
					w.newRev, w.err = m.leases.Create(cctx, w.stream, w.value)
				default:
					w.newRev, w.err = m.leases.Update(cctx, w.stream, w.value, w.rev)
				}
			}
		})
	}
	// No write starts once half a round has gone (a slow store). A held lease's worker is
	// stopped just before its release starts.
	stopAt := m.cfg.Now().Add(m.cfg.Renew / 2)
	n := 0
	for _, w := range ws {
		if !m.cfg.Now().Before(stopAt) {
			w.skipped = true
			continue
		}
		if w.held {
			m.lose(w.stream, h, w.why)
		}
		next <- w
		n++
	}
	close(next)
	wg.Wait()
	m.called(n)
}

func (m *Manager) leaseValue(epoch string, since time.Time) []byte {
	v, err := json.Marshal(leaseValue{Node: m.cfg.Node, Epoch: epoch, Since: since})
	if err != nil {
		panic(err) // strings and a time
	}
	return v
}

// acquire records a lease taken and starts its worker.
func (m *Manager) acquire(s string, l *holding, h Handler, why string) {
	m.held[s] = l
	m.mu.Lock()
	m.owns[s] = true
	m.counters.Acquired++
	m.mu.Unlock()
	m.log.Info("lease acquired", "stream", s, "how", why)
	h.Acquired(s)
}

// lose forgets a held lease and stops its worker.
func (m *Manager) lose(s string, h Handler, reason string) {
	delete(m.held, s)
	m.mu.Lock()
	delete(m.owns, s)
	m.counters.Lost++
	m.mu.Unlock()
	m.log.Info("lease lost", "stream", s, "reason", reason)
	h.Lost(s)
}

// stop stops every worker, then deletes the heartbeat, with a fresh deadline of one Renew since
// ctx has ended: every lease of this node is vacant from then on.
func (m *Manager) stop(ctx context.Context, h Handler) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Renew)
	defer cancel()
	m.loseAll(h, "stopping")
	err := m.nodes.Delete(ctx, m.cfg.Node)
	m.called(1)
	if err != nil {
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

// publish makes the round's view the one Status and Owner return. Without a complete view of
// the leases the owners stay as they were.
func (m *Manager) publish(streams []string) {
	leases, _, ready := m.cache.snapshot()
	var owners map[string]string
	if ready {
		owners = make(map[string]string, len(streams))
		for _, s := range streams {
			if e, ok := leases[s]; ok && !e.deleted && m.valid(e) {
				owners[s] = e.node
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	nodes := make([]NodeStatus, 0, len(m.infos))
	for _, n := range sortedKeys(m.infos) {
		nodes = append(nodes, m.infos[n])
	}
	m.status.Nodes = nodes
	if owners != nil {
		m.status.Owners = owners
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
