package producer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/servertest"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

// hydrant is an in-process Hydrant on a random port with a Firehose client pointed at it.
type hydrant struct{ *servertest.Hydrant }

func startHydrant(t testing.TB) *hydrant { return &hydrant{servertest.Start(t)} }

// createStream creates stream delivering to the bucket of the same name.
func (h *hydrant) createStream(t testing.TB, stream string) { h.CreateStream(t, stream, stream) }

// faults sets the injected faults of stream.
func (h *hydrant) faults(t testing.TB, stream, faults string) { h.Faults(t, stream, faults) }

// delivered flushes and returns how many times each line (without its newline) was delivered.
func (h *hydrant) delivered(t testing.TB, bucket string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for line, n := range h.Lines(t, bucket) {
		counts[strings.TrimSuffix(line, "\n")] += n
	}
	return counts
}

func lines(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s-%05d\n", prefix, i)
	}
	return out
}

// wantOnce is each record delivered once.
func wantOnce(records [][]byte) map[string]int {
	m := map[string]int{}
	for _, r := range records {
		m[strings.TrimSuffix(string(r), "\n")] = 1
	}
	return m
}

// fast is a retry config with short delays for tests.
var fast = producer.Config{BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}

func TestPutRecordBatchAgainstHydrantFailFraction(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "ff")
	h.faults(t, "ff", `{"failFraction":0.3}`)
	records := lines(2000, "ff")
	cfg := fast
	cfg.MaxTrials = 30
	res, err := producer.PutRecordBatch(context.Background(), h.Client, "ff", records, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2000 || len(res.Failed) != 0 {
		t.Fatalf("Sent %d, Failed %d; want 2000, 0", res.Sent, len(res.Failed))
	}
	// 30% of 2,000 fail on the first round alone: about 600 resends in the first retry and
	// about 857 in all; far fewer would mean the faults did not apply.
	if res.Retried < 400 {
		t.Errorf("Retried %d, want > 400", res.Retried)
	}
	t.Logf("Retried %d", res.Retried)
	if diff := cmp.Diff(wantOnce(records), h.delivered(t, "ff")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestPutRecordBatchAgainstHydrantSucceedPerCall(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "one")
	h.faults(t, "one", `{"succeedPerCall":1}`)
	records := lines(10, "one")
	cfg := fast
	cfg.MaxTrials = 3
	res, err := producer.PutRecordBatch(context.Background(), h.Client, "one", records, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Call 1 delivers record 0, call 2 (records 1-9) record 1, call 3 (2-9) record 2.
	var want []producer.FailedRecord
	for i := 3; i < 10; i++ {
		want = append(want, producer.FailedRecord{Index: i, Data: records[i], ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down.", Attempts: 3})
	}
	if diff := cmp.Diff(producer.Result{Sent: 3, Retried: 9 + 8, Failed: want}, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOnce(records[:3]), h.delivered(t, "one")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestPutRecordAgainstHydrantThrottleCalls(t *testing.T) {
	tests := []struct {
		name     string
		throttle int
		trials   int
		wantErr  bool
	}{
		{"two throttled, three trials", 2, 3, false},
		{"three throttled, three trials", 3, 3, true},
		{"four throttled, five trials", 4, 5, false},
	}
	h := startHydrant(t)
	h.createStream(t, "th")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.faults(t, "th", fmt.Sprintf(`{"throttleCalls":%d}`, tt.throttle))
			cfg := fast
			cfg.MaxTrials = tt.trials
			id, err := producer.PutRecord(context.Background(), h.Client, "th", fmt.Appendf(nil, "th-%d\n", i), cfg)
			if tt.wantErr {
				if !producer.Retryable(err) {
					t.Fatalf("err = %v, want the last (retryable) throttling error", err)
				}
				return
			}
			if err != nil || id == "" {
				t.Fatalf("PutRecord = %q, %v", id, err)
			}
		})
	}
	h.faults(t, "th", `{}`)
	// Not retried: the stream does not exist.
	_, err := producer.PutRecord(context.Background(), h.Client, "missing", []byte("x"), fast)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("err = %v, want ResourceNotFoundException", err)
	}
	want := map[string]int{"th-0": 1, "th-2": 1}
	if diff := cmp.Diff(want, h.delivered(t, "th")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestPutRecordBatchAgainstHydrantThrottleCalls(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "tb")
	h.faults(t, "tb", `{"throttleCalls":2}`)
	records := lines(700, "tb")
	cfg := fast
	cfg.MaxTrials = 3
	res, err := producer.PutRecordBatch(context.Background(), h.Client, "tb", records, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The first chunk (500) is throttled twice and goes on the third call.
	if diff := cmp.Diff(producer.Result{Sent: 700, Retried: 1000}, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOnce(records), h.delivered(t, "tb")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestProducerAgainstHydrantFailFraction(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "async")
	h.faults(t, "async", `{"failFraction":0.3}`)
	var mu sync.Mutex
	var failures []producer.FailedRecord
	cfg := producer.ProducerConfig{Config: fast, BatchRecords: 100, Linger: 5 * time.Millisecond, MaxInFlight: 4, QueueRecords: 300,
		OnFailure: func(f producer.FailedRecord) { mu.Lock(); failures = append(failures, f); mu.Unlock() }}
	cfg.MaxTrials = 30
	p := producer.NewProducer(h.Client, "async", cfg)
	records := lines(5000, "async")
	ctx := context.Background()
	// Four goroutines add concurrently; Add blocks on the 300-record queue.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(records); i += 4 {
				if err := p.Add(ctx, records[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Sent != 5000 || st.Failed != 0 || st.Retried < 1000 || len(failures) != 0 {
		t.Errorf("Stats %+v, %d failures; want 5000 sent, >1000 retried, none failed", st, len(failures))
	}
	if diff := cmp.Diff(wantOnce(records), h.delivered(t, "async")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if err := p.Add(ctx, []byte("late")); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
}
