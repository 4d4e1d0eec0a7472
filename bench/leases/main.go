// Command leases measures delivery ownership (internal/lease) with many streams: three lease
// Managers in one process, each on its own node of an in-process three-node JetStream cluster
// (R3 buckets), place N streams; the program measures the start-up placement, the steady
// rounds (their period and busy time, store calls per round, leases lost), the takeover after
// a graceful stop of one node, the rebalance when it joins again, and the takeover after it is
// killed (no release, its heartbeat expires).
//
// The Handler only records ownership (no delivery worker), so the times are those of the lease
// protocol alone. Store calls are counted by a wrapper around the buckets, so the same program
// measures an earlier revision of internal/lease: bench/run-leases.sh runs it here at 50,000
// streams and in a worktree of the design it replaced at 2,000 and 5,000, writing one JSON row
// per run (-row), then appends one section to bench/RESULTS.md (-report).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/lease"
)

// Row is one run's measurements.
type Row struct {
	Design  string `json:"design"`
	Rev     string `json:"rev"`
	Streams int    `json:"streams"`

	Placed       time.Duration `json:"placed"` // start-up: until every stream runs on its preferred node; 0 = not within the limit
	PlacedMissed int           `json:"placedMissed"`

	Window         time.Duration `json:"window"`
	Rounds         int           `json:"rounds"`         // heartbeats seen in the window, all nodes
	PeriodAvg      time.Duration `json:"periodAvg"`      // between a node's heartbeats
	PeriodMax      time.Duration `json:"periodMax"`      //
	BusyAvg        time.Duration `json:"busyAvg"`        // a round's store calls, first start to last end
	BusyMax        time.Duration `json:"busyMax"`        //
	CallsPerRound  float64       `json:"callsPerRound"`  // per node
	LostSteady     uint64        `json:"lostSteady"`     // Lost calls in the window
	AcquiredSteady uint64        `json:"acquiredSteady"` //

	Handover  time.Duration `json:"handover"`  // graceful stop of n3 until its streams run on n1, n2; 0 = not within the limit
	Rejoin    time.Duration `json:"rejoin"`    // n3 started again until the placement over three is back
	Takeover  time.Duration `json:"takeover"`  // n3 killed (no release) until its streams run on n1, n2
	Deferred  uint64        `json:"deferred"`  // lease writes deferred by the write bound, all nodes, whole run ("-" before it existed)
	HasDefer  bool          `json:"hasDefer"`  //
	Overlaps  int           `json:"overlaps"`  // a node acquired a stream another had not lost
	StoreErrs uint64        `json:"storeErrs"` // store calls that failed, the killed node's excepted
	Note      string        `json:"note,omitempty"`
}

