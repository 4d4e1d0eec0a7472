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
	mu       sync.Mutex
	rev      uint64
	m        map[string]memEntry
	err      error // when set, every call fails with it
	watchers map[int]func(journal.Change)
	nextW    int
}

type memEntry struct {
	value []byte
	rev   uint64
}

var _ LeaseStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{m: map[string]memEntry{}, watchers: map[int]func(journal.Change){}}
}

// notify passes a change to the watchers, at once and in order: a Manager's cache holds every
// write when the write returns.
func (s *memStore) notify(c journal.Change) {
	for _, w := range s.watchers {
		w(c)
	}
}

func (s *memStore) remove(key string) {
	delete(s.m, key)
	s.rev++
	s.notify(journal.Change{Key: key, Revision: s.rev, Deleted: true})
}

// WatchReady passes the current entries, calls ready, then passes every change until ctx ends.
// It ignores fail.
func (s *memStore) WatchReady(ctx context.Context, fn func(journal.Change), ready func()) error {
	s.mu.Lock()
	for _, k := range sortedKeys(s.m) {
		fn(journal.Change{Key: k, Value: s.m[k].value, Revision: s.m[k].rev})
	}
	ready()
	id := s.nextW
	s.nextW++
	s.watchers[id] = fn
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	delete(s.watchers, id)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *memStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *memStore) write(key string, value []byte) uint64 {
	s.rev++
	s.m[key] = memEntry{value: value, rev: s.rev}
	s.notify(journal.Change{Key: key, Value: value, Revision: s.rev})
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
	s.remove(key)
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
	if _, ok := s.m[key]; ok {
		s.remove(key)
	}
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

func newTest(t testing.TB, node string, nodes Store, leases LeaseStore, clk *clock) *Manager {
	t.Helper()
	return newTestConfig(t, Config{Node: node, Addr: node + ":4000", Renew: 2 * time.Second, TTL: 6 * time.Second, Now: clk.Now}, nodes, leases, clk)
}

// newTestConfig returns a Manager whose rounds the test runs, with its watch of leases running
// and its first view complete.
func newTestConfig(t testing.TB, cfg Config, nodes Store, leases LeaseStore, clk *clock) *Manager {
	t.Helper()
	m, err := New(cfg, nodes, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.started = clk.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.watch(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-m.cache.readyC()
	return m
}

// heartbeat puts node's heartbeat as another node's Manager would, with epoch "e1".
func heartbeat(t testing.TB, nodes Store, node string) {
	t.Helper()
	heartbeatEpoch(t, nodes, node, "e1")
}

func heartbeatEpoch(t testing.TB, nodes Store, node, epoch string) {
	t.Helper()
	v, _ := json.Marshal(nodeValue{Node: node, Addr: node + ":4000", Started: t0, Epoch: epoch})
	if err := nodes.Put(context.Background(), node, v); err != nil {
		t.Fatal(err)
	}
}

// putLease writes a lease as node's Manager in epoch would.
func putLease(t testing.TB, leases Store, stream, node, epoch string) {
	t.Helper()
	v, _ := json.Marshal(leaseValue{Node: node, Epoch: epoch, Since: t0})
	if err := leases.Put(context.Background(), stream, v); err != nil {
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
		{"negative max writes", Config{Node: "n1", MaxWrites: -1}, "lease config: max writes -1 must not be negative"},
		{"negative writers", Config{Node: "n1", Writers: -2}, "lease config: writers -2 must not be negative"},
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
		t.Errorf("round 4 heartbeats only (-want +got):\n%s", diff)
	}
	want := Status{
		Node: "a",
		Nodes: []NodeStatus{
			{Name: "a", Addr: "a:4000", Started: t0, Live: true},
			{Name: "z", Addr: "z:4000", Started: t0, Live: true},
		},
		Owners: map[string]string{},
		// A new epoch (read, create), then a heartbeat, a listing and a read of z a round,
		// and one create per stream.
		Counters: Counters{Rounds: 4, Acquired: 20, Epochs: 1, StoreCalls: 2 + 4*2 + 3*1 + 20},
	}
	for _, s := range streams {
		want.Owners[s] = "a"
	}
	if diff := cmp.Diff(want, m.Status()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

// TestVacant: a lease is vacant when its node's heartbeat is gone or has another epoch; the
// preferred node takes a vacant lease at once, with a compare-and-set on the dead lease, and
// leaves a live node's lease alone (it shows in Status).
func TestVacant(t *testing.T) {
	tests := []struct {
		name        string
		zEpoch      string // z's heartbeat; "" = none
		leaseEpoch  string // the lease of z
		wantEvents  []string
		wantOwner   map[string]string
		wantPresent bool // the lease still names z
	}{
		{"live owner", "e1", "e1", nil, map[string]string{"s": "z"}, true},
		{"restarted owner", "e2", "e1", []string{"+s"}, map[string]string{"s": "a"}, false},
		{"dead owner", "", "e1", []string{"+s"}, map[string]string{"s": "a"}, false},
		{"dead owner of an earlier version", "", "", []string{"+s"}, map[string]string{"s": "a"}, false},
		{"live owner of an earlier version", "", "", nil, map[string]string{"s": "z"}, true},
		{"owner upgraded", "e1", "", []string{"+s"}, map[string]string{"s": "a"}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			nodes, leases := newMemStore(), newMemStore()
			switch {
			case tt.zEpoch != "":
				heartbeatEpoch(t, nodes, "z", tt.zEpoch)
			case i == 4:
				heartbeatEpoch(t, nodes, "z", "")
			}
			// A stream a prefers, whether z is live or not.
			as, _ := split("a", "z", streamNames(20))
			putLease(t, leases, as[0], "z", tt.leaseEpoch)
			rec := &recorder{}
			m := newTest(t, "a", nodes, leases, clk)
			m.round(ctx, as[:1], rec)
			rename := func(e []string) []string {
				for i := range e {
					e[i] = e[i][:1] + "s"
				}
				return e
			}
			if diff := cmp.Diff(tt.wantEvents, rename(rec.take())); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			owners := map[string]string{}
			for s, n := range m.Status().Owners {
				owners[s[:0]+"s"] = n
			}
			if diff := cmp.Diff(tt.wantOwner, owners); diff != "" {
				t.Errorf("owners (-want +got):\n%s", diff)
			}
			v, _, _ := leases.Entry(ctx, as[0])
			var lv leaseValue
			json.Unmarshal(v, &lv)
			if got := lv.Node == "z"; got != tt.wantPresent {
				t.Errorf("lease %+v: names z = %v, want %v", lv, got, tt.wantPresent)
			}
		})
	}
}

// TestOwnLease: a lease of this node's epoch that it does not hold (a take whose reply was
// lost) is adopted without a write when this node is preferred, and deleted otherwise; a lease
// of its earlier epoch (before a restart) is vacant like any other.
func TestOwnLease(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	heartbeat(t, nodes, "z")
	as, zs := split("a", "z", streamNames(20))
	putLease(t, leases, as[1], "a", "before-restart")
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, nil, rec) // the epoch
	putLease(t, leases, as[0], "a", m.epoch)
	putLease(t, leases, zs[0], "a", m.epoch)
	before := m.Status().Counters.StoreCalls
	m.round(ctx, []string{as[0], as[1], zs[0]}, rec)
	if diff := cmp.Diff([]string{"+" + as[0], "+" + as[1]}, rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// A heartbeat, a listing, a read of z, the take of as[1] and the delete of zs[0].
	if got := m.Status().Counters.StoreCalls - before; got != 5 {
		t.Errorf("store calls = %d, want 5", got)
	}
	if leases.has(zs[0]) {
		t.Errorf("lease %s of z's preference not deleted", zs[0])
	}
}

// TestHeartbeatError: a heartbeat failing with a store error keeps the workers until TTL−Renew
// has passed since the last successful heartbeat was sent, then loses them, before the heartbeat
// can expire; a heartbeat that succeeds in time keeps them.
func TestHeartbeatError(t *testing.T) {
	tests := []struct {
		name     string
		renew    time.Duration
		ttl      time.Duration
		heal     time.Duration // when the store works again; 0 = never
		wantLoss time.Duration // after the last successful heartbeat; 0 = never lost
	}{
		{"defaults", 2 * time.Second, 6 * time.Second, 0, 4 * time.Second},
		{"ttl not a multiple", 2 * time.Second, 5 * time.Second, 0, 3 * time.Second},
		{"long ttl", time.Second, 10 * time.Second, 0, 9 * time.Second},
		{"healed in time", 2 * time.Second, 7 * time.Second, 4 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			nodes, leases := newMemStore(), newMemStore()
			rec := &recorder{clk: clk}
			m := newTestConfig(t, Config{Node: "a", Renew: tt.renew, TTL: tt.ttl, Now: clk.Now}, nodes, leases, clk)
			m.round(ctx, []string{"s", "t"}, rec)
			if diff := cmp.Diff([]string{"+s", "+t"}, rec.take()); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			broken := errors.New("i/o timeout")
			nodes.fail(broken)
			leases.fail(broken)
			// Rounds every renew until the heartbeat's TTL is over; between them, Run's timer
			// fires at nextLoss.
			for now := tt.renew; now < tt.ttl; now += tt.renew {
				if tt.heal != 0 && now >= tt.heal {
					nodes.fail(nil)
					leases.fail(nil)
				}
				clk.Set(t0.Add(now))
				m.round(ctx, []string{"s", "t"}, rec)
				if at, ok := m.nextLoss(); ok && at.Before(t0.Add(now+tt.renew)) {
					clk.Set(at)
					m.expire(rec)
				}
			}
			var want []time.Time
			if tt.wantLoss != 0 {
				want = []time.Time{t0.Add(tt.wantLoss), t0.Add(tt.wantLoss)}
			}
			if diff := cmp.Diff(want, rec.times); diff != "" {
				t.Errorf("Lost at (-want +got):\n%s", diff)
			}
			if tt.wantLoss != 0 && !t0.Add(tt.wantLoss).Before(t0.Add(tt.ttl)) {
				t.Errorf("lost at %s, not before the heartbeat expires at %s", tt.wantLoss, tt.ttl)
			}
			if got := m.Status().Counters.RenewErrors; got == 0 {
				t.Error("no heartbeat errors counted")
			}
		})
	}
}

// TestHeartbeatLost: a heartbeat found changed or gone stops every worker at once and starts a
// new epoch, under which this node takes its streams again; a held lease changed in the store
// stops its worker at once.
func TestHeartbeatLost(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, nodes, leases *memStore, stream string)
		want   []string
	}{
		{"heartbeat gone", func(t *testing.T, nodes, _ *memStore, _ string) {
			nodes.Delete(context.Background(), "a")
		}, []string{"-s", "+s"}},
		{"heartbeat changed", func(t *testing.T, nodes, _ *memStore, _ string) {
			heartbeatEpoch(t, nodes, "a", "other")
		}, []string{"-s", "+s"}},
		{"lease taken", func(t *testing.T, _, leases *memStore, s string) {
			putLease(t, leases, s, "z", "e1")
		}, []string{"-s"}},
		{"lease deleted", func(t *testing.T, _, leases *memStore, s string) {
			leases.Delete(context.Background(), s)
		}, []string{"-s"}},
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
			epoch := m.epoch
			tt.change(t, nodes, leases, s)
			m.round(ctx, []string{s}, rec)
			got := rec.take()
			for i := range got {
				got[i] = got[i][:1] + "s"
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if newEpoch := m.epoch != epoch; newEpoch != (len(tt.want) == 2) {
				t.Errorf("epoch %s then %s", epoch, m.epoch)
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

// TestDeadLeaseOfStreamGone: the preferred node deletes a dead node's lease of a stream that is
// gone; a live node's is left to it.
func TestDeadLeaseOfStreamGone(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	heartbeat(t, nodes, "z")
	putLease(t, leases, "dead", "y", "e1")
	putLease(t, leases, "live", "z", "e1")
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, nil, rec)
	// Only when a is preferred (over the live a and z) does it delete the dead lease.
	if want := Preferred([]string{"a", "z"}, "dead") == "a"; leases.has("dead") == want {
		t.Errorf("dead lease present = %v, want %v", leases.has("dead"), !want)
	}
	if !leases.has("live") {
		t.Error("live node's lease deleted")
	}
}

// TestWriteBound: a round makes at most MaxWrites lease writes; the others wait for later
// rounds and are counted.
func TestWriteBound(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	streams := streamNames(50)
	m := newTestConfig(t, Config{Node: "a", Renew: 2 * time.Second, TTL: 6 * time.Second, MaxWrites: 20, Writers: 3, Now: clk.Now}, nodes, leases, clk)
	rec := &recorder{}
	var got [][3]int // acquired, deferred per round, the backlog in the heartbeat
	for i := range 4 {
		clk.Set(t0.Add(time.Duration(i) * 2 * time.Second))
		before := m.Status().Counters
		m.round(ctx, streams, rec)
		c := m.Status().Counters
		v, _, _ := nodes.Entry(ctx, "a")
		var nv nodeValue
		json.Unmarshal(v, &nv)
		got = append(got, [3]int{int(c.Acquired - before.Acquired), int(c.Deferred - before.Deferred), nv.Backlog})
	}
	if diff := cmp.Diff([][3]int{{20, 30, 0}, {20, 10, 30}, {10, 0, 10}, {0, 0, 0}}, got); diff != "" {
		t.Errorf("acquired, deferred per round, backlog (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plus(streams), rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestRoundCost: once the streams are placed, a round makes the same store calls whatever
// their number: a heartbeat, a listing and a read per other node.
func TestRoundCost(t *testing.T) {
	for _, n := range []int{10, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			nodes, leases := newMemStore(), newMemStore()
			streams := streamNames(n)
			a := newTest(t, "a", nodes, leases, clk)
			b := newTest(t, "b", nodes, leases, clk)
			rec := &recorder{}
			for i := range 4 {
				clk.Set(t0.Add(time.Duration(i) * 2 * time.Second))
				a.round(ctx, streams, rec)
				b.round(ctx, streams, rec)
			}
			if got := len(a.held) + len(b.held); got != n {
				t.Fatalf("%d of %d streams held", got, n)
			}
			beforeA, beforeB := a.Status().Counters.StoreCalls, b.Status().Counters.StoreCalls
			for i := range 5 {
				clk.Set(t0.Add(time.Duration(4+i) * 2 * time.Second))
				a.round(ctx, streams, rec)
				b.round(ctx, streams, rec)
			}
			calls := []uint64{a.Status().Counters.StoreCalls - beforeA, b.Status().Counters.StoreCalls - beforeB}
			if diff := cmp.Diff([]uint64{15, 15}, calls); diff != "" {
				t.Errorf("store calls in 5 rounds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunStops: Run takes the leases, and on return has stopped every worker and deleted its
// heartbeat, which leaves its leases vacant for every other node.
func TestRunStops(t *testing.T) {
	nodes, leases := newMemStore(), newMemStore()
	streams := streamNames(5)
	m, err := New(Config{Node: "a", Renew: 10 * time.Millisecond, TTL: 50 * time.Millisecond}, nodes, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
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
	if k, _ := nodes.Keys(context.Background()); len(k) != 0 {
		t.Errorf("heartbeats left: %v", k)
	}
	// Another node takes every lease at once.
	b := newTest(t, "b", nodes, leases, &clock{t: t0})
	b.round(context.Background(), streams, rec)
	if diff := cmp.Diff(plus(streams), rec.take()); diff != "" {
		t.Errorf("taken over (-want +got):\n%s", diff)
	}
	if c := m.Status().Counters; c.Lost != 5 || c.Acquired != 5 {
		t.Errorf("counters %+v", c)
	}
}

// lostReplies applies an Update or a Create but reports a timeout, as a reply lost in the
// network does.
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

func (l *lostReplies) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	r, err := l.memStore.Create(ctx, key, value)
	if err == nil && l.on {
		return 0, errors.New("i/o timeout")
	}
	return r, err
}

// TestLostReply: a heartbeat whose reply was lost leaves it at a revision the Manager does not
// know; the next heartbeat finds its own value there and carries on. A take whose reply was
// lost is adopted in the next round.
func TestLostReply(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := &lostReplies{memStore: newMemStore()}, &lostReplies{memStore: newMemStore()}
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	m.round(ctx, []string{"s"}, rec)
	nodes.on = true
	clk.Set(t0.Add(2 * time.Second))
	m.round(ctx, []string{"s"}, rec)
	nodes.on = false
	clk.Set(t0.Add(3 * time.Second)) // before the loss at 4 s
	m.round(ctx, []string{"s"}, rec)
	if diff := cmp.Diff([]string{"+s"}, rec.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if m.failing {
		t.Error("heartbeat still failing after a successful one")
	}
	leases.on = true
	m.round(ctx, []string{"s", "t"}, rec)
	leases.on = false
	if diff := cmp.Diff([]string(nil), rec.take()); diff != "" {
		t.Errorf("lost take (-want +got):\n%s", diff)
	}
	m.round(ctx, []string{"s", "t"}, rec)
	if diff := cmp.Diff([]string{"+t"}, rec.take()); diff != "" {
		t.Errorf("adopted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Counters{Rounds: 5, Acquired: 2, RenewErrors: 1, StoreErrors: 1, Epochs: 1, StoreCalls: 4 + 2 + 4 + 3 + 2}, m.Status().Counters); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// TestBusyPreferred: a node does not take a vacant lease whose preferred node defers writes
// (its heartbeat shows a backlog); it counts its two rounds from the first heartbeat without.
func TestBusyPreferred(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	_, zs := split("a", "z", streamNames(20))
	busy := func(backlog int) {
		v, _ := json.Marshal(nodeValue{Node: "z", Addr: "z:4000", Started: t0, Epoch: "e1", Backlog: backlog})
		nodes.Put(ctx, "z", v)
	}
	busy(500)
	rec := &recorder{}
	m := newTest(t, "a", nodes, leases, clk)
	var got []int
	for i := range 7 {
		if i == 3 {
			busy(0)
		}
		clk.Set(t0.Add(time.Duration(i) * 2 * time.Second))
		m.round(ctx, zs, rec)
		got = append(got, len(rec.take()))
	}
	if diff := cmp.Diff([]int{0, 0, 0, 0, 0, len(zs), 0}, got); diff != "" {
		t.Errorf("takes per round (-want +got):\n%s", diff)
	}
}

// slowStore advances the clock by step on every create, as a slow store would.
type slowStore struct {
	*memStore
	clk  *clock
	step time.Duration
}

func (s slowStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	s.clk.Set(s.clk.Now().Add(s.step))
	return s.memStore.Create(ctx, key, value)
}

// TestWriteTimeBound: no write starts once half a round has gone; the rest are deferred.
func TestWriteTimeBound(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), slowStore{newMemStore(), clk, 100 * time.Millisecond}
	m := newTestConfig(t, Config{Node: "a", Renew: 2 * time.Second, TTL: 6 * time.Second, Writers: 1, Now: clk.Now}, nodes, leases, clk)
	rec := &recorder{}
	m.round(ctx, streamNames(50), rec)
	c := m.Status().Counters
	// Each write takes 100 ms: 10 start before 1 s, or 11 when the writer is handed the next
	// one before it moves the clock.
	if c.Acquired < 10 || c.Acquired > 11 || c.Acquired+c.Deferred != 50 {
		t.Errorf("acquired %d, deferred %d: want 10 or 11 acquired, the rest of 50 deferred", c.Acquired, c.Deferred)
	}
}

// slowStarts is a Handler whose Acquired takes a second of the clock.
type slowStarts struct {
	recorder
	clk *clock
}

func (s *slowStarts) Acquired(stream string) {
	s.recorder.Acquired(stream)
	s.clk.Set(s.clk.Now().Add(time.Second))
}

// TestSlowStarts: workers are started only in the first three quarters of a round, so slow
// starts cannot hold off the next heartbeat; the leases taken are adopted by the next rounds.
func TestSlowStarts(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	nodes, leases := newMemStore(), newMemStore()
	m := newTest(t, "a", nodes, leases, clk)
	h := &slowStarts{clk: clk}
	streams := streamNames(5)
	var got [][2]int // started, deferred per round
	for range 3 {
		before := m.Status().Counters
		m.round(ctx, streams, h)
		c := m.Status().Counters
		got = append(got, [2]int{len(h.take()), int(c.Deferred - before.Deferred)})
	}
	if diff := cmp.Diff([][2]int{{2, 3}, {2, 1}, {1, 0}}, got); diff != "" {
		t.Errorf("started, deferred per round (-want +got):\n%s", diff)
	}
	if c := m.Status().Counters; c.StoreCalls != 2+1+5+2*2 {
		t.Errorf("store calls %d: want the 5 creates and no other lease write", c.StoreCalls)
	}
}
