// Package catalog keeps the definitions of delivery streams: their configuration, version,
// status, tags and encryption state. Every change is persisted before it is visible, so a
// restart keeps every stream.
//
// The store is the truth and the catalog a cache of it (docs/design/cluster.md, "Catalog"):
// writes are compare-and-set on the entry's revision, and Watch applies the changes made by
// every node sharing the store.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// Errors with identity returned by the catalog.
var (
	ErrNotFound = errors.New("delivery stream not found")
	ErrExists   = errors.New("delivery stream already exists")
	ErrLimit    = errors.New("delivery stream limit reached")
	// ErrConflict reports an Update or Delete that lost the compare-and-set to writers on other
	// nodes more times in a row than the catalog retries.
	ErrConflict = errors.New("delivery stream changed concurrently")
)

// Store persists catalog entries with revisions. A journal KV bucket implements it.
//
// Create, Update and DeleteRev fail with an error wrapping journal.ErrConflict when the key is
// not in the state expected (Create: holds a value; Update, DeleteRev: not at revision rev).
// Entry fails with one wrapping journal.ErrNotFound for a missing key, and reads the newest
// revision acknowledged anywhere. Watch calls fn with every current value, then every change in
// order, until ctx ends.
type Store interface {
	Keys(ctx context.Context) ([]string, error)
	Entry(ctx context.Context, key string) (value []byte, rev uint64, err error)
	Create(ctx context.Context, key string, value []byte) (rev uint64, err error)
	Update(ctx context.Context, key string, value []byte, rev uint64) (newRev uint64, err error)
	DeleteRev(ctx context.Context, key string, rev uint64) error
	Watch(ctx context.Context, fn func(journal.Change)) error
}

var _ Store = (*journal.KV)(nil)

// Tag is a stream tag.
type Tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// Destination is the stream's single destination. Kind is the API member prefix
// ("ExtendedS3", "HttpEndpoint", ...); Config is its configuration with defaults filled in.
type Destination struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	Config json.RawMessage `json:"config"`
}

// Encryption is the server-side encryption state of a stream.
type Encryption struct {
	Status  string      `json:"status"`
	KeyType string      `json:"keyType,omitempty"`
	KeyARN  string      `json:"keyArn,omitempty"`
	Calls   []time.Time `json:"calls,omitempty"` // Start/Stop calls within the last 24 hours
}

// Stream is one delivery stream definition.
type Stream struct {
	Name        string          `json:"name"`
	ARN         string          `json:"arn"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Version     int             `json:"version"`
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated,omitzero"`
	Source      json.RawMessage `json:"source,omitempty"`
	Destination Destination     `json:"destination"`
	Encryption  Encryption      `json:"encryption"`
	Tags        []Tag           `json:"tags,omitempty"`
	// Failure says why the stream is in a failed state (CREATING_FAILED).
	Failure *Failure `json:"failure,omitempty"`
}

// Failure is a stream's FailureDescription.
type Failure struct {
	Type    string `json:"type"`
	Details string `json:"details"`
}

// Clone returns a deep copy of s.
func (s Stream) Clone() Stream {
	c := s
	c.Source = slices.Clone(s.Source)
	c.Destination.Config = slices.Clone(s.Destination.Config)
	c.Encryption.Calls = slices.Clone(s.Encryption.Calls)
	c.Tags = slices.Clone(s.Tags)
	if s.Failure != nil {
		f := *s.Failure
		c.Failure = &f
	}
	return c
}

// Config bounds the catalog.
type Config struct {
	// MaxStreams is the number of delivery streams allowed (AWS: 5,000 per account and region).
	MaxStreams int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxStreams < 1 {
		return fmt.Errorf("catalog: max streams %d must be at least 1", c.MaxStreams)
	}
	return nil
}

// Catalog is the set of delivery streams, cached in memory and persisted in a Store.
//
// Reads (Get, Peek, List) answer from the cache. Writes go to the store first, with the
// revision the cache holds, and reach the cache when they succeed; the mutex is never held
// across store I/O. The cache never goes back to an older revision of an entry, whether a
// change arrives from this node's own write or from Watch, in either order.
type Catalog struct {
	cfg   Config
	store Store

	mu       sync.Mutex
	byKey    map[string]entry
	gone     map[string]uint64 // deleted streams: a revision at or before their deletion
	creating map[string]int    // names being created, held against MaxStreams
	writing  map[string]*nameLock
	onChange func(name string)
}

// nameLock serializes this node's writes to one stream, so that they never lose a
// compare-and-set to each other; n counts its holders and waiters.
type nameLock struct {
	mu sync.Mutex
	n  int
}

