package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

func TestIntervalDeadlineFollowsTheInjectedClock(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	clock := newFakeClock()
	spec := testSpec(t)
	spec.Legs[0].Interval = time.Minute
	r := run(t, Deps{Log: j, State: j, Objects: out, Clock: clock}, spec)
	appendAll(t, j, "a", "b")
	eventually(t, "the records to be buffered", func() bool {
		legs, _ := r.Status("s")
		return len(legs) == 1 && legs[0].BufferedRecords == 2 && clock.waiting() > 0
	})
	clock.Advance(59 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if got := out.snapshot(); len(got) != 0 {
		t.Fatalf("objects %v before the interval passed", got)
	}
	clock.Advance(time.Second)
	eventually(t, "the object of the interval", func() bool { return len(out.snapshot()) == 1 })
	for k, v := range out.snapshot() {
		if v != "ab" || !strings.HasPrefix(k, "b/p/") {
			t.Errorf("object %s = %q", k, v)
		}
	}
}

func TestZeroBufferingDeliversWhenCaughtUp(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	spec := testSpec(t)
	spec.Legs[0].Interval = 0
	run(t, Deps{Log: j, State: j, Objects: out}, spec)
	appendAll(t, j, "now")
	eventually(t, "zero buffering to deliver without a flush", func() bool { return len(out.snapshot()) == 1 })
}

// TestCrashAtEveryStepIsExactlyOnce kills delivery (stops the manager, nothing saved after)
// while objects are in flight in two ways — the store committed the object but the answer was
// lost, or the write never reached the store — for each kind of stream, and checks that after
// a restart every record is in exactly one object.
func TestCrashAtEveryStepIsExactlyOnce(t *testing.T) {
	kinds := []struct {
		name string
		spec func(t testing.TB) Spec
	}{
		{"plain", func(t testing.TB) Spec { s := testSpec(t); s.Legs[0].SizeBytes = 4; return s }},
		{"partitioned", func(t testing.TB) Spec { s := partitioned(t, testSpec(t)); s.Legs[0].SizeBytes = 6; return s }},
		{"backup leg", func(t testing.TB) Spec {
			s := withBackup(t, partitioned(t, testSpec(t)))
			s.Legs[0].SizeBytes, s.Legs[1].SizeBytes = 6, 6
			return s
		}},
	}
	crashes := []struct {
		name string
		lost bool // the store committed the object before the crash
	}{{"after the store committed", true}, {"before the store committed", false}}
	for _, k := range kinds {
		for _, c := range crashes {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				j := openJournal(t)
				out := newStore()
				spec := k.spec(t)
				var recs []string
				for i := range 24 {
					recs = append(recs, fmt.Sprintf("%c%02d", 'a'+i%3, i))
				}
				// Every third write is the one the crash interrupts.
				var n atomic.Int64
				out.set(func(s *store) {
					if c.lost {
						s.lose = func(string) bool { return n.Add(1)%3 == 0 }
					} else {
						s.fail = func(string) error {
							if n.Add(1)%3 == 0 {
								return errors.New("connection reset")
							}
							return nil
						}
					}
				})
				r1 := run(t, Deps{Log: j, State: j, Objects: out, Backoff: Backoff{Initial: time.Hour, Max: time.Hour}}, spec)
				appendAll(t, j, recs...)
				eventually(t, "some writes", func() bool { return len(out.snapshot()) >= 4 })
				time.Sleep(50 * time.Millisecond)
				r1.stop()
				out.set(func(s *store) { s.fail, s.lose = nil, nil })

				r2 := run(t, Deps{Log: j, State: j, Objects: out}, spec)
				r2.flush(t, "s")
				want := map[string]int{}
				for _, rec := range recs {
					want[rec] = 1
				}
				for _, leg := range []string{"b/", "bk/"} {
					objs := out.under(leg)
					if leg == "bk/" {
						if len(spec.Legs) == 1 {
							continue
						}
						// The backup leg holds the source records without newlines.
						got := map[string]int{}
						for _, v := range objs {
							for i := 0; i+3 <= len(v); i += 3 {
								got[v[i:i+3]]++
							}
						}
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("backup records (-want +got):\n%s", diff)
						}
						continue
					}
					got := lines(objs)
					if spec.Legs[0].Processor == nil {
						got = map[string]int{}
						for _, v := range objs {
							for i := 0; i+3 <= len(v); i += 3 {
								got[v[i:i+3]]++
							}
						}
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("destination records (-want +got):\n%s\nobjects: %v", diff, objs)
					}
				}
				st, err := j.LoadState(context.Background(), "s")
				if err != nil || st.Cursor != uint64(len(recs))+1 {
					t.Errorf("state %+v %v, want cursor %d", st, err, len(recs)+1)
				}
			})
		}
	}
}

