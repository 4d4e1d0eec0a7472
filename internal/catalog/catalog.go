// Package catalog keeps the definitions of delivery streams: their configuration, version,
// status, tags and encryption state. Every change is persisted before it is visible, so a
// restart keeps every stream.
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
)

// Errors with identity returned by the catalog.
var (
	ErrNotFound = errors.New("delivery stream not found")
	ErrExists   = errors.New("delivery stream already exists")
	ErrLimit    = errors.New("delivery stream limit reached")
)

// Store persists catalog entries. A JetStream KV bucket implements it in production.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Keys(ctx context.Context) ([]string, error)
}

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
type Catalog struct {
	cfg   Config
	store Store
	mu    sync.Mutex
	byKey map[string]Stream
}

const keyPrefix = "stream."

// Open loads every stream from the store.
func Open(ctx context.Context, cfg Config, store Store) (*Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Catalog{cfg: cfg, store: store, byKey: map[string]Stream{}}
	keys, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list catalog keys: %w", err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, keyPrefix) {
			continue
		}
		b, err := store.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("read catalog entry %s: %w", k, err)
		}
		var s Stream
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("decode catalog entry %s: %w", k, err)
		}
		c.byKey[s.Name] = s
	}
	return c, nil
}

// storeKey maps a stream name to a KV key. Names are [a-zA-Z0-9_.-]+, all valid in KV keys.
func storeKey(name string) string { return keyPrefix + name }

// Create adds a stream. It fails with ErrExists or ErrLimit.
func (c *Catalog) Create(ctx context.Context, s Stream) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[s.Name]; ok {
		return ErrExists
	}
	if len(c.byKey) >= c.cfg.MaxStreams {
		return ErrLimit
	}
	if err := c.persist(ctx, s); err != nil {
		return err
	}
	c.byKey[s.Name] = s.Clone()
	return nil
}

// Get returns a copy of the named stream, or ErrNotFound.
func (c *Catalog) Get(name string) (Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byKey[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return s.Clone(), nil
}

// Peek returns the named stream without copying its configuration, for the put path, which
// reads only its name, type, status and encryption status. Its slices must not be modified.
func (c *Catalog) Peek(name string) (Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byKey[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	return s, nil
}

// List returns copies of every stream, sorted by name.
func (c *Catalog) List() []Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Stream, 0, len(c.byKey))
	for _, s := range c.byKey {
		out = append(out, s.Clone())
	}
	slices.SortFunc(out, func(a, b Stream) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Update applies fn to a copy of the named stream and persists the result, atomically with
// respect to other catalog calls. If fn returns an error nothing changes.
func (c *Catalog) Update(ctx context.Context, name string, fn func(*Stream) error) (Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byKey[name]
	if !ok {
		return Stream{}, ErrNotFound
	}
	s = s.Clone()
	if err := fn(&s); err != nil {
		return Stream{}, err
	}
	if err := c.persist(ctx, s); err != nil {
		return Stream{}, err
	}
	c.byKey[name] = s
	return s.Clone(), nil
}

// Delete removes the named stream.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[name]; !ok {
		return ErrNotFound
	}
	if err := c.store.Delete(ctx, storeKey(name)); err != nil {
		return fmt.Errorf("delete catalog entry %s: %w", name, err)
	}
	delete(c.byKey, name)
	return nil
}

func (c *Catalog) persist(ctx context.Context, s Stream) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode stream %s: %w", s.Name, err)
	}
	if err := c.store.Put(ctx, storeKey(s.Name), b); err != nil {
		return fmt.Errorf("persist stream %s: %w", s.Name, err)
	}
	return nil
}
