package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/source"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// fakeClock advances by what the reader sleeps, so backoffs take no real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // let the test goroutine run
	return ctx.Err()
}

// flakyJournal fails some positioned appends: before storing them, or after (an unknown outcome).
type flakyJournal struct {
	*journal.Journal
	mu       sync.Mutex
	n        int
	failures int
}

func (f *flakyJournal) AppendPositioned(ctx context.Context, stream string, puts []journal.Put, position []byte) (journal.Position, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	switch n % 3 {
	case 1:
		f.failures++
		return journal.Position{}, errors.New("injected: not stored")
	case 2:
		if _, err := f.Journal.AppendPositioned(ctx, stream, puts, position); err != nil {
			return journal.Position{}, err
		}
		f.failures++
		return journal.Position{}, errors.New("injected: stored, answer lost")
	}
	return f.Journal.AppendPositioned(ctx, stream, puts, position)
}

type logicRun struct {
	t     *testing.T
	fake  *fakeKinesis
	j     *journal.Journal
	clock *fakeClock
	rec   *recorder
	start time.Time
}

func newLogicRun(t *testing.T) *logicRun {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return &logicRun{t: t, fake: newFakeKinesis(), j: openJournal(t), clock: &fakeClock{now: start.Add(time.Minute)}, rec: &recorder{}, start: start}
}

// run reads until the journal holds n records (or 20 s pass) and returns them in order.
func (l *logicRun) run(j source.Journal, n int) []string {
	l.t.Helper()
	log := slog.New(slog.DiscardHandler)
	w := source.NewWriter(j, nil, "ds", l.start, log)
	r, err := New(Config{Stream: "ds", StreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/s", Start: l.start,
		Now: l.clock.Now, Sleep: l.clock.Sleep, Limit: 100}, l.fake, w, l.rec, log)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	got, _ := waitRecords(l.t, l.j, n, 20*time.Second)
	cancel()
	<-done
	return got
}

