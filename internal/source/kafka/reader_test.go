package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/source"
)

const (
	testStream  = "orders"
	testTopic   = "events"
	testCluster = "arn:aws:kafka:us-east-1:123456789012:cluster/test/abc"
)

// fixture is a kfake cluster, a journal with the delivery stream and the metrics recorded.
type fixture struct {
	cluster *kfake.Cluster
	j       *journal.Journal
	rec     *recorder
	log     *slog.Logger
	sasl    *SASLConfig
	kopts   []kgo.Opt // the producer's and admin's authentication
}

func newFixture(tb testing.TB, jcfg journal.Config, opts ...kfake.Opt) *fixture {
	tb.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		tb.Fatalf("kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	jcfg.Dir = tb.TempDir()
	j, err := journal.Open(context.Background(), jcfg, nil)
	if err != nil {
		tb.Fatalf("journal.Open: %v", err)
	}
	tb.Cleanup(func() { j.Close() })
	if err := j.CreateStream(context.Background(), testStream); err != nil {
		tb.Fatalf("CreateStream: %v", err)
	}
	return &fixture{cluster: c, j: j, rec: &recorder{sums: map[string]float64{}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// config returns a reader's Config with a fast retry sleep.
func (f *fixture) config(readFrom time.Time) Config {
	return Config{
		Stream: testStream, ClusterARN: testCluster, Topic: testTopic,
		Cluster:       ClusterConfig{BootstrapBrokers: f.cluster.ListenAddrs(), SASL: f.sasl},
		ReadFrom:      readFrom,
		MetadataEvery: 100 * time.Millisecond,
		Sleep: func(ctx context.Context, _ time.Duration) error {
			return sleep(ctx, 20*time.Millisecond)
		},
	}
}

// reader returns a new Reader appending to js (the fixture's journal when nil).
func (f *fixture) reader(tb testing.TB, cfg Config, js source.Journal) *Reader {
	tb.Helper()
	if js == nil {
		js = f.j
	}
	w := source.NewWriter(js, nil, testStream, time.UnixMilli(1_700_000_000_000), f.log)
	r, err := New(cfg, w, f.rec, f.log)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return r
}

// client returns a Kafka client of the cluster that produces to the partition records name.
func (f *fixture) client(tb testing.TB) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.cluster.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(16 << 20)}, f.kopts...)...)
	if err != nil {
		tb.Fatalf("kgo.NewClient: %v", err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

func produce(tb testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range recs {
		r.Topic = testTopic
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatalf("produce: %v", err)
	}
}

// start runs r until the returned stop is called (or the test ends); stop waits for Run.
func start(tb testing.TB, r *Reader) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				tb.Errorf("Run did not return 20 s after its context ended")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// stored is what the journal holds: records in order, each with its arrival.
type stored struct {
	records  []string
	arrivals map[string]int64 // unix ms
}

func readJournal(tb testing.TB, j *journal.Journal) stored {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := stored{arrivals: map[string]int64{}}
	rd, err := j.Read(ctx, testStream, 1)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	defer rd.Close()
	for {
		b, err := rd.Next(ctx)
		if err != nil {
			if ctx.Err() != nil { // an empty stream
				return st
			}
			tb.Fatalf("Next: %v", err)
		}
		for i, r := range b.Records {
			st.records = append(st.records, string(r))
			st.arrivals[string(r)] = b.ArrivalAt(i).UnixMilli()
		}
		if b.Pending == 0 {
			return st
		}
	}
}

// waitRecords waits until the journal holds want records (or more) and returns them.
func waitRecords(tb testing.TB, j *journal.Journal, want int, within time.Duration) stored {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		st := readJournal(tb, j)
		if len(st.records) >= want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOnce reports records missing from, or repeated in, got.
func checkOnce(tb testing.TB, want, got []string) {
	tb.Helper()
	seen := make(map[string]int, len(got))
	for _, r := range got {
		seen[r]++
	}
	var dup, missing []string
	for r, n := range seen {
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", r, n))
		}
	}
	for _, r := range want {
		if seen[r] == 0 {
			missing = append(missing, r)
		}
	}
	if len(dup) > 0 || len(missing) > 0 || len(got) != len(want) {
		slices.Sort(dup)
		tb.Errorf("%d records stored, want %d; %d repeated %.10q; %d missing %.10q", len(got), len(want),
			len(dup), dup, len(missing), missing)
	}
}

// checkPartitionOrder reports records of one partition stored out of order ("p<n>-<i>" ids).
func checkPartitionOrder(tb testing.TB, got []string) {
	tb.Helper()
	last := map[string]string{}
	for _, r := range got {
		p, _, _ := strings.Cut(r, "-")
		if prev, ok := last[p]; ok && r < prev {
			tb.Errorf("record %s stored after %s", r, prev)
			return
		}
		last[p] = r
	}
}

func id(p int32, i int) string { return fmt.Sprintf("p%d-%06d", p, i) }

type recorder struct {
	mu   sync.Mutex
	sums map[string]float64
}

func (r *recorder) Record(stream, name string, _ metrics.Unit, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sums[stream+" "+name] += v
}

func (r *recorder) sum(name string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sums[testStream+" "+name]
}

func TestReadFrom(t *testing.T) {
	t0 := time.UnixMilli(1_750_000_000_000)
	const parts, per = 4, 50
	tests := []struct {
		name     string
		readFrom time.Time
		first    int // the first record index read in each partition
	}{
		{"epoch is the earliest", time.Unix(0, 0), 0},
		{"a time in the middle", t0.Add(30 * time.Second), 30},
		{"an exact record time", t0.Add(17 * time.Second), 17},
		{"after every record", t0.Add(time.Hour), per},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, journal.Config{}, kfake.SeedTopics(parts, testTopic))
			cl := f.client(t)
			var want []string
			wantArrival := map[string]int64{}
			tombstones := 0
			for p := range int32(parts) {
				var recs []*kgo.Record
				for i := range per {
					r := &kgo.Record{Partition: p, Key: []byte("key"), Value: []byte(id(p, i)),
						Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte("v")}},
						Timestamp: t0.Add(time.Duration(i) * time.Second)}
					if i == 40 && p == 1 {
						r.Value = nil // a tombstone
						if i >= tt.first {
							tombstones++
						}
					} else if i >= tt.first {
						want = append(want, id(p, i))
						wantArrival[id(p, i)] = r.Timestamp.UnixMilli()
					}
					recs = append(recs, r)
				}
				produce(t, cl, recs...)
			}
			r := f.reader(t, f.config(tt.readFrom), nil)
			start(t, r)
			// Every partition is caught up when its next offset is its end.
			waitStatus(t, r, func(s source.Status) bool {
				if len(s.Parts) != parts {
					return false
				}
				for _, p := range s.Parts {
					if p.Position != fmt.Sprint(per) {
						return false
					}
				}
				return true
			})
			got := readJournal(t, f.j)
			checkOnce(t, want, got.records)
			checkPartitionOrder(t, got.records)
			gotArrival := map[string]int64{}
			for _, r := range want {
				gotArrival[r] = got.arrivals[r]
			}
			if diff := cmp.Diff(wantArrival, gotArrival); diff != "" {
				t.Errorf("arrivals (-want +got):\n%s", diff)
			}
			if got, want := f.rec.sum(MetricReadRecords), float64(len(want)); got != want {
				t.Errorf("%s = %v, want %v", MetricReadRecords, got, want)
			}
			if got, want := f.rec.sum(MetricReadBytes), float64(len(want)*len(id(0, 0))); got != want {
				t.Errorf("%s = %v, want %v", MetricReadBytes, got, want)
			}
			if got, want := f.rec.sum(MetricTombstones), float64(tombstones); got != want {
				t.Errorf("%s = %v, want %v", MetricTombstones, got, want)
			}
			s := r.Status()
			wantParts := make([]source.Part, parts)
			for i := range wantParts {
				wantParts[i] = source.Part{ID: fmt.Sprint(i), Position: fmt.Sprint(per)}
			}
			if diff := cmp.Diff(source.Status{
				Kind: "MSK", Source: testCluster + " " + testTopic, State: "reading",
				Records: int64(len(want)), Bytes: int64(len(want) * len(id(0, 0))), Parts: wantParts,
			}, s); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
		})
	}
}