func main() {
	streams := flag.Int("streams", 50000, "streams to place")
	design := flag.String("design", "heartbeat epochs + watch", "label of the design measured")
	rev := flag.String("rev", "", "revision label")
	leaseTTL := flag.Duration("lease-ttl", 0, "TTL of the leases bucket (the design before heartbeat epochs needs the nodes' TTL, 6s)")
	window := flag.Duration("window", 20*time.Second, "steady-state window")
	limit := flag.Duration("limit", 3*time.Minute, "longest wait for each phase")
	row := flag.String("row", "", "append the row as JSON to this file")
	report := flag.String("report", "", "with -rows: append a section to this results file and exit")
	rows := flag.String("rows", "", "the rows file to report")
	logFile := flag.String("log", "", "write the Managers' logs to this file")
	flag.Parse()
	if *report != "" {
		root, err := harness.ModuleRoot()
		if err != nil {
			log.Fatal(err)
		}
		si := harness.SystemInfo(root)
		info := fmt.Sprintf("host: `nproc` %s, CPU %s, %s, load average before the report %s", si.NProc, si.CPU, si.GoVersion, harness.LoadAvg())
		if err := writeReport(*report, *rows, info); err != nil {
			log.Fatal(err)
		}
		return
	}
	logger := slog.New(slog.DiscardHandler)
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *rev == "" { // before the run: the code measured is the code built
		if root, err := harness.ModuleRoot(); err == nil {
			*rev = harness.SystemInfo(root).Rev
		}
	}
	r, err := measure(*streams, *leaseTTL, *window, *limit, logger)
	if err != nil {
		log.Fatal(err)
	}
	r.Design, r.Rev = *design, *rev
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	if *row != "" {
		f, err := os.OpenFile(*row, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintln(f, string(b))
		f.Close()
	}
}

// counted is a bucket whose calls are counted and timed per node, and which fails every call
// once the node is killed.
type counted struct {
	kv     *journal.KV
	node   *nodeStats
	beat   bool // the nodes bucket: a write of the node's own key starts a round
	killed *atomic.Bool
}

var errKilled = errors.New("killed")

type nodeStats struct {
	name string
	mu   sync.Mutex
	// the round in progress
	start, lastEnd time.Time
	calls          int
	// rounds completed while recording
	recording bool
	recFrom   time.Time
	periods   []time.Duration
	busy      []time.Duration
	callsDone []int
	errs      uint64
}

func (n *nodeStats) call(beat bool, f func() error) error {
	now := time.Now()
	if beat {
		n.mu.Lock()
		if n.recording && n.start.After(n.recFrom) { // whole rounds within the window
			n.periods = append(n.periods, now.Sub(n.start))
			n.busy = append(n.busy, n.lastEnd.Sub(n.start))
			n.callsDone = append(n.callsDone, n.calls)
		}
		n.start, n.calls = now, 0
		n.mu.Unlock()
	}
	err := f()
	n.mu.Lock()
	n.calls++
	n.lastEnd = time.Now()
	if err != nil && !errors.Is(err, journal.ErrConflict) && !errors.Is(err, journal.ErrNotFound) && !errors.Is(err, errKilled) {
		n.errs++
	}
	n.mu.Unlock()
	return err
}

func (c counted) do(key string, f func() error) error {
	if c.killed.Load() {
		return errKilled
	}
	return c.node.call(c.beat && key == c.node.name, f)
}

func (c counted) Entry(ctx context.Context, key string) (v []byte, rev uint64, err error) {
	err = c.do("", func() error { v, rev, err = c.kv.Entry(ctx, key); return err })
	return v, rev, err
}

func (c counted) Create(ctx context.Context, key string, value []byte) (rev uint64, err error) {
	err = c.do(key, func() error { rev, err = c.kv.Create(ctx, key, value); return err })
	return rev, err
}

func (c counted) Update(ctx context.Context, key string, value []byte, rev uint64) (nrev uint64, err error) {
	err = c.do(key, func() error { nrev, err = c.kv.Update(ctx, key, value, rev); return err })
	return nrev, err
}

func (c counted) DeleteRev(ctx context.Context, key string, rev uint64) error {
	return c.do("", func() error { return c.kv.DeleteRev(ctx, key, rev) })
}

func (c counted) Keys(ctx context.Context) (keys []string, err error) {
	err = c.do("", func() error { keys, err = c.kv.Keys(ctx); return err })
	return keys, err
}

func (c counted) Put(ctx context.Context, key string, value []byte) error {
	return c.do(key, func() error { return c.kv.Put(ctx, key, value) })
}

func (c counted) Delete(ctx context.Context, key string) error {
	return c.do("", func() error { return c.kv.Delete(ctx, key) })
}

// WatchReady passes the watch through (uncounted) where the journal has it.
func (c counted) WatchReady(ctx context.Context, fn func(journal.Change), ready func()) error {
	w, ok := any(c.kv).(interface {
		WatchReady(context.Context, func(journal.Change), func()) error
	})
	if !ok {
		return errors.New("no watch in this journal")
	}
	return w.WatchReady(ctx, fn, ready)
}

// ledger is every node's Handler: the owner of each stream, and every overlap.
type ledger struct {
	mu       sync.Mutex
	owner    map[string]string
	overlaps int
	acquired atomic.Uint64
	lost     atomic.Uint64
}

type handler struct {
	l    *ledger
	node string
}

func (h handler) Acquired(s string) {
	h.l.acquired.Add(1)
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if o := h.l.owner[s]; o != "" {
		h.l.overlaps++
	}
	h.l.owner[s] = h.node
}

func (h handler) Lost(s string) {
	h.l.lost.Add(1)
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if h.l.owner[s] == h.node {
		delete(h.l.owner, s)
	}
}

// missing counts the streams not running where want says.
func (l *ledger) missing(want map[string]string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for s, node := range want {
		if l.owner[s] != node {
			n++
		}
	}
	return n
}

type node struct {
	name   string
	m      *lease.Manager
	stats  *nodeStats
	killed *atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

func measure(n int, leaseTTL, window, limit time.Duration, logger *slog.Logger) (Row, error) {
	r := Row{Streams: n}
	ctx := context.Background()
	js, err := openCluster(ctx, 3)
	if err != nil {
		return r, err
	}
	defer func() {
		for _, j := range js {
			j.Close()
		}
	}()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("stream-%05d", i)
	}
	streams := func() []string { return names }
	l := &ledger{owner: map[string]string{}}
	cfg := lease.Config{}.WithDefaults()
	nodesKV := make([]*journal.KV, 3)
	leasesKV := make([]*journal.KV, 3)
	for i, j := range js {
		if nodesKV[i], err = j.KVWithTTL(ctx, "hydrant_nodes", cfg.TTL); err != nil {
			return r, err
		}
		if leaseTTL > 0 {
			leasesKV[i], err = j.KVWithTTL(ctx, "hydrant_leases", leaseTTL)
		} else {
			leasesKV[i], err = j.KV(ctx, "hydrant_leases")
		}
		if err != nil {
			return r, err
		}
	}
	nodes := map[string]*node{}
	var retired []*node // stopped or killed: their counters still count
	start := func(i int) *node {
		name := fmt.Sprintf("n%d", i+1)
		nd := &node{name: name, stats: &nodeStats{name: name}, killed: &atomic.Bool{}, done: make(chan struct{})}
		m, err := lease.New(lease.Config{Node: name, Addr: name + ":4573"},
			counted{kv: nodesKV[i], node: nd.stats, beat: true, killed: nd.killed},
			counted{kv: leasesKV[i], node: nd.stats, killed: nd.killed}, logger)
		if err != nil {
			log.Fatal(err)
		}
		nd.m = m
		rctx, cancel := context.WithCancel(ctx)
		nd.cancel = cancel
		go func() {
			defer close(nd.done)
			m.Run(rctx, streams, handler{l, name})
		}()
		nodes[name] = nd
		return nd
	}
	want := func(live ...string) map[string]string {
		w := make(map[string]string, n)
		for _, s := range names {
			w[s] = lease.Preferred(live, s)
		}
		return w
	}
	wait := func(w map[string]string) (time.Duration, int) {
		t0 := time.Now()
		for {
			miss := l.missing(w)
			if miss == 0 {
				return time.Since(t0), 0
			}
			if time.Since(t0) > limit {
				return 0, miss
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer func() {
		for _, nd := range nodes {
			nd.cancel()
			<-nd.done
		}
	}()

	// Start-up placement.
	log.Printf("%d streams: starting three nodes", n)
	t0 := time.Now()
	for i := range 3 {
		start(i)
	}
	all := want("n1", "n2", "n3")
	if _, miss := wait(all); miss > 0 {
		r.PlacedMissed = miss
		r.Note = fmt.Sprintf("%d streams not placed within %s", miss, limit)
	} else {
		r.Placed = time.Since(t0)
	}
	log.Printf("placed in %s (missing %d)", r.Placed, r.PlacedMissed)

	// Steady state.
	for _, nd := range nodes {
		nd.stats.mu.Lock()
		nd.stats.recording, nd.stats.recFrom = true, time.Now()
		nd.stats.mu.Unlock()
	}
	acq0, lost0 := l.acquired.Load(), l.lost.Load()
	time.Sleep(window)
	r.Window = window
	r.AcquiredSteady, r.LostSteady = l.acquired.Load()-acq0, l.lost.Load()-lost0
	var periods, busy []time.Duration
	calls := 0
	for _, nd := range nodes {
		nd.stats.mu.Lock()
		nd.stats.recording = false
		periods = append(periods, nd.stats.periods...)
		busy = append(busy, nd.stats.busy...)
		for _, c := range nd.stats.callsDone {
			calls += c
		}
		nd.stats.mu.Unlock()
	}
	r.Rounds = len(periods)
	r.PeriodAvg, r.PeriodMax = avgMax(periods)
	r.BusyAvg, r.BusyMax = avgMax(busy)
	if len(periods) > 0 {
		r.CallsPerRound = float64(calls) / float64(len(periods))
	}
	log.Printf("steady: %d rounds, period %s/%s, busy %s/%s, %.1f calls a round, lost %d", r.Rounds, r.PeriodAvg, r.PeriodMax, r.BusyAvg, r.BusyMax, r.CallsPerRound, r.LostSteady)

	// stop ends n3's Run: gracefully, or killed (its store calls fail, so it releases nothing).
	stop := func(kill bool) {
		nd := nodes["n3"]
		nd.killed.Store(kill)
		nd.cancel()
		<-nd.done
		delete(nodes, "n3")
		retired = append(retired, nd)
	}

	// Graceful stop of n3.
	if r.PlacedMissed == 0 {
		stop(false)
		r.Handover, _ = wait(want("n1", "n2"))
		log.Printf("handover in %s", r.Handover)

		// n3 joins again.
		t0 = time.Now()
		start(2)
		if _, miss := wait(all); miss == 0 {
			r.Rejoin = time.Since(t0)
		}
		log.Printf("rejoined in %s", r.Rejoin)

		// n3 killed: no release; its heartbeat (and, before, its leases) expire.
		if r.Rejoin > 0 {
			stop(true)
			r.Takeover, _ = wait(want("n1", "n2"))
			log.Printf("taken over in %s", r.Takeover)
		}
	}

	for _, nd := range append(slices.Collect(mapValues(nodes)), retired...) {
		var c map[string]any
		b, _ := json.Marshal(nd.m.Status().Counters)
		json.Unmarshal(b, &c)
		if d, ok := c["deferred"].(float64); ok {
			r.Deferred += uint64(d)
			r.HasDefer = true
		}
		if !nd.killed.Load() {
			r.StoreErrs += nd.stats.errs
		}
	}
	l.mu.Lock()
	r.Overlaps = l.overlaps
	l.mu.Unlock()
	return r, nil
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func avgMax(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	var sum, mx time.Duration
	for _, d := range ds {
		sum += d
		mx = max(mx, d)
	}
	return sum / time.Duration(len(ds)), mx
}

// openCluster opens n journals routed into one cluster on free loopback ports.
func openCluster(ctx context.Context, n int) ([]*journal.Journal, error) {
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	dir, err := os.MkdirTemp("", "hydrant-bench-leases-")
	if err != nil {
		return nil, err
	}
	js := make([]*journal.Journal, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := journal.Config{Dir: fmt.Sprintf("%s/n%d", dir, i+1), Cluster: journal.ClusterConfig{
			Node: fmt.Sprintf("n%d", i+1), Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes, Wait: 60 * time.Second,
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			js[i], errs[i] = journal.Open(ctx, cfg, nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return js, nil
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func writeReport(results, rowsFile, info string) error {
	b, err := os.ReadFile(rowsFile)
	if err != nil {
		return err
	}
	var rows []Row
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return err
		}
		rows = append(rows, r)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "## %s — lease rounds with many streams: 3 in-process nodes\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&s, "- %s; run with `bench/run-leases.sh` (each row's revision in the table)\n", info)
	fmt.Fprintf(&s, "- method: three lease Managers in one process, each on its own node of an in-process three-node JetStream cluster (R3 buckets), defaults Renew 2 s, TTL 6 s (and MaxWrites 5000, Writers 32, writes started within the first half of a round, where they exist); the Handler only records owners (no delivery worker). *Placed*: start until every stream runs on its preferred node. *Steady*: a %s window after that: the period between a node's heartbeats (2 s when rounds keep up), the busy time of a round (its first store call's start to its last call's end), store calls per node per round, workers lost. *Handover*: n3 stopped gracefully until its streams run on n1, n2. *Rejoin*: n3 started again until the placement over three is back. *Takeover*: n3 killed (its store calls fail, nothing released) until its streams run on n1, n2\n", rows[0].Window)
	fmt.Fprintf(&s, "- **caveat:** the three nodes, their JetStream servers and the measuring share 2 cores on a shared machine: the numbers are noisy, and the absolute times are those of one small machine\n\n")
	fmt.Fprintf(&s, "| design | rev | streams | placed | steady: period avg / max | busy avg / max | store calls per node per round | lost in steady | handover | rejoin | takeover after kill | writes deferred | overlaps | store errors | note |\n")
	fmt.Fprintf(&s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		placed := ms(r.Placed)
		if r.PlacedMissed > 0 {
			placed = fmt.Sprintf("no: %d missing", r.PlacedMissed)
		}
		def := "–"
		if r.HasDefer {
			def = fmt.Sprint(r.Deferred)
		}
		fmt.Fprintf(&s, "| %s | %s | %d | %s | %s / %s | %s / %s | %.1f | %d | %s | %s | %s | %s | %d | %d | %s |\n",
			r.Design, r.Rev, r.Streams, placed, ms(r.PeriodAvg), ms(r.PeriodMax), ms(r.BusyAvg), ms(r.BusyMax),
			r.CallsPerRound, r.LostSteady, ms(r.Handover), ms(r.Rejoin), ms(r.Takeover), def, r.Overlaps, r.StoreErrs, r.Note)
	}
	f, err := os.OpenFile(results, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprint(f, "\n"+s.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
