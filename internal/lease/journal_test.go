package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// The real-journal tests run with short periods; the nodes bucket's TTL cannot be under 1 s.
const (
	testRenew = 300 * time.Millisecond
	testTTL   = 2 * time.Second
	slack     = 700 * time.Millisecond // scheduling, the race detector, JetStream's expiry timer
)

// ledger is every node's Handler: it tracks the owner of each stream across nodes and records
// a violation whenever a node acquires a stream another node has not lost yet.
type ledger struct {
	mu         sync.Mutex
	owner      map[string]string
	violations []string
}

type ledgerHandler struct {
	l    *ledger
	node string
}

func (h ledgerHandler) Acquired(s string) {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if o := h.l.owner[s]; o != "" {
		h.l.violations = append(h.l.violations, fmt.Sprintf("%s acquired %s still run by %s", h.node, s, o))
	}
	h.l.owner[s] = h.node
}

func (h ledgerHandler) Lost(s string) {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if o := h.l.owner[s]; o != h.node {
		h.l.violations = append(h.l.violations, fmt.Sprintf("%s lost %s run by %q", h.node, s, o))
		return
	}
	delete(h.l.owner, s)
}

func (l *ledger) owners() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := make(map[string]string, len(l.owner))
	for k, v := range l.owner {
		o[k] = v
	}
	return o
}

// faultStore fails every call while broken, as a node cut off from the cluster does.
type faultStore struct {
	LeaseStore // the watch goes on: writes fail, so a cut-off node can take nothing
	broken     *atomic.Bool
}

var errCutOff = errors.New("cut off from the cluster")

func (f faultStore) Entry(ctx context.Context, key string) ([]byte, uint64, error) {
	if f.broken.Load() {
		return nil, 0, errCutOff
	}
	return f.LeaseStore.Entry(ctx, key)
}

func (f faultStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if f.broken.Load() {
		return 0, errCutOff
	}
	return f.LeaseStore.Create(ctx, key, value)
}

func (f faultStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if f.broken.Load() {
		return 0, errCutOff
	}
	return f.LeaseStore.Update(ctx, key, value, rev)
}

func (f faultStore) DeleteRev(ctx context.Context, key string, rev uint64) error {
	if f.broken.Load() {
		return errCutOff
	}
	return f.LeaseStore.DeleteRev(ctx, key, rev)
}

func (f faultStore) Keys(ctx context.Context) ([]string, error) {
	if f.broken.Load() {
		return nil, errCutOff
	}
	return f.LeaseStore.Keys(ctx)
}

func (f faultStore) Put(ctx context.Context, key string, value []byte) error {
	if f.broken.Load() {
		return errCutOff
	}
	return f.LeaseStore.Put(ctx, key, value)
}

func (f faultStore) Delete(ctx context.Context, key string) error {
	if f.broken.Load() {
		return errCutOff
	}
	return f.LeaseStore.Delete(ctx, key)
}

// cluster is several Managers in one process sharing one journal's buckets.
type cluster struct {
	t       testing.TB
	nodes   *journal.KV
	leases  *journal.KV
	ledger  *ledger
	streams []string
	members map[string]*member
}