// waitStatus waits until ok(r.Status()).
func waitStatus(tb testing.TB, r *Reader, ok func(source.Status) bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok(r.Status()) {
		if time.Now().After(deadline) {
			tb.Fatalf("status not reached in 20 s: %+v", r.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load produces n rounds of 5 records a partition to the partitions parts() gives at the
// time, and returns the ids produced once it is done or stop is closed. It may run in a
// goroutine of its own: it reports errors with Errorf.
func load(tb testing.TB, cl *kgo.Client, n int, parts func() int32, stop <-chan struct{}) []string {
	var ids []string
	next := map[int32]int{}
	for i := 0; i < n; i++ {
		select {
		case <-stop:
			return ids
		default:
		}
		var recs []*kgo.Record
		var batch []string
		for p := range parts() {
			for range 5 {
				v := id(p, next[p])
				next[p]++
				batch = append(batch, v)
				recs = append(recs, &kgo.Record{Topic: testTopic, Partition: p, Value: []byte(v)})
			}
		}
		if err := produceRetry(cl, recs); err != nil {
			tb.Errorf("produce: %v", err)
			return ids
		}
		ids = append(ids, batch...)
		time.Sleep(2 * time.Millisecond)
	}
	return ids
}

// produceRetry produces recs, producing again those refused while the client does not know
// new partitions yet (only those: the others are stored).
func produceRetry(cl *kgo.Client, recs []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		var again []*kgo.Record
		for _, res := range cl.ProduceSync(ctx, recs...) {
			switch {
			case res.Err == nil:
			case ctx.Err() == nil && strings.Contains(res.Err.Error(), "invalid record partitioning"):
				again = append(again, res.Record)
			default:
				return res.Err
			}
		}
		if len(again) == 0 {
			return nil
		}
		recs = again
		cl.ForceMetadataRefresh()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPartitionAdded(t *testing.T) {
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(2, testTopic))
	cl := f.client(t)
	r := f.reader(t, f.config(time.Unix(0, 0)), nil)
	start(t, r)

	var mu sync.Mutex
	partitions := int32(2)
	parts := func() int32 { mu.Lock(); defer mu.Unlock(); return partitions }
	done := make(chan []string)
	go func() { done <- load(t, cl, 200, parts, nil) }()
	waitStatus(t, r, func(s source.Status) bool { return s.Records > 100 })
	adm := kadm.NewClient(cl)
	if _, err := adm.CreatePartitions(context.Background(), 2, testTopic); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	mu.Lock()
	partitions = 4
	mu.Unlock()
	want := <-done
	got := waitRecords(t, f.j, len(want), 20*time.Second)
	checkOnce(t, want, got.records)
	checkPartitionOrder(t, got.records)
	if !slices.Contains(got.records, id(3, 0)) {
		t.Errorf("nothing of partition 3 stored")
	}
	waitStatus(t, r, func(s source.Status) bool { return len(s.Parts) == 4 })
}

func TestRestartExactlyOnce(t *testing.T) {
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(4, testTopic))
	cl := f.client(t)
	stopLoad := make(chan struct{})
	done := make(chan []string)
	go func() { done <- load(t, cl, 400, func() int32 { return 4 }, stopLoad) }()
	for i := range 8 {
		r := f.reader(t, f.config(time.Unix(0, 0)), nil)
		stop := start(t, r)
		time.Sleep(time.Duration(50+40*i) * time.Millisecond)
		stop()
	}
	want := <-done
	r := f.reader(t, f.config(time.Unix(0, 0)), nil)
	start(t, r)
	got := waitRecords(t, f.j, len(want), 20*time.Second)
	time.Sleep(200 * time.Millisecond) // a duplicate would come after the last record
	got = readJournal(t, f.j)
	checkOnce(t, want, got.records)
	checkPartitionOrder(t, got.records)
}

// flakyJournal fails every every-th positioned append, every other time after storing it
// (the outcome a lost answer gives).
type flakyJournal struct {
	*journal.Journal
	every int

	mu             sync.Mutex
	n              int
	before, stored int
}

var errInjected = errors.New("injected append failure")

func (f *flakyJournal) AppendPositioned(ctx context.Context, stream string, puts []journal.Put, pos []byte) (journal.Position, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	fail := n%f.every == 0
	after := fail && (n/f.every)%2 == 0
	if fail && after {
		f.stored++
	} else if fail {
		f.before++
	}
	f.mu.Unlock()
	if !fail {
		return f.Journal.AppendPositioned(ctx, stream, puts, pos)
	}
	if after {
		if _, err := f.Journal.AppendPositioned(ctx, stream, puts, pos); err != nil {
			return journal.Position{}, err
		}
	}
	return journal.Position{}, errInjected
}

func TestAppendFailures(t *testing.T) {
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(4, testTopic))
	cl := f.client(t)
	flaky := &flakyJournal{Journal: f.j, every: 3}
	r := f.reader(t, f.config(time.Unix(0, 0)), flaky)
	start(t, r)
	want := load(t, cl, 200, func() int32 { return 4 }, nil)
	got := waitRecords(t, f.j, len(want), 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	got = readJournal(t, f.j)
	checkOnce(t, want, got.records)
	checkPartitionOrder(t, got.records)
	flaky.mu.Lock()
	before, stored := flaky.before, flaky.stored
	flaky.mu.Unlock()
	if before == 0 || stored == 0 {
		t.Errorf("failures injected: %d before storing, %d after; want some of each", before, stored)
	}
	if got := f.rec.sum(MetricReadErrors); got < float64(before+stored) {
		t.Errorf("%s = %v, want at least %d", MetricReadErrors, got, before+stored)
	}
}

func TestGroupOffsetsCommitted(t *testing.T) {
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(3, testTopic))
	cl := f.client(t)
	want := load(t, cl, 20, func() int32 { return 3 }, nil)
	r := f.reader(t, f.config(time.Unix(0, 0)), nil)
	start(t, r)
	waitRecords(t, f.j, len(want), 20*time.Second)
	adm := kadm.NewClient(cl)
	wantOffsets := map[int32]int64{0: 100, 1: 100, 2: 100}
	var got map[int32]int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := adm.FetchOffsets(context.Background(), "hydrant-"+testStream)
		if err != nil {
			t.Fatalf("FetchOffsets: %v", err)
		}
		got = map[int32]int64{}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Topic == testTopic && o.Err == nil {
				got[o.Partition] = o.At
			}
		})
		if cmp.Equal(wantOffsets, got) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("committed offsets (-want +got):\n%s", cmp.Diff(wantOffsets, got))
}

