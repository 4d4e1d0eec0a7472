package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// memStore is a Store in memory with the journal KV's revision semantics.
type memStore struct {
	mu  sync.Mutex
	rev uint64
	m   map[string]memEntry
	err error // when set, every call fails with it
}

type memEntry struct {
	value []byte
	rev   uint64
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{m: map[string]memEntry{}} }

func (s *memStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *memStore) write(key string, value []byte) uint64 {
	s.rev++
	s.m[key] = memEntry{value: value, rev: s.rev}
	return s.rev
}

func (s *memStore) Entry(_ context.Context, key string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, 0, s.err
	}
	e, ok := s.m[key]
	if !ok {
		return nil, 0, fmt.Errorf("get %s: %w", key, journal.ErrNotFound)
	}
	return e.value, e.rev, nil
}

func (s *memStore) Create(_ context.Context, key string, value []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if _, ok := s.m[key]; ok {
		return 0, fmt.Errorf("create %s: %w", key, journal.ErrConflict)
	}
	return s.write(key, value), nil
}

func (s *memStore) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if e, ok := s.m[key]; !ok || e.rev != rev {
		return 0, fmt.Errorf("update %s: %w", key, journal.ErrConflict)
	}
	return s.write(key, value), nil
}

func (s *memStore) DeleteRev(_ context.Context, key string, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if e, ok := s.m[key]; !ok || e.rev != rev {
		return fmt.Errorf("delete %s: %w", key, journal.ErrConflict)
	}
	delete(s.m, key)
	return nil
}

func (s *memStore) Keys(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return sortedKeys(s.m), nil
}

func (s *memStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.write(key, value)
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	delete(s.m, key)
	return nil
}

func (s *memStore) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// recorder is a Handler that records its calls as "+stream" and "-stream", and whether the
// lease was still in the store at each Lost.
type recorder struct {
	mu     sync.Mutex
	events []string
	leases *memStore
	atLost []bool
	clk    *clock
	times  []time.Time
}

func (r *recorder) Acquired(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "+"+s)
}

func (r *recorder) Lost(s string) {
	held := r.leases != nil && r.leases.has(s)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "-"+s)
	r.atLost = append(r.atLost, held)
	if r.clk != nil {
		r.times = append(r.times, r.clk.Now())
	}
}

// take returns the events recorded since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func newTest(t testing.TB, node string, nodes, leases Store, clk *clock) *Manager {
	t.Helper()
	m, err := New(Config{Node: node, Addr: node + ":4000", Renew: 2 * time.Second, TTL: 6 * time.Second, Now: clk.Now}, nodes, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.started = clk.Now()
	return m
}

// heartbeat puts node's heartbeat as another node's Manager would.
func heartbeat(t testing.TB, nodes Store, node string) {
	t.Helper()
	v, _ := json.Marshal(nodeValue{Node: node, Addr: node + ":4000", Started: t0})
	if err := nodes.Put(context.Background(), node, v); err != nil {
		t.Fatal(err)
	}
}

// split returns the streams node a prefers over b, and the others.
func split(a, b string, streams []string) (pa, pb []string) {
	for _, s := range streams {
		if Preferred([]string{a, b}, s) == a {
			pa = append(pa, s)
		} else {
			pb = append(pb, s)
		}
	}
	return pa, pb
}

func plus(streams []string) []string {
	e := []string{}
	for _, s := range streams {
		e = append(e, "+"+s)
	}
	return e
}