func TestIntentOfTheOneWriteEngineIsHonoured(t *testing.T) {
	for _, exists := range []bool{true, false} {
		t.Run(fmt.Sprintf("object exists %v", exists), func(t *testing.T) {
			ctx := context.Background()
			j := openJournal(t)
			appendAll(t, j, "a", "b", "c")
			st, err := j.LoadState(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			const key = "p/2026/11/21/22/s-1-2026-11-21-22-40-07-fixed"
			st.Intent = &journal.Intent{FromSeq: 1, ToSeq: 2, Key: key, Data: []byte(LegDestination)}
			if _, err := j.SaveState(ctx, "s", st); err != nil {
				t.Fatal(err)
			}
			out := newStore()
			if exists {
				out.got["b/"+key] = "ab"
			}
			r := run(t, Deps{Log: j, State: j, Objects: out}, testSpec(t))
			r.flush(t, "s")
			all := ""
			for _, k := range keys(out.snapshot()) {
				all += out.snapshot()[k]
			}
			if got := strings.Count(all, "a") + strings.Count(all, "b") + strings.Count(all, "c"); got != 3 || !strings.Contains(all, "c") {
				t.Errorf("objects %v: want a, b and c once each", out.snapshot())
			}
		})
	}
}

func TestPermanentFailureGoesToTheErrorOutputAndTheStreamFlows(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	out.fail = func(key string) error {
		if strings.Contains(key, "k=b/") {
			return permanent(key)
		}
		return nil
	}
	spec := partitioned(t, testSpec(t))
	r := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	appendAll(t, j, "a1", "b1", "c1", "a2")
	r.flush(t, "s")
	if diff := cmp.Diff(map[string]int{"a1": 1, "a2": 1}, lines(out.under("b/k=a/"))); diff != "" {
		t.Errorf("partition a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"c1": 1}, lines(out.under("b/k=c/"))); diff != "" {
		t.Errorf("partition c (-want +got):\n%s", diff)
	}
	errs := out.under("b/e/processing-failed/")
	if len(errs) != 1 {
		t.Fatalf("error output %v: want one object", errs)
	}
	for _, v := range errs {
		if !strings.Contains(v, `"errorCode":"S3.InvalidObject"`) || !strings.Contains(v, `"rawData":"YjEK"`) {
			t.Errorf("error document %s: want S3.InvalidObject with b1's data", v)
		}
	}
	// The stream goes on.
	appendAll(t, j, "c2")
	r.flush(t, "s")
	if got := lines(out.under("b/k=c/"))["c2"]; got != 1 {
		t.Errorf("c2 delivered %d times after the failure, want 1", got)
	}
	_, failures := r.Recent("s", 10)
	if len(failures) == 0 || failures[0].Kind != "delivery" {
		t.Errorf("recent failures %+v: want the delivery failure", failures)
	}
}

func TestControlCallsAnswerWhileTheStoreFails(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	out.fail = func(string) error { return errors.New("connection refused") }
	spec := testSpec(t)
	spec.Legs[0].SizeBytes = 1
	r := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	appendAll(t, j, "x", "y")
	eventually(t, "failing writes", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.calls >= 2
	})
	timed := func(what string, f func(ctx context.Context) error, wantErr bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s took %v while the store fails", what, took)
		}
		if (err != nil) != wantErr {
			t.Errorf("%s: %v, want error %v", what, err, wantErr)
		}
	}
	timed("Flush", func(ctx context.Context) error { return r.Flush(ctx, "s") }, true)
	next := spec
	next.Version = 2
	timed("Apply", func(ctx context.Context) error { return r.Apply(ctx, next) }, false)
	timed("Status", func(context.Context) error {
		if legs, ok := r.Status("s"); !ok || legs[0].LastError == nil {
			return fmt.Errorf("status %+v without the last error", legs)
		}
		return nil
	}, false)
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor > 1 {
		t.Errorf("cursor %d moved while nothing was written", st.Cursor)
	}
	// The store comes back: every record once, the in-flight writes of version 1 included.
	out.set(func(s *store) { s.fail = nil })
	r.flush(t, "s")
	all := ""
	for _, v := range out.snapshot() {
		all += v
	}
	if strings.Count(all, "x") != 1 || strings.Count(all, "y") != 1 {
		t.Errorf("objects %v: want x and y once each", out.snapshot())
	}
	timed("Remove", func(ctx context.Context) error { return r.Remove(ctx, "s") }, false)
}

