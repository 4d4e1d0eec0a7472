package kinesis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/source"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// recorder keeps the metrics a reader records.
type recorder struct {
	mu   sync.Mutex
	sums map[string]float64
}

func (r *recorder) Record(_, name string, _ metrics.Unit, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sums == nil {
		r.sums = map[string]float64{}
	}
	r.sums[name] += v
}

func (r *recorder) sum(name string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sums[name]
}

func openJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Open(context.Background(), journal.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := j.CreateStream(context.Background(), "ds"); err != nil {
		t.Fatal(err)
	}
	return j
}

// journalRecords returns every record in the journal's stream ds, with its arrival.
func journalRecords(t *testing.T, j *journal.Journal) ([]string, []time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := j.Stats(ctx, "ds")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages == 0 {
		return nil, nil
	}
	r, err := j.ReadRange(ctx, "ds", 1, st.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []string
	var arrivals []time.Time
	for {
		b, err := r.Next(ctx)
		if err != nil {
			break // the end of the range
		}
		for i, d := range b.Records {
			recs = append(recs, string(d))
			arrivals = append(arrivals, b.ArrivalAt(i))
		}
		if b.Seq >= st.LastSeq {
			break
		}
	}
	return recs, arrivals
}

// waitRecords waits until the journal holds at least n records and returns them.
func waitRecords(t *testing.T, j *journal.Journal, n int, within time.Duration) ([]string, []time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		recs, arrivals := journalRecords(t, j)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs, arrivals
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runReader starts a reader and returns its stop function.
func runReader(t *testing.T, k *testenv.Kinesis, j *journal.Journal, copies source.Copies, arn string, start time.Time, rec *recorder) (*Reader, func()) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	w := source.NewWriter(j, copies, "ds", start, log)
	r, err := New(Config{Stream: "ds", StreamARN: arn, Start: start, PollEvery: 100 * time.Millisecond, ListEvery: 300 * time.Millisecond},
		k.Client, w, rec, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// checkOnce reports records of want missing from got or in it twice, and records of got not in want.
func checkOnce(t *testing.T, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		seen[r]++
	}
	var missing, dup, extra []string
	for r := range want {
		if seen[r] == 0 {
			missing = append(missing, r)
		}
	}
	for r, n := range seen {
		if n > 1 {
			dup = append(dup, r)
		}
		if !want[r] {
			extra = append(extra, r)
		}
	}
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Errorf("%d records in the journal, %d wanted: %d missing (e.g. %.3q), %d duplicated (e.g. %.3q), %d not wanted (e.g. %.3q)",
			len(got), len(want), len(missing), missing, len(dup), dup, len(extra), extra)
	}
}

// TestReaderAgainstServers reads a 2-shard stream of each Kinesis-compatible server: records put
// before the start are not read, later ones (plain and KPL-aggregated) are read once each, also
// across a reshard 2 → 4 and restarts of the reader.
func TestReaderAgainstServers(t *testing.T) {
	for _, srv := range testenv.KinesisServers() {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			k := srv.Start(t)
			arn := k.CreateStream(t, "src", 2)
			keys := func(prefix string, n int) []string {
				ks := make([]string, n)
				for i := range ks {
					ks[i] = fmt.Sprintf("%s-%d", prefix, i)
				}
				return ks
			}
			batch := func(prefix string, n int) [][]byte {
				rs := make([][]byte, n)
				for i := range rs {
					rs[i] = fmt.Appendf(nil, "%s-%04d", prefix, i)
				}
				return rs
			}
			want := map[string]bool{}
			add := func(rs [][]byte) {
				for _, r := range rs {
					want[string(r)] = true
				}
			}
			k.PutRecords(t, "src", batch("before", 20), keys("b", 20))
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			time.Sleep(20 * time.Millisecond)

			j := openJournal(t)
			rec := &recorder{}
			first := batch("first", 100)
			k.PutRecords(t, "src", first, keys("f", 100))
			add(first)
			// A KPL aggregate of 50 user records, and one of 1.
			agg := batch("agg", 50)
			k.PutRecords(t, "src", [][]byte{testenv.AggregateKPL("pk", agg), testenv.AggregateKPL("pk2", batch("single", 1))}, []string{"pk", "pk2"})
			add(agg)
			add(batch("single", 1))

			r, stop := runReader(t, k, j, nil, arn, start, rec)
			got, arrivals := waitRecords(t, j, len(want), 60*time.Second)
			checkOnce(t, got, want)
			for i, a := range arrivals {
				if a.Before(start.Truncate(time.Millisecond)) || a.After(time.Now()) {
					t.Errorf("record %q arrival %v outside [%v, now]", got[i], a, start)
					break
				}
			}
			if st := r.Status(); st.Kind != "Kinesis" || st.Source != arn || len(st.Parts) != 2 {
				t.Errorf("status = %+v", st)
			}
			stop()

			// Restart, reshard during the load, restart again.
			r, stop = runReader(t, k, j, nil, arn, start, rec)
			second := batch("second", 200)
			k.PutRecords(t, "src", second[:100], keys("s", 100))
			k.Reshard(t, "src", 4)
			k.PutRecords(t, "src", second[100:], keys("t", 100))
			add(second)
			got, _ = waitRecords(t, j, len(want), 60*time.Second)
			stop()
			checkOnce(t, got, want)

			r, stop = runReader(t, k, j, nil, arn, start, rec)
			third := batch("third", 100)
			k.PutRecords(t, "src", third, keys("u", 100))
			add(third)
			got, _ = waitRecords(t, j, len(want), 60*time.Second)
			st := r.Status()
			stop()
			checkOnce(t, got, want)
			if n := len(st.Parts); n != 6 && !(srv.Name == testenv.KindMoto && n >= 2) {
				t.Errorf("status lists %d shards, want 6 (2 closed parents, 4 children): %+v", n, st.Parts)
			}
			// 100 + 2 aggregates + 200 + 100 Kinesis records were read, each once.
			if got := rec.sum(MetricReadRecords); got != 402 {
				t.Errorf("%s = %v, want 402", MetricReadRecords, got)
			}
		})
	}
}

func TestStreamName(t *testing.T) {
	tests := []struct {
		arn, want string
		ok        bool
	}{
		{"arn:aws:kinesis:us-east-1:123456789012:stream/orders", "orders", true},
		{"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c_d", "a.b-c_d", true},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/", "", false},
		{"orders", "", false},
	}
	for _, tt := range tests {
		got, err := StreamName(tt.arn)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("StreamName(%q) = %q, %v", tt.arn, got, err)
		}
	}
	if diff := cmp.Diff("us-east-1", arnRegion("arn:aws:kinesis:us-east-1:1:stream/s")); diff != "" {
		t.Error(diff)
	}
}