// entry is a cached stream and the store revision it was read or written at.
type entry struct {
	s   Stream
	rev uint64
}

const (
	keyPrefix = "stream."
	// attempts bounds how often Update and Delete re-read an entry that changed under them.
	attempts = 10
)

// Open loads every stream from the store. A single node needs nothing more; nodes sharing the
// store run Watch to see each other's changes.
func Open(ctx context.Context, cfg Config, store Store) (*Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Catalog{cfg: cfg, store: store, byKey: map[string]entry{}, gone: map[string]uint64{}, creating: map[string]int{},
		writing: map[string]*nameLock{}}
	keys, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list catalog keys: %w", err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, keyPrefix) {
			continue
		}
		b, rev, err := store.Entry(ctx, k)
		if errors.Is(err, journal.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("read catalog entry %s: %w", k, err)
		}
		var s Stream
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("decode catalog entry %s: %w", k, err)
		}
		c.byKey[s.Name] = entry{s: s, rev: rev}
	}
	return c, nil
}

// storeKey maps a stream name to a KV key. Names are [a-zA-Z0-9_.-]+, all valid in KV keys.
func storeKey(name string) string { return keyPrefix + name }

// OnChange sets fn to be called with a stream's name after Watch applied a change to it (a
// stream created, updated or deleted, usually by another node; a change this node made may be
// reported too when the watch saw it first). Call it before Watch. fn runs on Watch's
// goroutine and must not block for long; it reads the new state with Get.
func (c *Catalog) OnChange(fn func(name string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onChange = fn
}

// Watch keeps the cache current with the store, applying every change made by any node, until
// ctx ends; it returns ctx.Err() then, or the error that stopped the store's watch (the cache
// then keeps this node's own writes but no longer sees other nodes').
func (c *Catalog) Watch(ctx context.Context) error {
	return c.store.Watch(ctx, c.apply)
}

// apply brings one change seen by Watch into the cache.
func (c *Catalog) apply(ch journal.Change) {
	name, ok := strings.CutPrefix(ch.Key, keyPrefix)
	if !ok {
		return
	}
	var changed bool
	if ch.Deleted {
		c.mu.Lock()
		changed = c.removeLocked(name, ch.Revision)
		c.mu.Unlock()
	} else {
		var s Stream
		if err := json.Unmarshal(ch.Value, &s); err != nil || s.Name != name {
			return // not written by a catalog; Open reports it at the next start
		}
		changed = c.set(name, s, ch.Revision)
	}
	c.mu.Lock()
	fn := c.onChange
	c.mu.Unlock()
	if changed && fn != nil {
		fn(name)
	}
}

// set caches s at rev unless the cache already holds that revision of the stream or a later
// one, or its deletion; it reports whether the cache changed.
func (c *Catalog) set(name string, s Stream, rev uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.byKey[name]; ok && cur.rev >= rev {
		return false
	}
	if g, ok := c.gone[name]; ok && g >= rev {
		return false
	}
	c.byKey[name] = entry{s: s, rev: rev}
	delete(c.gone, name)
	return true
}

// removeLocked drops the stream deleted at rev (or later) unless the cache holds a later
// revision of it; it reports whether the cache changed. c.mu is held.
func (c *Catalog) removeLocked(name string, rev uint64) bool {
	if cur, ok := c.byKey[name]; ok && cur.rev >= rev {
		return false
	}
	if g := c.gone[name]; g < rev {
		c.gone[name] = rev
	}
	_, ok := c.byKey[name]
	delete(c.byKey, name)
	return ok
}

// Create adds a stream. It fails with ErrExists (the name is taken, on this node or any other
// sharing the store) or ErrLimit. MaxStreams is checked against this node's cache: two nodes
// creating streams at once may together pass it by one each.
func (c *Catalog) Create(ctx context.Context, s Stream) error {
	s = s.Clone()
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode stream %s: %w", s.Name, err)
	}
	c.mu.Lock()
	if _, ok := c.byKey[s.Name]; ok {
		c.mu.Unlock()
		return ErrExists
	}
	taken := len(c.byKey) + len(c.creating)
	if c.creating[s.Name] > 0 {
		taken-- // a racing create of the same name holds its slot; the store decides which wins
	}
	if taken >= c.cfg.MaxStreams {
		c.mu.Unlock()
		return ErrLimit
	}
	c.creating[s.Name]++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.creating[s.Name]--; c.creating[s.Name] == 0 {
			delete(c.creating, s.Name)
		}
		c.mu.Unlock()
	}()

	rev, err := c.store.Create(ctx, storeKey(s.Name), b)
	if errors.Is(err, journal.ErrConflict) {
		// Another node created it, and this cache may not know yet: learn it now, so that what
		// follows an ErrExists here (a describe, an update) finds the stream.
		_, _, _ = c.reread(ctx, s.Name, 0)
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("persist stream %s: %w", s.Name, err)
	}
	c.set(s.Name, s, rev)
	return nil
}