func TestWritesRunInParallelWithinTheBound(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	hold := make(chan struct{})
	out.hold = hold
	spec := partitioned(t, testSpec(t))
	r := run(t, Deps{Log: j, State: j, Objects: out, WritesPerStream: 3}, spec)
	var recs []string
	for i := range 10 {
		recs = append(recs, fmt.Sprintf("%c", 'a'+i))
	}
	appendAll(t, j, recs...)
	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		flushed <- r.Flush(ctx, "s")
	}()
	out.waitInFlight(t, 3)
	time.Sleep(20 * time.Millisecond)
	close(hold)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if out.maxInFlight != 3 {
		t.Errorf("%d writes were in flight at once, want the bound 3", out.maxInFlight)
	}
	if got := len(out.snapshot()); got != 10 {
		t.Errorf("%d objects, want one per partition (10)", got)
	}
}

func TestRemovedStreamNeverGetsAnActor(t *testing.T) {
	j := openJournal(t)
	spec := testSpec(t)
	spec.Created = time.Now().Add(-time.Minute)
	r := run(t, Deps{Log: j, State: j, Objects: newStore()}, spec)
	ctx := context.Background()
	if err := r.Remove(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, spec); !errors.Is(err, ErrRemoved) {
		t.Errorf("Apply of the removed incarnation: %v, want ErrRemoved", err)
	}
	if got := r.Streams(); len(got) != 0 {
		t.Errorf("streams %v after the removal", got)
	}
	spec.Created = time.Now().Add(time.Second) // a new stream of the same name
	if err := r.Apply(ctx, spec); err != nil {
		t.Errorf("Apply of a new incarnation: %v", err)
	}
}

func TestBackupLegKeepsItsOwnProgressAcrossRestart(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	spec := withBackup(t, testSpec(t))
	spec.Legs[0].SizeBytes = 1 // every message is its own object
	r1 := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	appendAll(t, j, "a", "b")
	eventually(t, "the destination leg's objects", func() bool { return len(out.under("b/")) == 2 })
	r1.stop() // the backup leg's buffer is unwritten
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor != 1 {
		t.Fatalf("cursor %d moved past messages the backup leg has not written", st.Cursor)
	}
	r2 := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	r2.flush(t, "s")
	if got := len(out.under("b/")); got != 2 {
		t.Errorf("%d destination objects: the restart delivered them again", got)
	}
	var backup []string
	for _, v := range out.under("bk/") {
		backup = append(backup, v)
	}
	if diff := cmp.Diff([]string{"ab"}, backup); diff != "" {
		t.Errorf("backup objects (-want +got):\n%s", diff)
	}
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor != 3 {
		t.Errorf("cursor %d, want 3", st.Cursor)
	}
	legs, _ := r2.Status("s")
	if len(legs) != 2 || legs[1].Objects != 1 || legs[1].Records != 2 {
		t.Errorf("status %+v", legs)
	}
}

