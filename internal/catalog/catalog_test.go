package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// memStore is an in-memory Store for unit tests with the journal KV's semantics: one revision
// counter for the bucket, compare-and-set writes, and a watch. The cluster tests use the
// journal KV itself.
type memStore struct {
	mu      sync.Mutex
	m       map[string]memEntry
	rev     uint64
	log     []journal.Change
	changed chan struct{} // closed and replaced at every write
	fail    error
	// conflicts makes the next Update calls fail with journal.ErrConflict.
	conflicts int
}

type memEntry struct {
	v   []byte
	rev uint64
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{m: map[string]memEntry{}, changed: make(chan struct{})}
}

// writeLocked records a write; value nil is a deletion.
func (s *memStore) writeLocked(k string, v []byte) uint64 {
	s.rev++
	if v == nil {
		delete(s.m, k)
	} else {
		s.m[k] = memEntry{v: bytes.Clone(v), rev: s.rev}
	}
	s.log = append(s.log, journal.Change{Key: k, Value: bytes.Clone(v), Revision: s.rev, Deleted: v == nil})
	close(s.changed)
	s.changed = make(chan struct{})
	return s.rev
}

func (s *memStore) Keys(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (s *memStore) Entry(_ context.Context, k string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return nil, 0, fmt.Errorf("get %s: %w", k, journal.ErrNotFound)
	}
	return bytes.Clone(e.v), e.rev, nil
}

func (s *memStore) Create(_ context.Context, k string, v []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	if _, ok := s.m[k]; ok {
		return 0, fmt.Errorf("create %s: %w", k, journal.ErrConflict)
	}
	return s.writeLocked(k, v), nil
}

func (s *memStore) Update(_ context.Context, k string, v []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	if s.conflicts > 0 {
		s.conflicts--
		return 0, fmt.Errorf("update %s: %w", k, journal.ErrConflict)
	}
	if e, ok := s.m[k]; !ok || e.rev != rev {
		return 0, fmt.Errorf("update %s: %w", k, journal.ErrConflict)
	}
	return s.writeLocked(k, v), nil
}

func (s *memStore) DeleteRev(_ context.Context, k string, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if e, ok := s.m[k]; !ok || e.rev != rev {
		return fmt.Errorf("delete %s: %w", k, journal.ErrConflict)
	}
	s.writeLocked(k, nil)
	return nil
}

