package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// store is an in-memory destination whose behaviour a test steers: fail decides each write's
// failure, hold makes writes wait (in flight) until released, and lost writes store the
// object and then never answer, as a process killed after the store committed the object.
type store struct {
	mu          sync.Mutex
	got         map[string]string
	calls       int
	inFlight    int
	maxInFlight int
	fail        func(key string) error
	hold        chan struct{} // when set, writes wait on it
	lose        func(key string) bool
}

func newStore() *store { return &store{got: map[string]string{}} }

func (s *store) PutObject(ctx context.Context, o destination.Object) error {
	if err := destination.CheckKey(o.Key); err != nil {
		return err
	}
	s.mu.Lock()
	s.calls++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	fail, hold, lose := s.fail, s.hold, s.lose
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(o.Key); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.got[o.Bucket+"/"+o.Key] = string(o.Body)
	s.mu.Unlock()
	if lose != nil && lose(o.Key) {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *store) Exists(_ context.Context, bucket, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.got[bucket+"/"+key]
	return ok, nil
}

func (s *store) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.got)
}

// under returns the objects whose bucket/key starts with p.
func (s *store) under(p string) map[string]string {
	out := map[string]string{}
	for k, v := range s.snapshot() {
		if strings.HasPrefix(k, p) {
			out[k] = v
		}
	}
	return out
}

// waitInFlight waits until exactly n writes are in the store's hands.
func (s *store) waitInFlight(t testing.TB, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d writes in flight", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.inFlight == n
	})
}

func (s *store) set(f func(s *store)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// permanent is a store failure no retry can fix.
func permanent(key string) error {
	return errors.Join(destination.ErrInvalidObject, errors.New("key refused: "+key))
}

func discard() *slog.Logger {
	if os.Getenv("DLOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openJournal(t testing.TB) *journal.Journal {
	t.Helper()
	// One shard: every test's stream shares its journal stream with any other it creates.
	j, err := journal.Open(context.Background(), journal.Config{Dir: t.TempDir(), Shards: 1, ReaderIdle: 30 * time.Millisecond}.WithDefaults(), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := j.CreateStream(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	return j
}

// running is a Manager running until stop.
type running struct {
	*Manager
	cancel context.CancelFunc
	done   chan error
}

func run(t testing.TB, deps Deps, specs ...Spec) *running {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = discard()
	}
	if deps.Backoff == (Backoff{}) {
		deps.Backoff = Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond}
	}
	if deps.SleepAfter == 0 {
		// Idle actors sleep soon, so that every test also wakes them by commands and appends.
		deps.SleepAfter = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Manager: NewManager(deps), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.Run(ctx) }()
	t.Cleanup(r.stop)
	for _, s := range specs {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := r.Apply(actx, s)
		for errors.Is(err, ErrNotRunning) && actx.Err() == nil { // Run has not started yet
			time.Sleep(time.Millisecond)
			err = r.Apply(actx, s)
		}
		acancel()
		if err != nil {
			t.Fatalf("Apply(%s): %v", s.Stream, err)
		}
	}
	return r
}

// stop stops the manager as a kill would: nothing more is written or saved after it.
func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // stop is idempotent
}

func (r *running) flush(t testing.TB, stream string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx, stream); err != nil {
		t.Fatalf("Flush(%s): %v", stream, err)
	}
}

func testSpec(t testing.TB) Spec {
	t.Helper()
	expr, err := prefix.DataPrefix("p/")
	if err != nil {
		t.Fatal(err)
	}
	errs, err := prefix.ErrorPrefix("p/", "e/!{firehose:error-output-type}/")
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Stream: "s", Version: 1, Legs: []LegSpec{{Name: LegDestination, Bucket: "b", Prefix: expr, ErrorPrefix: errs,
		Location: time.UTC, Compression: compress.Uncompressed, SizeBytes: 1 << 20, Interval: time.Hour}}}
}

// partitioned makes spec's destination leg partition records by their first byte.
func partitioned(t testing.TB, spec Spec) Spec {
	t.Helper()
	expr, err := prefix.Parse("k=!{partitionKeyFromQuery:k}/")
	if err != nil {
		t.Fatal(err)
	}
	spec.Legs[0].Prefix = expr
	spec.Legs[0].Dynamic, spec.Legs[0].MaxPartitions, spec.Legs[0].Processor = true, 100, keyByFirstByte{}
	return spec
}

// withBackup adds a backup leg to bucket bk.
func withBackup(t testing.TB, spec Spec) Spec {
	t.Helper()
	backupPrefix, err := prefix.DataPrefix("backup/")
	if err != nil {
		t.Fatal(err)
	}
	spec.Legs = append(spec.Legs, LegSpec{Name: LegBackup, Bucket: "bk", Prefix: backupPrefix, Location: time.UTC,
		Compression: compress.Uncompressed, SizeBytes: 1 << 20, Interval: time.Hour})
	return spec
}

// keyByFirstByte is a Processor that partitions records by their first byte and appends a
// newline to each.
type keyByFirstByte struct{}

func (keyByFirstByte) Process(_ context.Context, in []processor.Record) ([]processor.Record, []processor.Failure, error) {
	out := make([]processor.Record, len(in))
	for i, r := range in {
		out[i] = r
		out[i].Data = append(append([]byte(nil), r.Data...), '\n')
		out[i].Query = map[string]string{"k": string(r.Data[:1])}
	}
	return out, nil, nil
}

func appendAll(t testing.TB, j *journal.Journal, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if _, err := j.Append(context.Background(), "s", time.Now(), [][]byte{[]byte(r)}); err != nil {
			t.Fatal(err)
		}
	}
}

// lines counts every newline-terminated line in the objects.
func lines(objs map[string]string) map[string]int {
	out := map[string]int{}
	for _, v := range objs {
		for _, l := range strings.SplitAfter(v, "\n") {
			if l != "" {
				out[strings.TrimSuffix(l, "\n")]++
			}
		}
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeClock is a Clock that moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !c.now.Before(t.at) {
			t.ch <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// waiting returns the number of timers not yet fired.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}