// Get returns a copy of the named stream, or ErrNotFound.
func (c *Catalog) Get(name string) (Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return e.s.Clone(), nil
}

// Peek returns the named stream without copying its configuration, for the put path, which
// reads only its name, type, status and encryption status. Its slices must not be modified.
func (c *Catalog) Peek(name string) (Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return e.s, nil
}

// List returns copies of every stream, sorted by name.
func (c *Catalog) List() []Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Stream, 0, len(c.byKey))
	for _, e := range c.byKey {
		out = append(out, e.s.Clone())
	}
	slices.SortFunc(out, func(a, b Stream) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// lock waits until no other Update or Delete of name runs on this node; the function it
// returns lets the next one run. It is not c.mu: reads go on meanwhile.
func (c *Catalog) lock(name string) (unlock func()) {
	c.mu.Lock()
	l, ok := c.writing[name]
	if !ok {
		l = &nameLock{}
		c.writing[name] = l
	}
	l.n++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.n--; l.n == 0 {
			delete(c.writing, name)
		}
		c.mu.Unlock()
	}
}

// cached returns the cached stream and its revision.
func (c *Catalog) cached(name string) (Stream, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[name]
	return e.s, e.rev, ok
}

// reread reads the named stream's newest revision from the store after a write at rev lost
// the compare-and-set (0 for a create), and caches it. A stream deleted meanwhile is
// ErrNotFound.
func (c *Catalog) reread(ctx context.Context, name string, rev uint64) (Stream, uint64, error) {
	b, cur, err := c.store.Entry(ctx, storeKey(name))
	if errors.Is(err, journal.ErrNotFound) {
		c.mu.Lock()
		c.removeLocked(name, rev+1) // deleted after rev: any later write has a later revision
		c.mu.Unlock()
		return Stream{}, 0, ErrNotFound
	}
	if err != nil {
		return Stream{}, 0, fmt.Errorf("read stream %s: %w", name, err)
	}
	var s Stream
	if err := json.Unmarshal(b, &s); err != nil {
		return Stream{}, 0, fmt.Errorf("decode stream %s: %w", name, err)
	}
	c.set(name, s, cur)
	return s, cur, nil
}

// Update applies fn to a copy of the named stream and persists the result if the stream has
// not changed since the copy was taken; otherwise (another node wrote it meanwhile) it takes a
// fresh copy from the store and applies fn again, so fn may run several times and must only
// change the stream it is given. It fails with ErrConflict after 10 lost attempts. Updates of
// one stream on one node run one at a time. If fn returns an error nothing changes.
func (c *Catalog) Update(ctx context.Context, name string, fn func(*Stream) error) (Stream, error) {
	defer c.lock(name)()
	s, rev, ok := c.cached(name)
	if !ok {
		return Stream{}, ErrNotFound
	}
	for range attempts {
		next := s.Clone()
		if err := fn(&next); err != nil {
			return Stream{}, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return Stream{}, fmt.Errorf("encode stream %s: %w", name, err)
		}
		newRev, err := c.store.Update(ctx, storeKey(name), b, rev)
		if err == nil {
			c.set(name, next.Clone(), newRev)
			return next, nil
		}
		if !errors.Is(err, journal.ErrConflict) {
			return Stream{}, fmt.Errorf("persist stream %s: %w", name, err)
		}
		if s, rev, err = c.reread(ctx, name, rev); err != nil {
			return Stream{}, err
		}
	}
	return Stream{}, fmt.Errorf("update stream %s: %w", name, ErrConflict)
}

// Delete removes the named stream, whatever revision of it the store holds.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	defer c.lock(name)()
	_, rev, ok := c.cached(name)
	if !ok {
		return ErrNotFound
	}
	for range attempts {
		err := c.store.DeleteRev(ctx, storeKey(name), rev)
		if err == nil {
			c.mu.Lock()
			c.removeLocked(name, rev+1)
			c.mu.Unlock()
			return nil
		}
		if !errors.Is(err, journal.ErrConflict) {
			return fmt.Errorf("delete catalog entry %s: %w", name, err)
		}
		if _, rev, err = c.reread(ctx, name, rev); err != nil {
			return err
		}
	}
	return fmt.Errorf("delete stream %s: %w", name, ErrConflict)
}