func TestSASL(t *testing.T) {
	const user, pass = "hydrant", "s3cret"
	tests := []struct {
		name      string
		mechanism string
		password  string
		ok        bool
	}{
		{"SCRAM-SHA-256", MechanismScramSHA256, pass, true},
		{"SCRAM-SHA-512", MechanismScramSHA512, pass, true},
		{"PLAIN", MechanismPlain, pass, true},
		{"wrong password", MechanismScramSHA256, "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, journal.Config{}, kfake.SeedTopics(2, testTopic), kfake.EnableSASL(),
				kfake.Superuser(MechanismScramSHA256, "admin", "admin"),
				kfake.Superuser(tt.mechanism, user, pass))
			f.kopts = []kgo.Opt{kgo.SASL(scram.Auth{User: "admin", Pass: "admin"}.AsSha256Mechanism())}
			file := filepath.Join(t.TempDir(), "password")
			if err := os.WriteFile(file, []byte(tt.password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f.sasl = &SASLConfig{Mechanism: tt.mechanism, Username: user, PasswordFile: file}
			cl := f.client(t)
			want := load(t, cl, 4, func() int32 { return 2 }, nil)
			r := f.reader(t, f.config(time.Unix(0, 0)), nil)
			start(t, r)
			if !tt.ok {
				waitStatus(t, r, func(s source.Status) bool { return s.State == "retrying" && s.LastError != "" })
				if got := readJournal(t, f.j); len(got.records) != 0 {
					t.Errorf("%d records stored without authentication", len(got.records))
				}
				return
			}
			got := waitRecords(t, f.j, len(want), 20*time.Second)
			checkOnce(t, want, got.records)
		})
	}
}

func TestLargeRecords(t *testing.T) {
	// A 1 MiB journal message holds no 2 MB record: it is skipped like one over 10 MB.
	f := newFixture(t, journal.Config{MaxMessageBytes: 1 << 20},
		kfake.SeedTopics(1, testTopic), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000000"}))
	cl := f.client(t)
	produce(t, cl,
		&kgo.Record{Value: []byte("a")},
		&kgo.Record{Value: make([]byte, 2_000_000)},
		&kgo.Record{Value: []byte("b")},
	)
	produce(t, cl, &kgo.Record{Value: make([]byte, MaxRecordBytes+1)})
	produce(t, cl, &kgo.Record{Value: []byte("c")})
	r := f.reader(t, f.config(time.Unix(0, 0)), nil)
	start(t, r)
	waitStatus(t, r, func(s source.Status) bool { return len(s.Parts) == 1 && s.Parts[0].Position == "5" })
	got := readJournal(t, f.j)
	if diff := cmp.Diff([]string{"a", "b", "c"}, got.records); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got := f.rec.sum(MetricTooLarge); got != 2 {
		t.Errorf("%s = %v, want 2", MetricTooLarge, got)
	}
}
