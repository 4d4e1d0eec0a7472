package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// sharedCatalogs opens two catalogs on one journal KV bucket, as two nodes of a cluster see it,
// both watching until the test ends.
func sharedCatalogs(t testing.TB) (a, b *Catalog, changed func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j, err := journal.Open(ctx, journal.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := j.KV(ctx, "hydrant_catalog")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var names []string
	var watches sync.WaitGroup
	cats := make([]*Catalog, 2)
	for i := range cats {
		if cats[i], err = Open(ctx, Config{MaxStreams: 10}, kv); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			cats[i].OnChange(func(name string) { mu.Lock(); names = append(names, name); mu.Unlock() })
		}
		watches.Go(func() {
			if err := cats[i].Watch(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Watch: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		watches.Wait()
		_ = j.Close()
	})
	return cats[0], cats[1], func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), names...) }
}

// eventually waits up to ten seconds for c's streams to be want.
func eventually(t testing.TB, c *Catalog, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		diff := cmp.Diff(want, summary(c))
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams after 10s (-want +got):\n%s", diff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTwoNodesSeeEachOther(t *testing.T) {
	ctx := context.Background()
	a, b, changed := sharedCatalogs(t)
	activate := func(s *Stream) error { s.Status = "ACTIVE"; s.Version++; return nil }
	steps := []struct {
		name string
		do   func() error
		on   *Catalog
		want []string
	}{
		{"created on A, seen on B", func() error { return a.Create(ctx, stream("s1")) }, b, []string{"s1 v1 CREATING"}},
		{"updated on B, seen on A", func() error { _, err := b.Update(ctx, "s1", activate); return err }, a, []string{"s1 v2 ACTIVE"}},
		{"created on B, seen on A", func() error { return b.Create(ctx, stream("s2")) }, a, []string{"s1 v2 ACTIVE", "s2 v1 CREATING"}},
		{"B updates what A wrote", func() error { _, err := b.Update(ctx, "s1", activate); return err }, a, []string{"s1 v3 ACTIVE", "s2 v1 CREATING"}},
		{"deleted on A, gone on B", func() error { return a.Delete(ctx, "s1") }, b, []string{"s2 v1 CREATING"}},
		{"created again on B, seen on A", func() error { return b.Create(ctx, stream("s1")) }, a, []string{"s1 v1 CREATING", "s2 v1 CREATING"}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		eventually(t, st.on, st.want)
		eventually(t, a, st.want)
		eventually(t, b, st.want)
	}
	// B learnt of s1's creation, update by A… through OnChange; its own writes may show too.
	seen := map[string]bool{}
	for _, n := range changed() {
		seen[n] = true
	}
	if !seen["s1"] {
		t.Errorf("B's OnChange reported %v: want s1, which A created, updated and deleted", seen)
	}
	delete(seen, "s1")
	delete(seen, "s2") // B's own stream: its own writes may show too
	if len(seen) > 0 {
		t.Errorf("B's OnChange reported streams that never existed: %v", seen)
	}
}

func TestTwoNodesRace(t *testing.T) {
	ctx := context.Background()
	const rounds = 40
	tests := []struct {
		name string
		run  func(t *testing.T, a, b *Catalog)
	}{
		{"create one name on both", func(t *testing.T, a, b *Catalog) {
			for i := range rounds {
				name := fmt.Sprintf("s%d", i)
				var errA, errB error
				var wg sync.WaitGroup
				wg.Go(func() { errA = a.Create(ctx, stream(name)) })
				wg.Go(func() { errB = b.Create(ctx, stream(name)) })
				wg.Wait()
				if (errA == nil) == (errB == nil) || !errors.Is(errors.Join(errA, errB), ErrExists) {
					t.Fatalf("Create(%s) on A: %v, on B: %v; want one nil and one ErrExists", name, errA, errB)
				}
				if _, err := a.Update(ctx, name, func(*Stream) error { return nil }); err != nil {
					t.Fatalf("Update(%s) on A: %v", name, err) // even the loser has it now
				}
				if err := b.Delete(ctx, name); err != nil {
					t.Fatalf("Delete(%s) on B: %v", name, err)
				}
			}
			eventually(t, a, []string{})
		}},
		{"update one stream from both", func(t *testing.T, a, b *Catalog) {
			if err := a.Create(ctx, stream("s")); err != nil {
				t.Fatal(err)
			}
			eventually(t, b, []string{"s v1 CREATING"})
			// One writer per node, pausing between its updates as requests do: a node writing
			// without a pause wins every race against the other's re-read and starves it.
			var wg sync.WaitGroup
			for _, c := range []*Catalog{a, b} {
				wg.Go(func() {
					for range rounds {
						time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
						if _, err := c.Update(ctx, "s", func(s *Stream) error { s.Version++; return nil }); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			want := []string{fmt.Sprintf("s v%d CREATING", 1+2*rounds)}
			eventually(t, a, want)
			eventually(t, b, want)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b, _ := sharedCatalogs(t)
			tc.run(t, a, b)
		})
	}
}