type member struct {
	m      *Manager
	broken *atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

func newCluster(t testing.TB, streams int) *cluster {
	t.Helper()
	ctx := context.Background()
	j, err := journal.Open(ctx, journal.Config{Dir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	nodes, err := j.KVWithTTL(ctx, "hydrant_nodes", testTTL)
	if err != nil {
		t.Fatal(err)
	}
	leases, err := j.KV(ctx, "hydrant_leases") // no TTL: a lease lasts as long as its node's heartbeat
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, nodes: nodes, leases: leases, ledger: &ledger{owner: map[string]string{}},
		streams: streamNames(streams), members: map[string]*member{}}
	t.Cleanup(func() {
		for _, mb := range c.members {
			mb.cancel()
			<-mb.done
		}
		if v := c.ledger.violations; len(v) > 0 {
			t.Errorf("ownership overlapped:\n%v", v)
		}
	})
	return c
}

func (c *cluster) start(name string) *member {
	c.t.Helper()
	broken := &atomic.Bool{}
	m, err := New(Config{Node: name, Addr: name + ":4000", Renew: testRenew, TTL: testTTL},
		faultStore{c.nodes, broken}, faultStore{c.leases, broken}, testLog(c.t))
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mb := &member{m: m, broken: broken, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(mb.done)
		m.Run(ctx, func() []string { return c.streams }, ledgerHandler{c.ledger, name})
	}()
	c.members[name] = mb
	return mb
}

// startInTurn starts the nodes one after the other, each once the ones before it placed every
// stream among themselves: each start is then a join, whose placement is exact however loaded
// the machine is. (Nodes started at once may leave a slow node's share with another, by design:
// a stream taken because its preferred node left it vacant stays until the preference changes.)
func (c *cluster) startInTurn(names ...string) {
	c.t.Helper()
	for i, n := range names {
		c.start(n)
		c.waitPlaced(c.want(names[:i+1]...), 10*time.Second)
	}
}

// stop cancels a member's Run and waits for it to return.
func (c *cluster) stop(name string) {
	mb := c.members[name]
	mb.cancel()
	<-mb.done
	delete(c.members, name)
}

// want returns the placement of the streams over nodes.
func (c *cluster) want(nodes ...string) map[string]string {
	w := map[string]string{}
	for _, s := range c.streams {
		w[s] = Preferred(nodes, s)
	}
	return w
}

// waitPlaced waits until the workers run where want says, and returns how long it took.
func (c *cluster) waitPlaced(want map[string]string, within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		got := c.ledger.owners()
		if cmp.Equal(want, got) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			c.t.Fatalf("not placed within %s (-want +got):\n%s", within, cmp.Diff(want, got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// spread checks that each node runs a fair share of the streams.
func spread(t testing.TB, owners map[string]string, nodes ...string) {
	t.Helper()
	count := map[string]int{}
	for _, n := range owners {
		count[n]++
	}
	for _, n := range nodes {
		if count[n] < len(owners)/len(nodes)/2 {
			t.Errorf("node %s runs %d of %d streams: %v", n, count[n], len(owners), count)
		}
	}
}

// TestJournalThreeNodes: three nodes place every stream on its preferred node, each stream on
// exactly one node at any time, and each node's Status shows the cluster.
func TestJournalThreeNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 30)
	c.startInTurn("a", "b", "c")
	spread(t, c.ledger.owners(), "a", "b", "c")
	// Stable: nothing moves over several rounds.
	before := c.members["a"].m.Status().Counters
	time.Sleep(4 * testRenew)
	st := c.members["a"].m.Status()
	if st.Counters.Acquired != before.Acquired || st.Counters.Lost != before.Lost {
		t.Errorf("leases moved in a stable cluster: %+v then %+v", before, st.Counters)
	}
	// A steady round: a heartbeat, a listing, a read of each other node; no lease write. (The
	// snapshots may fall within a round.)
	if rounds, calls := st.Counters.Rounds-before.Rounds, st.Counters.StoreCalls-before.StoreCalls; calls > 4*(rounds+1) || calls+4 < 4*rounds {
		t.Errorf("%d store calls in %d steady rounds, want 4 a round", calls, rounds)
	}
	if diff := cmp.Diff(c.want("a", "b", "c"), st.Owners); diff != "" {
		t.Errorf("Status owners (-want +got):\n%s", diff)
	}
	var nodes []string
	for _, n := range st.Nodes {
		if !n.Live || n.Addr != n.Name+":4000" || n.Started.IsZero() {
			t.Errorf("node %+v: want live, with its address and start time", n)
		}
		nodes = append(nodes, n.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, nodes); diff != "" {
		t.Errorf("Status nodes (-want +got):\n%s", diff)
	}
	for s, n := range c.want("a", "b", "c") {
		if !c.members[n].m.Owns(s) {
			t.Errorf("%s: Owns(%s) = false", n, s)
		}
	}
}

// TestJournalJoin: a joining node takes its preferred share within two rounds, and only that.
func TestJournalJoin(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 40)
	c.startInTurn("a", "b", "c")
	var acquired uint64
	for _, mb := range c.members {
		acquired += mb.m.Status().Counters.Acquired
	}
	c.start("d")
	took := c.waitPlaced(c.want("a", "b", "c", "d"), 2*testRenew+slack)
	t.Logf("joined in %s", took)
	spread(t, c.ledger.owners(), "a", "b", "c", "d")
	moved := 0
	for s, n := range c.want("a", "b", "c", "d") {
		if n == "d" {
			moved++
		} else if c.want("a", "b", "c")[s] != n {
			t.Errorf("stream %s moved between old nodes", s)
		}
	}
	if got := c.members["d"].m.Status().Counters.Acquired; got != uint64(moved) {
		t.Errorf("d acquired %d leases, want its %d", got, moved)
	}
}

// TestJournalGracefulStop: a stopping node releases its leases and heartbeat, and the others take
// its streams within two rounds.
func TestJournalGracefulStop(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 30)
	c.startInTurn("a", "b", "c")
	start := time.Now()
	c.stop("c")
	c.waitPlaced(c.want("a", "b"), 2*testRenew+slack)
	t.Logf("handed over in %s", time.Since(start))
}

// TestJournalCutOff: a node cut off from the store (partitioned, or dead without releasing)
// stops its workers before its leases expire, and the others take them over after the TTL;
// when the node is back it takes its share again.
func TestJournalCutOff(t *testing.T) {
	tests := []struct {
		name string
		kill bool // stop the node's Run too: it dies without releasing anything
	}{
		{"partitioned", false},
		{"killed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 30)
			c.startInTurn("a", "b", "c")
			start := time.Now()
			c.members["c"].broken.Store(true)
			if tt.kill {
				c.stop("c")
			}
			took := c.waitPlaced(c.want("a", "b"), testTTL+2*testRenew+slack)
			t.Logf("taken over in %s (TTL %s, renew %s)", took, testTTL, testRenew)
			if took < testTTL-testRenew {
				t.Errorf("taken over in %s, before the lease could expire (TTL %s)", took, testTTL)
			}
			if tt.kill {
				return
			}
			if n := c.members["c"].m.Status().Counters.RenewErrors; n == 0 {
				t.Error("no renew errors counted")
			}
			c.members["c"].broken.Store(false)
			start = time.Now()
			c.waitPlaced(c.want("a", "b", "c"), 3*testRenew+slack)
			t.Logf("back in %s", time.Since(start))
		})
	}
}

// testLog returns a logger to stderr when LEASE_LOG is set, for looking into a failure.
func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("LEASE_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
}