func names(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s%03d", prefix, i)
	}
	return out
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// Throttles of every call are counted and backed off (1 s doubling, jittered, at most 30 s), and
// the records are read all the same.
func TestReaderThrottled(t *testing.T) {
	l := newLogicRun(t)
	l.fake.addShard("s0", "")
	l.fake.put("s0", l.start.Add(time.Second), names("a", 50)...)
	l.fake.throttle["ListShards"] = 2
	l.fake.throttle["GetShardIterator"] = 3
	l.fake.throttle["GetRecords"] = 8
	got := l.run(l.j, 50)
	if diff := cmp.Diff(strs(names("a", 50)), got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	for metric, want := range map[string]float64{MetricThrottledDescribe: 2, MetricThrottledIterator: 3, MetricThrottledRecords: 8} {
		if got := l.rec.sum(metric); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	// Eight throttles of GetRecords in a row wait at least the sum of their backoffs'
	// lower bounds (1, 2, 4, 8, 16, 30, 30, 30 s, less a quarter of jitter).
	var slept time.Duration
	for _, d := range l.clock.slept {
		slept += d
	}
	if low := 121 * time.Second * 3 / 4; slept < low {
		t.Errorf("the reader slept %v in all, want at least %v", slept, low)
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 1; n <= 40; n++ {
		want := min(minBackoff<<min(n-1, 5), maxBackoff)
		for range 50 {
			if d := backoff(n); d < want*3/4 || d > want*5/4 {
				t.Fatalf("backoff(%d) = %v, want within a quarter of %v", n, d, want)
			}
		}
	}
}

// An expired iterator is renewed after the last stored record, not from the start.
func TestReaderExpiredIterator(t *testing.T) {
	l := newLogicRun(t)
	l.fake.addShard("s0", "")
	l.fake.put("s0", l.start.Add(time.Second), names("a", 30)...)
	l.fake.expire = 0
	got := l.run(l.j, 30)
	l.fake.mu.Lock()
	l.fake.expire = 1
	l.fake.mu.Unlock()
	l.fake.put("s0", l.start.Add(2*time.Second), names("b", 30)...)
	got = l.run(l.j, 60)
	want := append(strs(names("a", 30)), strs(names("b", 30))...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	its := l.fake.iterTypes["s0"]
	if its[0] != types.ShardIteratorTypeAtTimestamp || slices.Contains(its[1:], types.ShardIteratorTypeAtTimestamp) {
		t.Errorf("iterator types %v: want AT_TIMESTAMP once, then AFTER_SEQUENCE_NUMBER", its)
	}
}

// Records that arrived before the start are not read; a closed parent is read to its end before
// its children, so the journal holds all of the parent's records before any child's.
func TestReaderParentsFirst(t *testing.T) {
	l := newLogicRun(t)
	l.fake.addShard("p", "")
	l.fake.put("p", l.start.Add(-time.Second), names("old", 5)...)
	l.fake.put("p", l.start.Add(time.Second), names("p", 250)...)
	l.fake.close("p")
	l.fake.addShard("c1", "p")
	l.fake.addShard("c2", "p")
	l.fake.put("c1", l.start.Add(2*time.Second), names("x", 40)...)
	l.fake.put("c2", l.start.Add(2*time.Second), names("y", 40)...)
	got := l.run(l.j, 330)
	if len(got) != 330 {
		t.Fatalf("%d records, want 330", len(got))
	}
	for i, r := range got {
		if strings.HasPrefix(r, "old") {
			t.Errorf("record %q arrived before the start", r)
		}
		if i < 250 && !strings.HasPrefix(r, "p") || i >= 250 && strings.HasPrefix(r, "p") {
			t.Fatalf("record %d is %q: the parent's 250 records must come first", i, r)
		}
	}
}

// Appends that fail, before or after the message is stored, lose nothing and store nothing
// twice: the reader resumes from what the journal holds.
func TestReaderAppendFailures(t *testing.T) {
	l := newLogicRun(t)
	l.fake.addShard("s0", "")
	l.fake.addShard("s1", "")
	for i := range 10 {
		l.fake.put(fmt.Sprintf("s%d", i%2), l.start.Add(time.Duration(i)*time.Second), names(fmt.Sprintf("r%d-", i), 30)...)
	}
	fj := &flakyJournal{Journal: l.j}
	got := l.run(fj, 300)
	checkOnce(t, got, func() map[string]bool {
		m := map[string]bool{}
		for i := range 10 {
			for _, r := range names(fmt.Sprintf("r%d-", i), 30) {
				m[string(r)] = true
			}
		}
		return m
	}())
	if fj.failures == 0 {
		t.Error("no append failed: the test proves nothing")
	}
	// Records are counted when their append is acknowledged: those of a lost answer are not.
	if got := l.rec.sum(MetricReadRecords); got <= 0 || got > 300 {
		t.Errorf("%s = %v, want between 1 and 300", MetricReadRecords, got)
	}
}

// A GetRecords answer larger than an append is split at record boundaries; KPL aggregates are
// never split.
func TestReaderSplitsLargeReads(t *testing.T) {
	l := newLogicRun(t)
	l.fake.addShard("s0", "")
	big := make([][]byte, 12)
	for i := range big {
		big[i] = append(fmt.Appendf(nil, "big%02d:", i), make([]byte, 900<<10)...)
	}
	l.fake.put("s0", l.start.Add(time.Second), big...)
	l.fake.put("s0", l.start.Add(time.Second), testenv.AggregateKPL("pk", names("u", 100)))
	got := l.run(l.j, 112)
	if len(got) != 112 {
		t.Fatalf("%d records, want 112", len(got))
	}
	st, err := l.j.Stats(context.Background(), "ds")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages < 3 {
		t.Errorf("%d messages for 10.5 MiB: want the read split into appends of at most %d bytes", st.Messages, source.MaxAppendBytes)
	}
}

// A client of an emulator works with nothing but AWS_ENDPOINT_URL_KINESIS set: no credentials,
// no region (the ARN's region signs).
func TestNewClientForEmulatorWithoutCredentials(t *testing.T) {
	k := testenv.StartMotoKinesis(t)
	arn := k.CreateStream(t, "bare", 1)
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", k.Endpoint)
	c, err := NewClient(context.Background(), ClientConfig{}, arn)
	if err != nil {
		t.Fatal(err)
	}
	if c.Options().Region != "us-east-1" {
		t.Errorf("region %q, want the ARN's us-east-1", c.Options().Region)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name, _ := StreamName(arn)
	if _, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &name}); err != nil {
		t.Errorf("ListShards: %v", err)
	}
}
