package catalog

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memStore is an in-memory Store for unit tests; the server tests use the JetStream KV.
type memStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Get(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memStore) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
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