// Watch replays the whole log (a superset of the current values), then follows it.
func (s *memStore) Watch(ctx context.Context, fn func(journal.Change)) error {
	next := 0
	for {
		s.mu.Lock()
		todo := s.log[next:]
		next = len(s.log)
		changed := s.changed
		s.mu.Unlock()
		for _, c := range todo {
			fn(c)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func stream(name string) Stream {
	return Stream{
		Name: name, ARN: "arn:aws:firehose:us-east-1:000000000000:deliverystream/" + name, Type: "DirectPut",
		Status: "CREATING", Version: 1, Created: time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC),
		Destination: Destination{ID: "destinationId-000000000001", Kind: "ExtendedS3", Config: []byte(`{"BucketARN":"arn:aws:s3:::b"}`)},
		Encryption:  Encryption{Status: "DISABLED"},
	}
}

func TestCatalogPersistsAcrossOpen(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	c, err := Open(ctx, Config{MaxStreams: 2}, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b.s", "a-s"} {
		if err := c.Create(ctx, stream(n)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		err  error
		got  error
	}{
		{"duplicate", ErrExists, c.Create(ctx, stream("a-s"))},
		{"over limit", ErrLimit, c.Create(ctx, stream("c"))},
	}
	for _, tc := range tests {
		if !errors.Is(tc.got, tc.err) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.err)
		}
	}
	if _, err := c.Update(ctx, "a-s", func(s *Stream) error { s.Status = "ACTIVE"; s.Version = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := c.Update(ctx, "a-s", func(s *Stream) error { s.Version = 99; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing update: %v", err)
	}
	reopened, err := Open(ctx, Config{MaxStreams: 2}, store)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.List(), reopened.List()); diff != "" {
		t.Errorf("reopened catalog (-before +after):\n%s", diff)
	}
	got, err := reopened.Get("a-s")
	if err != nil || got.Status != "ACTIVE" || got.Version != 2 {
		t.Errorf("a-s after reopen = %+v, %v", got, err)
	}
	if names := []string{reopened.List()[0].Name, reopened.List()[1].Name}; !cmp.Equal(names, []string{"a-s", "b.s"}) {
		t.Errorf("List order %v", names)
	}
}

func TestCatalogStoreFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	c, err := Open(ctx, Config{MaxStreams: 10}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, stream("s")); err != nil {
		t.Fatal(err)
	}
	store.fail = errors.New("disk full")
	if err := c.Create(ctx, stream("t")); err == nil {
		t.Error("Create succeeded with a failing store")
	}
	if _, err := c.Update(ctx, "s", func(s *Stream) error { s.Status = "ACTIVE"; return nil }); err == nil {
		t.Error("Update succeeded with a failing store")
	}
	if got, _ := c.Get("s"); got.Status != "CREATING" {
		t.Errorf("status %s after a failed update", got.Status)
	}
	if _, err := c.Get("t"); !errors.Is(err, ErrNotFound) {
		t.Errorf("failed create is visible: %v", err)
	}
}

func TestGetReturnsCopies(t *testing.T) {
	ctx := context.Background()
	c, _ := Open(ctx, Config{MaxStreams: 1}, newMemStore())
	_ = c.Create(ctx, stream("s"))
	s, _ := c.Get("s")
	s.Destination.Config[0] = 'X'
	s.Tags = append(s.Tags, Tag{Key: "k"})
	again, _ := c.Get("s")
	if again.Destination.Config[0] != '{' || len(again.Tags) != 0 {
		t.Errorf("Get exposed internal state: %+v", again)
	}
}

// summary is what the cluster and cache tests compare: each stream's name, version and status.
func summary(c *Catalog) []string {
	out := []string{}
	for _, s := range c.List() {
		out = append(out, fmt.Sprintf("%s v%d %s", s.Name, s.Version, s.Status))
	}
	return out
}

func encode(t testing.TB, s Stream) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWatchNeverGoesBack(t *testing.T) {
	v := func(name string, version int) Stream { s := stream(name); s.Version = version; return s }
	put := func(t testing.TB, rev uint64, s Stream) journal.Change {
		return journal.Change{Key: storeKey(s.Name), Value: encode(t, s), Revision: rev}
	}
	del := func(rev uint64, name string) journal.Change {
		return journal.Change{Key: storeKey(name), Revision: rev, Deleted: true}
	}
	tests := []struct {
		name    string
		changes func(testing.TB) []journal.Change
		want    []string
		changed []string // names OnChange reported
	}{
		{"in order", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 1, v("s", 1)), put(t, 2, v("s", 2)), put(t, 3, v("t", 1))}
		}, []string{"s v2 CREATING", "t v1 CREATING"}, []string{"s", "s", "t"}},
		{"older revision ignored", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 5, v("s", 5)), put(t, 4, v("s", 4)), put(t, 5, v("s", 5))}
		}, []string{"s v5 CREATING"}, []string{"s"}},
		{"deleted", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 1, v("s", 1)), del(2, "s")}
		}, []string{}, []string{"s", "s"}},
		{"no resurrection by an older put", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 1, v("s", 1)), del(3, "s"), put(t, 2, v("s", 2))}
		}, []string{}, []string{"s", "s"}},
		{"created again after a delete", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 1, v("s", 1)), del(2, "s"), put(t, 3, v("s", 7))}
		}, []string{"s v7 CREATING"}, []string{"s", "s", "s"}},
		{"stale delete ignored", func(t testing.TB) []journal.Change {
			return []journal.Change{put(t, 4, v("s", 4)), del(3, "s")}
		}, []string{"s v4 CREATING"}, []string{"s"}},
		{"foreign keys and values ignored", func(t testing.TB) []journal.Change {
			return []journal.Change{{Key: "other", Value: []byte("x"), Revision: 1}, {Key: storeKey("s"), Value: []byte("{"), Revision: 2}}
		}, []string{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(context.Background(), Config{MaxStreams: 10}, newMemStore())
			if err != nil {
				t.Fatal(err)
			}
			var changed []string
			c.OnChange(func(name string) { changed = append(changed, name) })
			for _, ch := range tc.changes(t) {
				c.apply(ch)
			}
			if diff := cmp.Diff(tc.want, summary(c)); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.changed, changed); diff != "" {
				t.Errorf("OnChange (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOwnWritesThenWatch replays the store's log after this node's own writes: the watch sees
// each of them late, and the cache must keep the newest state.
func TestOwnWritesThenWatch(t *testing.T) {
	tests := []struct {
		name string
		do   func(context.Context, *Catalog) error
		want []string
	}{
		{"create, update", func(ctx context.Context, c *Catalog) error {
			if err := c.Create(ctx, stream("s")); err != nil {
				return err
			}
			_, err := c.Update(ctx, "s", func(s *Stream) error { s.Version = 2; return nil })
			return err
		}, []string{"s v2 CREATING"}},
		{"create, delete", func(ctx context.Context, c *Catalog) error {
			if err := c.Create(ctx, stream("s")); err != nil {
				return err
			}
			return c.Delete(ctx, "s")
		}, []string{}},
		{"create, delete, create", func(ctx context.Context, c *Catalog) error {
			if err := c.Create(ctx, stream("s")); err != nil {
				return err
			}
			if err := c.Delete(ctx, "s"); err != nil {
				return err
			}
			s := stream("s")
			s.Version = 3
			return c.Create(ctx, s)
		}, []string{"s v3 CREATING"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			c, err := Open(ctx, Config{MaxStreams: 10}, store)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.do(ctx, c); err != nil {
				t.Fatal(err)
			}
			store.mu.Lock()
			log := slices.Clone(store.log)
			store.mu.Unlock()
			for _, ch := range log {
				c.apply(ch)
			}
			if diff := cmp.Diff(tc.want, summary(c)); diff != "" {
				t.Errorf("streams after the watch caught up (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		behind    bool // another writer changes the entry behind the catalog's back first
		conflicts int
		want      []string
		err       error
	}{
		{"fresh cache", false, 0, []string{"s v2 CREATING"}, nil},
		{"written elsewhere", true, 0, []string{"s v6 CREATING"}, nil},
		{"a few lost races", false, attempts - 1, []string{"s v2 CREATING"}, nil},
		{"always lost", false, attempts, []string{"s v1 CREATING"}, ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			c, err := Open(ctx, Config{MaxStreams: 10}, store)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Create(ctx, stream("s")); err != nil {
				t.Fatal(err)
			}
			if tc.behind {
				_, rev, _ := store.Entry(ctx, storeKey("s"))
				s := stream("s")
				s.Version = 5
				if _, err := store.Update(ctx, storeKey("s"), encode(t, s), rev); err != nil {
					t.Fatal(err)
				}
			}
			store.conflicts = tc.conflicts
			_, err = c.Update(ctx, "s", func(s *Stream) error { s.Version++; return nil })
			if !errors.Is(err, tc.err) {
				t.Fatalf("Update: %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, summary(c)); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteAfterChangeElsewhere(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	c, _ := Open(ctx, Config{MaxStreams: 10}, store)
	for _, n := range []string{"changed", "gone"} {
		if err := c.Create(ctx, stream(n)); err != nil {
			t.Fatal(err)
		}
	}
	_, rev, _ := store.Entry(ctx, storeKey("changed"))
	if _, err := store.Update(ctx, storeKey("changed"), encode(t, stream("changed")), rev); err != nil {
		t.Fatal(err)
	}
	_, rev, _ = store.Entry(ctx, storeKey("gone"))
	if err := store.DeleteRev(ctx, storeKey("gone"), rev); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
	}{
		{"changed", nil},
		{"gone", ErrNotFound},
		{"never", ErrNotFound},
	}
	for _, tc := range tests {
		if err := c.Delete(ctx, tc.name); !errors.Is(err, tc.err) {
			t.Errorf("Delete(%s) = %v, want %v", tc.name, err, tc.err)
		}
	}
	if diff := cmp.Diff([]string{}, summary(c)); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
}

// TestConcurrentCallsOnOneNode races calls on one catalog: the store, not a lock held across
// its I/O, decides which create of a name wins, and no update is lost.
func TestConcurrentCallsOnOneNode(t *testing.T) {
	ctx := context.Background()
	const n = 8
	tests := []struct {
		name    string
		max     int
		stream  func(i int) Stream
		created int
		err     error // what the others get
	}{
		{"one name", 10, func(int) Stream { return stream("s") }, 1, ErrExists},
		{"past the limit", 3, func(i int) Stream { return stream(fmt.Sprintf("s%d", i)) }, 3, ErrLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := Open(ctx, Config{MaxStreams: tc.max}, newMemStore())
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = c.Create(ctx, tc.stream(i)) })
			}
			wg.Wait()
			created := 0
			for _, err := range errs {
				switch {
				case err == nil:
					created++
				case !errors.Is(err, tc.err):
					t.Errorf("Create: %v, want nil or %v", err, tc.err)
				}
			}
			if created != tc.created || len(c.List()) != tc.created {
				t.Errorf("%d creates succeeded, %d streams listed; want %d", created, len(c.List()), tc.created)
			}
		})
	}
	t.Run("updates", func(t *testing.T) {
		c, _ := Open(ctx, Config{MaxStreams: 1}, newMemStore())
		if err := c.Create(ctx, stream("s")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for range 25 {
					if _, err := c.Update(ctx, "s", func(s *Stream) error { s.Version++; return nil }); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if diff := cmp.Diff([]string{fmt.Sprintf("s v%d CREATING", 1+n*25)}, summary(c)); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
	})
}