func minus(streams []string) []string {
	e := []string{}
	for _, s := range streams {
		e = append(e, "-"+s)
	}
	return e
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", Config{Node: "n1"}, ""},
		{"no node", Config{}, "lease config: node is empty"},
		{"negative renew", Config{Node: "n1", Renew: -time.Second}, "lease config: renew -1s must be positive"},
		{"ttl at 2*renew", Config{Node: "n1", Renew: time.Second, TTL: 2 * time.Second}, "lease config: ttl 2s must be over 2*renew (2s)"},
		{"ttl under default renew", Config{Node: "n1", TTL: 3 * time.Second}, "lease config: ttl 3s must be over 2*renew (4s)"},
		{"small", Config{Node: "n1", Renew: 300 * time.Millisecond, TTL: time.Second}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.WithDefaults().Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if _, err := New(tt.cfg, newMemStore(), newMemStore(), nil); (err == nil) != (tt.want == "") {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// TestPlacement: a node takes the vacant leases it prefers in its first round, and the others
// once they have been vacant for two more rounds (the preferred node had a whole round).
func TestPlacement(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	heartbeat(t, nodes, "z") // live, but never takes anything
	streams := streamNames(20)
	mine, others := split("a", "z", streams)
	if len(mine) == 0 || len(others) == 0 {
		t.Fatalf("split %v / %v: want both non-empty", mine, others)
	}
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)

	m.round(ctx, streams, rec)
	if diff := cmp.Diff(plus(mine), rec.take()); diff != "" {
		t.Errorf("round 1 (-want +got):\n%s", diff)
	}
	clk.Set(t0.Add(2 * time.Second))
	m.round(ctx, streams, rec)
	if diff := cmp.Diff([]string(nil), rec.take()); diff != "" {
		t.Errorf("round 2 (-want +got):\n%s", diff)
	}
	clk.Set(t0.Add(4 * time.Second))
	m.round(ctx, streams, rec)
	if diff := cmp.Diff(plus(others), rec.take()); diff != "" {
		t.Errorf("round 3 (-want +got):\n%s", diff)
	}
	for _, s := range streams {
		if !m.Owns(s) {
			t.Errorf("Owns(%s) = false", s)
		}
	}
	clk.Set(t0.Add(6 * time.Second))
	m.round(ctx, streams, rec)
	if diff := cmp.Diff([]string(nil), rec.take()); diff != "" {
		t.Errorf("round 4 renews only (-want +got):\n%s", diff)
	}
	want := Status{
		Node: "a",
		Nodes: []NodeStatus{
			{Name: "a", Addr: "a:4000", Started: t0, Live: true},
			{Name: "z", Addr: "z:4000", Started: t0, Live: true},
		},
		Owners:   map[string]string{},
		Counters: Counters{Rounds: 4, Acquired: 20},
	}
	for _, s := range streams {
		want.Owners[s] = "a"
	}
	if diff := cmp.Diff(want, m.Status()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

// TestTakenLeaseIsNotTaken: a lease held by another node is left alone, and shows in Status.
func TestTakenLeaseIsNotTaken(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	v, _ := json.Marshal(leaseValue{Node: "z", Since: t0})
	leases.Put(ctx, "s", v)
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	for range 3 {
		m.round(ctx, []string{"s"}, rec)
	}
	if diff := cmp.Diff([]string(nil), rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"s": "z"}, m.Status().Owners); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
}

// TestAdoptsOwnLease: a lease in this node's name that it does not hold (written before a
// restart, or by a take whose reply was lost) is renewed and taken at once.
func TestAdoptsOwnLease(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	heartbeat(t, nodes, "z")
	_, zs := split("a", "z", streamNames(20))
	v, _ := json.Marshal(leaseValue{Node: "a", Since: t0})
	leases.Put(ctx, zs[0], v)
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, zs[:1], rec)
	if diff := cmp.Diff([]string{"+" + zs[0]}, rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// A lease of z's preference adopted by a stays with a only until the next round, which
	// releases it to z.
	m.round(ctx, zs[:1], rec)
	if diff := cmp.Diff([]string{"-" + zs[0]}, rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestRenewalError: a renewal failing with a store error keeps the worker until TTL−Renew has
// passed since the last successful renewal, then loses it, before the lease can expire; a
// renewal that succeeds in time keeps it.
func TestRenewalError(t *testing.T) {
	tests := []struct {
		name      string
		renew     time.Duration
		ttl       time.Duration
		heal      time.Duration // when the store works again; 0 = never
		wantLoss  time.Duration // after the last successful renewal; 0 = never lost
		wantCount uint64        // renew errors
	}{
		{"defaults", 2 * time.Second, 6 * time.Second, 0, 4 * time.Second, 1},
		{"ttl not a multiple", 2 * time.Second, 5 * time.Second, 0, 3 * time.Second, 1},
		{"long ttl", time.Second, 10 * time.Second, 0, 9 * time.Second, 8},
		{"healed in time", 2 * time.Second, 7 * time.Second, 4 * time.Second, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			nodes, leases := newMemStore(), newMemStore()
			rec := &recorder{clk: clk}
			m, err := New(Config{Node: "a", Renew: tt.renew, TTL: tt.ttl, Now: clk.Now}, nodes, leases, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.round(ctx, []string{"s"}, rec)
			if diff := cmp.Diff([]string{"+s"}, rec.take()); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			broken := errors.New("i/o timeout")
			nodes.fail(broken)
			leases.fail(broken)
			// Rounds every renew until the lease's TTL is over; between them, Run's timer fires
			// at nextLoss.
			for now := tt.renew; now < tt.ttl; now += tt.renew {
				if tt.heal != 0 && now >= tt.heal {
					nodes.fail(nil)
					leases.fail(nil)
				}
				clk.Set(t0.Add(now))
				m.round(ctx, []string{"s"}, rec)
				if at, ok := m.nextLoss(); ok && at.Before(t0.Add(now+tt.renew)) {
					clk.Set(at)
					m.expire(rec)
				}
			}
			var want []time.Time
			if tt.wantLoss != 0 {
				want = []time.Time{t0.Add(tt.wantLoss)}
			}
			if diff := cmp.Diff(want, rec.times); diff != "" {
				t.Errorf("Lost at (-want +got):\n%s", diff)
			}
			if tt.wantLoss != 0 && !t0.Add(tt.wantLoss).Before(t0.Add(tt.ttl)) {
				t.Errorf("lost at %s, not before the lease expires at %s", tt.wantLoss, tt.ttl)
			}
			if got := m.Status().Counters.RenewErrors; got != tt.wantCount {
				t.Errorf("RenewErrors = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// TestRenewalConflict: a lease changed or gone at renewal stops the worker at once.
func TestRenewalConflict(t *testing.T) {
	tests := []struct {
		name   string
		change func(leases *memStore, stream string)
	}{
		{"taken", func(leases *memStore, s string) {
			v, _ := json.Marshal(leaseValue{Node: "z", Since: t0})
			leases.Put(context.Background(), s, v)
		}},
		{"expired", func(leases *memStore, s string) { leases.Delete(context.Background(), s) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			nodes, leases := newMemStore(), newMemStore()
			heartbeat(t, nodes, "z")
			as, _ := split("a", "z", streamNames(20))
			s := as[0] // a's to keep
			rec := &recorder{}
			m := newTest(t, "a", nodes, leases, clk)
			m.round(ctx, []string{s}, rec)
			if !m.Owns(s) {
				t.Fatal("not owned")
			}
			rec.take()
			tt.change(leases, s)
			m.round(ctx, []string{s}, rec)
			if diff := cmp.Diff([]string{"-" + s}, rec.take()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if m.Owns(s) {
				t.Error("Owns = true after the loss")
			}
		})
	}
}

// TestRebalance: when a node joins, the owner of the streams it prefers stops their workers,
// then releases their leases; streams gone from the list are stopped and released too.
func TestRebalance(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	streams := streamNames(20)
	rec := &recorder{leases: leases}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, streams, rec)
	if diff := cmp.Diff(plus(streams), rec.take()); diff != "" {
		t.Fatalf("round 1 (-want +got):\n%s", diff)
	}
	heartbeat(t, nodes, "b")
	_, bs := split("a", "b", streams)
	m.round(ctx, streams, rec)
	if diff := cmp.Diff(minus(slices.Sorted(slices.Values(bs))), rec.take()); diff != "" { // released in name order
		t.Errorf("join (-want +got):\n%s", diff)
	}
	for i, held := range rec.atLost {
		if !held {
			t.Errorf("lease %s released before its worker was stopped", bs[i])
		}
	}
	for _, s := range bs {
		if leases.has(s) {
			t.Errorf("lease %s not released", s)
		}
	}
	// b does not take them (it is not running here); a takes them back after two rounds.
	for i := range 2 {
		m.round(ctx, streams, rec)
		if diff := cmp.Diff([]string(nil), rec.take()); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", 3+i, diff)
		}
	}
	m.round(ctx, streams, rec)
	if diff := cmp.Diff(plus(bs), rec.take()); diff != "" {
		t.Errorf("round 5 (-want +got):\n%s", diff)
	}

	// A stream removed from the list is stopped and released.
	nodes.Delete(ctx, "b")
	m.round(ctx, streams[1:], rec)
	if diff := cmp.Diff([]string{"-" + streams[0]}, rec.take()); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if leases.has(streams[0]) {
		t.Errorf("lease %s not released", streams[0])
	}
	c := m.Status().Counters
	if want := uint64(len(bs) + 1); c.Released != want || c.Lost != want {
		t.Errorf("counters %+v: want released and lost %d", c, want)
	}
}

// TestRunStops: Run takes the leases, and on return has stopped every worker and deleted every
// lease and its heartbeat.
func TestRunStops(t *testing.T) {
	nodes, leases := newMemStore(), newMemStore()
	streams := streamNames(5)
	m, err := New(Config{Node: "a", Renew: 10 * time.Millisecond, TTL: 50 * time.Millisecond}, nodes, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{leases: leases}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx, func() []string { return streams }, rec) }()
	deadline := time.Now().Add(5 * time.Second)
	for !m.Owns(streams[4]) {
		if time.Now().After(deadline) {
			t.Fatal("streams not taken")
		}
		time.Sleep(time.Millisecond)
	}
	if err := m.Run(ctx, func() []string { return streams }, rec); err == nil {
		t.Error("second Run did not fail")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	slices.Sort(got)
	want := append(plus(streams), minus(streams)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, held := range rec.atLost {
		if !held {
			t.Error("a lease was released before its worker was stopped")
		}
	}
	if k, _ := leases.Keys(context.Background()); len(k) != 0 {
		t.Errorf("leases left: %v", k)
	}
	if k, _ := nodes.Keys(context.Background()); len(k) != 0 {
		t.Errorf("heartbeats left: %v", k)
	}
	if c := m.Status().Counters; c.Released != 5 || c.Lost != 5 || c.Acquired != 5 {
		t.Errorf("counters %+v", c)
	}
}

// lostReplies applies an Update but reports a timeout, as a reply lost in the network does.
type lostReplies struct {
	*memStore
	on bool
}

func (l *lostReplies) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	r, err := l.memStore.Update(ctx, key, value, rev)
	if err == nil && l.on {
		return 0, errors.New("i/o timeout")
	}
	return r, err
}

// TestLostReply: a renewal whose reply was lost leaves the lease at a revision the Manager does
// not know; the next renewal finds its own value there and carries on, and release still works.
func TestLostReply(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), &lostReplies{memStore: newMemStore()}
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, []string{"s"}, rec)
	leases.on = true
	clk.Set(t0.Add(2 * time.Second))
	m.round(ctx, []string{"s"}, rec)
	leases.on = false
	clk.Set(t0.Add(3 * time.Second)) // before the loss at 4 s
	m.round(ctx, []string{"s"}, rec)
	if diff := cmp.Diff([]string{"+s"}, rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, ok := m.nextLoss(); ok {
		t.Error("lease still failing after a successful renewal")
	}
	leases.on = true
	clk.Set(t0.Add(5 * time.Second))
	m.round(ctx, []string{"s"}, rec)
	m.stop(ctx, rec)
	if leases.has("s") {
		t.Error("lease not released")
	}
	if diff := cmp.Diff(Counters{Rounds: 4, Acquired: 1, Lost: 1, Released: 1, RenewErrors: 2}, m.Status().Counters); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}