func TestBufferBoundWritesTheLargestPartitionEarly(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	spec := partitioned(t, testSpec(t))
	spec.Legs[0].MaxBufferedBytes = 100
	r := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	// 30 records of 11 bytes (with the newline) over 3 partitions: 330 bytes against 100.
	var recs []string
	for i := range 30 {
		recs = append(recs, fmt.Sprintf("%c-%08d", 'a'+i%3, i))
	}
	appendAll(t, j, recs...)
	eventually(t, "early writes", func() bool {
		legs, _ := r.Status("s")
		return len(legs) == 1 && legs[0].BufferedBytes <= 100 && len(out.snapshot()) >= 2 &&
			legs[0].BufferedRecords+int(legs[0].Records) == 30
	})
	r.flush(t, "s")
	got := lines(out.snapshot())
	if len(got) != 30 {
		t.Errorf("%d distinct records delivered, want 30", len(got))
	}
	for k, v := range out.snapshot() {
		if k[len("b/k=")] != v[0] {
			t.Errorf("object %s holds %q: another partition's records", k, v)
		}
	}
}

// lambdaLike counts its invocations and reports Lambda buffering hints.
type lambdaLike struct {
	keyByFirstByte
	calls chan int
}

func (l lambdaLike) Process(ctx context.Context, in []processor.Record) ([]processor.Record, []processor.Failure, error) {
	l.calls <- len(in)
	return l.keyByFirstByte.Process(ctx, in)
}

func (lambdaLike) LambdaBuffering() (int, time.Duration, bool) { return 1 << 20, time.Minute, true }

