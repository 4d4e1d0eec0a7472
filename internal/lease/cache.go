package lease

import (
	"encoding/json"
	"maps"
	"sync"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// entry is a lease as the watch (or this node's own write) last showed it.
type entry struct {
	node, epoch string
	rev         uint64
	deleted     bool // deleted at a revision after rev (or at rev, as the watch reports it)
}

// cache is the leases bucket in memory, kept by the watch. Changes apply in revision order per
// key, so this node's own writes, recorded at once, are not undone by the watch's late echo.
type cache struct {
	mu      sync.Mutex
	gen     uint64 // the watch the entries come from
	m       map[string]entry
	ready   bool
	readyCh chan struct{} // closed when ready
	version uint64        // bumped by every change
	snap    map[string]entry
	snapVer uint64
	owners  []string // the nodes named in snap, sorted
}

func newCache() *cache {
	return &cache{m: map[string]entry{}, readyCh: make(chan struct{})}
}

// reset empties the cache for a new watch and returns the watch's generation.
func (c *cache) reset() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = map[string]entry{}
	c.version++
	if c.ready {
		c.ready = false
		c.readyCh = make(chan struct{})
	}
	return c.gen
}

// readyC returns a channel closed once the current watch has delivered every key.
func (c *cache) readyC() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readyCh
}

func (c *cache) setReady(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.ready {
		return
	}
	c.ready = true
	close(c.readyCh)
}

// apply records a change seen by the watch of generation gen.
func (c *cache) apply(gen uint64, ch journal.Change) {
	e := entry{rev: ch.Revision, deleted: ch.Deleted}
	if !ch.Deleted {
		var v leaseValue
		if json.Unmarshal(ch.Value, &v) == nil {
			e.node, e.epoch = v.Node, v.Epoch
		} // else: a lease of no node, vacant for every node
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	c.setLocked(ch.Key, e)
}

// set records this node's own write.
func (c *cache) set(key string, e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(key, e)
}

func (c *cache) setLocked(key string, e entry) {
	if cur, ok := c.m[key]; ok && (cur.rev > e.rev || cur.rev == e.rev && (cur.deleted || !e.deleted)) {
		return // older, or the same write again
	}
	c.m[key] = e
	c.version++
}

// snapshot returns the entries, not to be modified, the nodes they name, and whether the
// watch delivered every key. It copies them only when they changed since the last snapshot.
func (c *cache) snapshot() (map[string]entry, []string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap == nil || c.snapVer != c.version {
		c.snap, c.snapVer = maps.Clone(c.m), c.version
		names := map[string]bool{}
		for _, e := range c.snap {
			if !e.deleted {
				names[e.node] = true
			}
		}
		c.owners = sortedKeys(names)
	}
	return c.snap, c.owners, c.ready
}