func TestLambdaIsInvokedPerBufferNotPerPut(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	clock := newFakeClock()
	spec := partitioned(t, testSpec(t))
	l := lambdaLike{calls: make(chan int, 10000)}
	spec.Legs[0].Processor, spec.Legs[0].HasLambda = l, true
	r := run(t, Deps{Log: j, State: j, Objects: out, Clock: clock}, spec)
	const puts = 2000
	for i := range puts {
		if _, err := j.Append(context.Background(), "s", time.Now(), [][]byte{fmt.Appendf(nil, "a%0999d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Two thirds of 1 MiB of source records fill an invocation: two are due by size.
	eventually(t, "invocations by size", func() bool { return len(l.calls) >= 2 })
	clock.Advance(59 * time.Second)
	clock.Advance(time.Second) // the interval hint sends what waited a minute
	r.flush(t, "s")
	invocations, records := 0, 0
	for len(l.calls) > 0 {
		invocations++
		records += <-l.calls
	}
	// 3, or 4 when the interval fired while the reader had not yet handed every put over.
	if records != puts || invocations < 3 || invocations > 4 {
		t.Errorf("%d invocations for %d records of %d single-record puts of 1 KB at BufferSizeInMBs 1: want 3 (or 4)", invocations, records, puts)
	}
	if got := len(lines(out.snapshot())); got != puts {
		t.Errorf("%d records delivered, want %d", got, puts)
	}
}

// recorder keeps the metrics recorded.
type recorder struct {
	mu   chan struct{}
	sums map[string]float64
}

func (r *recorder) Record(_, name string, _ metrics.Unit, v float64) {
	if r.mu == nil {
		return
	}
	r.mu <- struct{}{}
	r.sums[name] += v
	<-r.mu
}

func (r *recorder) sum(name string) float64 {
	r.mu <- struct{}{}
	defer func() { <-r.mu }()
	return r.sums[name]
}

func newRecorder() *recorder {
	return &recorder{mu: make(chan struct{}, 1), sums: map[string]float64{}}
}

func TestExpiredMessagesAreCountedOnce(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	appendAll(t, j, "a", "b", "c")
	// Retention removed messages 1 and 2 before delivery.
	st, _ := j.LoadState(ctx, "s")
	st.Cursor = 3
	st, err := j.SaveState(ctx, "s", st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(ctx, "s", 3); err != nil {
		t.Fatal(err)
	}
	st.Cursor = 1
	if _, err := j.SaveState(ctx, "s", st); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	out := newStore()
	r := run(t, Deps{Log: j, State: j, Objects: out, Metrics: rec}, testSpec(t))
	r.flush(t, "s")
	if got := rec.sum("Journal.ExpiredMessages"); got != 2 {
		t.Errorf("Journal.ExpiredMessages = %v, want 2", got)
	}
	r.stop()
	// A restart after delivery reports nothing.
	rec2 := newRecorder()
	r2 := run(t, Deps{Log: j, State: j, Objects: out, Metrics: rec2}, testSpec(t))
	appendAll(t, j, "d")
	r2.flush(t, "s")
	if got := rec2.sum("Journal.ExpiredMessages"); got != 0 {
		t.Errorf("after a restart Journal.ExpiredMessages = %v, want 0", got)
	}
}

// TestSharedShardIsNoExpiry: another stream's messages between ours in the same journal shard
// are neither delivered nor counted as expired.
func TestSharedShardIsNoExpiry(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	if err := j.CreateStream(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		appendAll(t, j, fmt.Sprintf("s-%d\n", i))
		if _, err := j.Append(ctx, "other", time.Now(), [][]byte{[]byte("other")}); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	out := newStore()
	r := run(t, Deps{Log: j, State: j, Objects: out, Metrics: rec}, testSpec(t))
	r.flush(t, "s")
	if got := rec.sum("Journal.ExpiredMessages"); got != 0 {
		t.Errorf("Journal.ExpiredMessages = %v, want 0", got)
	}
	got := lines(out.under(""))
	want := map[string]int{}
	for i := range 6 {
		want[fmt.Sprintf("s-%d", i)] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered lines (-want +got):\n%s", diff)
	}
}

func TestReadingPausesAtTheBoundOnHeldBytes(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	hold := make(chan struct{})
	out.hold = hold
	spec := testSpec(t)
	spec.Legs[0].SizeBytes, spec.Legs[0].MaxBufferedBytes = 8<<10, 64<<10
	r := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	rec := strings.Repeat("x", 4<<10)
	for range 100 { // 400 KiB against a 64 KiB bound, the store answering nothing
		appendAll(t, j, rec)
	}
	out.waitInFlight(t, DefaultWritesPerStream)
	time.Sleep(100 * time.Millisecond)
	legs, _ := r.Status("s")
	if held := legs[0].BufferedBytes; held > 64<<10+4<<10 || held < 32<<10 {
		t.Errorf("%d bytes held with writes blocked, want the 64 KiB bound (plus at most one record)", held)
	}
	close(hold)
	r.flush(t, "s")
	total := 0
	for _, v := range out.snapshot() {
		total += len(v)
	}
	if total != 100*len(rec) {
		t.Errorf("%d bytes delivered, want %d", total, 100*len(rec))
	}
}

func TestProcessWideWriteBound(t *testing.T) {
	j := openJournal(t)
	for _, name := range []string{"t", "u"} {
		if err := j.CreateStream(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	out := newStore()
	hold := make(chan struct{})
	out.hold = hold
	var specs []Spec
	for _, name := range []string{"s", "t", "u"} {
		s := partitioned(t, testSpec(t))
		s.Stream = name
		specs = append(specs, s)
	}
	r := run(t, Deps{Log: j, State: j, Objects: out, WritesPerStream: 4, Writes: 5}, specs...)
	for _, name := range []string{"s", "t", "u"} {
		for i := range 6 {
			if _, err := j.Append(context.Background(), name, time.Now(), [][]byte{fmt.Appendf(nil, "%c", 'a'+i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := make(chan error, 3)
	for _, name := range []string{"s", "t", "u"} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- r.Flush(ctx, name)
		}()
	}
	out.waitInFlight(t, 5)
	time.Sleep(50 * time.Millisecond)
	close(hold)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if out.maxInFlight != 5 {
		t.Errorf("%d writes in flight at once over three streams, want the process bound 5", out.maxInFlight)
	}
	if got := len(out.snapshot()); got != 18 {
		t.Errorf("%d objects, want 18", got)
	}
}

// slowProcessor counts the Process calls running at once.
type slowProcessor struct {
	keyByFirstByte
	mu            sync.Mutex
	running, peak int
}

func (p *slowProcessor) Process(ctx context.Context, in []processor.Record) ([]processor.Record, []processor.Failure, error) {
	p.mu.Lock()
	p.running++
	p.peak = max(p.peak, p.running)
	p.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	p.running--
	p.mu.Unlock()
	return p.keyByFirstByte.Process(ctx, in)
}

func TestProcessingIsParallelWithinItsBounds(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	spec := partitioned(t, testSpec(t))
	p := &slowProcessor{}
	spec.Legs[0].Processor = p
	r := run(t, Deps{Log: j, State: j, Objects: out, Processors: 3}, spec)
	var recs []string
	for i := range 40 {
		recs = append(recs, fmt.Sprintf("%c%d", 'a'+i%4, i))
	}
	appendAll(t, j, recs...)
	r.flush(t, "s")
	if p.peak < 2 || p.peak > 3 {
		t.Errorf("%d Process calls ran at once, want 2 or 3 (the process-wide bound 3)", p.peak)
	}
	if got := len(lines(out.snapshot())); got != 40 {
		t.Errorf("%d records delivered, want 40", got)
	}
}

// TestObjectThatCannotBeEncodedDoesNotStopTheStream: an encoder that cannot be built fails the
// write permanently; the records go to the error output, which fails the same way, so they are
// dropped and counted, and the stream settles instead of waiting forever.
func TestObjectThatCannotBeEncodedDoesNotStopTheStream(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	rec := newRecorder()
	spec := testSpec(t)
	spec.Legs[0].Compression = "BROTLI"
	r := run(t, Deps{Log: j, State: j, Objects: out, Metrics: rec}, spec)
	appendAll(t, j, "a", "b")
	r.flush(t, "s")
	if got := rec.sum("DroppedRecords"); got != 2 {
		t.Errorf("DroppedRecords = %v, want 2", got)
	}
	if got := out.snapshot(); len(got) != 0 {
		t.Errorf("objects %v written with an unknown compression", got)
	}
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor != 3 {
		t.Errorf("cursor %d, want 3: the stream must settle", st.Cursor)
	}
}

// staleState answers the first LoadState with a state saved earlier, as a replica that missed
// the newest writes would (a node back from a partition reads from its own copy).
type staleState struct {
	*journal.Journal
	mu    sync.Mutex
	stale *journal.State
}

func (s *staleState) LoadState(ctx context.Context, stream string) (journal.State, error) {
	s.mu.Lock()
	st := s.stale
	s.stale = nil
	s.mu.Unlock()
	if st != nil {
		return *st, nil
	}
	return s.Journal.LoadState(ctx, stream)
}

// A worker that reads an old state when it starts claims it first: the compare-and-set fails,
// it reads again, and resumes from the newest cursor instead of writing the records delivered
// since a second time.
func TestStaleStateReadIsNotResumedFrom(t *testing.T) {
	j := openJournal(t)
	out := newStore()
	spec := testSpec(t)
	spec.Legs[0].SizeBytes = 6
	r1 := run(t, Deps{Log: j, State: j, Objects: out}, spec)
	appendAll(t, j, "a01", "a02")
	r1.flush(t, "s")
	old, err := j.LoadState(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, j, "b01", "b02")
	r1.flush(t, "s")
	r1.stop()

	r2 := run(t, Deps{Log: j, State: &staleState{Journal: j, stale: &old}, Objects: out}, spec)
	appendAll(t, j, "c01")
	r2.flush(t, "s")
	got := map[string]int{}
	for _, v := range out.under("b/") {
		for i := 0; i+3 <= len(v); i += 3 {
			got[v[i:i+3]]++
		}
	}
	want := map[string]int{"a01": 1, "a02": 1, "b01": 1, "b02": 1, "c01": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records delivered (-want +got):\n%s", diff)
	}
}
