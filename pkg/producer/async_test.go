package producer

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/google/go-cmp/cmp"
)

// checkGoroutines fails the test if the goroutine count has not returned to its value at
// the call when the test ends.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var now int
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if now = runtime.NumGoroutine(); now <= before {
				return
			}
		}
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, now, buf[:runtime.Stack(buf, true)])
	})
}

func TestProducerBatching(t *testing.T) {
	tests := []struct {
		name      string
		cfg       ProducerConfig
		records   [][]byte
		flushEach int // Flush after every flushEach records (0: only Close)
		want      [][2]int
	}{
		{"by count", ProducerConfig{BatchRecords: 10, Linger: time.Hour}, recs(25, 1), 0, [][2]int{{10, 10}, {10, 10}, {5, 5}}},
		{"default 500", ProducerConfig{Linger: time.Hour}, recs(1001, 1), 0, [][2]int{{500, 500}, {500, 500}, {1, 1}}},
		{"by bytes", ProducerConfig{BatchBytes: 100, Linger: time.Hour}, recs(7, 30), 0, [][2]int{{3, 90}, {3, 90}, {1, 30}}},
		{"bytes at the exact limit", ProducerConfig{BatchBytes: 90, Linger: time.Hour}, recs(4, 30), 0, [][2]int{{3, 90}, {1, 30}}},
		{"flush sends partial batches", ProducerConfig{Linger: time.Hour}, recs(6, 1), 2, [][2]int{{2, 2}, {2, 2}, {2, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			f := &fakeClient{}
			tt.cfg.MaxInFlight = 1 // keep call order
			p := NewProducer(f, "s", tt.cfg)
			ctx := context.Background()
			for i, r := range tt.records {
				if err := p.Add(ctx, r); err != nil {
					t.Fatal(err)
				}
				if tt.flushEach > 0 && (i+1)%tt.flushEach == 0 {
					if err := p.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.callSizes()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Stats{Sent: int64(len(tt.records))}, p.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProducerLinger(t *testing.T) {
	checkGoroutines(t)
	f := &fakeClient{}
	p := NewProducer(f, "s", ProducerConfig{Linger: 20 * time.Millisecond})
	defer p.Close(context.Background())
	if err := p.Add(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Sent != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone record was not sent after Linger")
		}
		time.Sleep(time.Millisecond)
	}
}

// blockingClient holds every PutRecordBatch until release is closed or the call's
// context ends.
type blockingClient struct {
	fakeClient
	release chan struct{}
	started chan int
}

func (b *blockingClient) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, o ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	b.started <- len(in.Records)
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.fakeClient.PutRecordBatch(ctx, in, o...)
}

func TestProducerBackPressure(t *testing.T) {
	checkGoroutines(t)
	c := &blockingClient{release: make(chan struct{}), started: make(chan int, 100)}
	p := NewProducer(c, "s", ProducerConfig{BatchRecords: 5, MaxInFlight: 2, QueueRecords: 20, Linger: time.Hour})
	ctx := context.Background()
	for i := range 20 {
		if err := p.Add(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The queue is full: the next Add blocks until its context ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Add(short, []byte("over")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add on a full queue = %v, want DeadlineExceeded", err)
	}
	// Two calls are in flight, no more.
	got := []int{<-c.started, <-c.started}
	select {
	case n := <-c.started:
		t.Fatalf("a third call (%d records) started with MaxInFlight 2", n)
	case <-time.After(50 * time.Millisecond):
	}
	if diff := cmp.Diff([]int{5, 5}, got); diff != "" {
		t.Errorf("calls in flight (-want +got):\n%s", diff)
	}
	// Released, the blocked Add goes through and everything is delivered.
	added := make(chan error, 1)
	go func() { added <- p.Add(ctx, []byte("late")) }()
	close(c.release)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats(); got != (Stats{Sent: 21}) {
		t.Errorf("Stats %+v, want 21 sent", got)
	}
}

func TestProducerCloseTimesOut(t *testing.T) {
	checkGoroutines(t)
	c := &blockingClient{release: make(chan struct{}), started: make(chan int, 100)}
	var mu sync.Mutex
	var failed []FailedRecord
	p := NewProducer(c, "s", ProducerConfig{BatchRecords: 5, MaxInFlight: 1, Linger: time.Hour,
		OnFailure: func(f FailedRecord) { mu.Lock(); failed = append(failed, f); mu.Unlock() }})
	for i := range 12 {
		if err := p.Add(context.Background(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	// Every record was reported, the one call in flight with one attempt.
	attempts := map[int]int{}
	for _, f := range failed {
		if f.ErrorCode != ErrorCodeCanceled {
			t.Errorf("record %d: code %q", f.Index, f.ErrorCode)
		}
		attempts[f.Attempts]++
	}
	if diff := cmp.Diff(map[int]int{1: 5, 0: 7}, attempts); diff != "" {
		t.Errorf("failed by attempts (-want +got):\n%s", diff)
	}
	if got := p.Stats(); got != (Stats{Failed: 12}) {
		t.Errorf("Stats %+v", got)
	}
	if err := p.Add(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestProducerFailures(t *testing.T) {
	checkGoroutines(t)
	f := &fakeClient{batch: succeedFirst(1)}
	var mu sync.Mutex
	var failed []int
	cfg := ProducerConfig{BatchRecords: 4, MaxInFlight: 1, Linger: time.Hour,
		OnFailure: func(f FailedRecord) { mu.Lock(); failed = append(failed, f.Index); mu.Unlock() }}
	cfg.MaxTrials, cfg.BaseDelay, cfg.MaxDelay = 2, time.Microsecond, time.Microsecond
	p := NewProducer(f, "s", cfg)
	for _, r := range numbered(8) {
		if err := p.Add(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Add(context.Background(), make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("Add of a too large record = %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Per batch of 4: record 0 on the first call, 1 on the retry; 2 and 3 fail.
	if diff := cmp.Diff([]int{2, 3, 6, 7}, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Sent: 4, Retried: 6, Failed: 4}, p.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestProducerInvalidConfig(t *testing.T) {
	checkGoroutines(t)
	p := NewProducer(&fakeClient{}, "s", ProducerConfig{BatchRecords: 501})
	if err := p.Add(context.Background(), []byte("x")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Add = %v, want ErrInvalidConfig", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestProducerConcurrentAddFlushClose(t *testing.T) {
	checkGoroutines(t)
	f := &fakeClient{}
	p := NewProducer(f, "s", ProducerConfig{BatchRecords: 7, Linger: time.Millisecond, QueueRecords: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	var added sync.Map
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if err := p.Add(ctx, []byte{byte(g), byte(i)}); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
				added.Store([2]int{g, i}, true)
				if i%97 == 0 {
					if err := p.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	n := 0
	added.Range(func(any, any) bool { n++; return true })
	if got := p.Stats(); got.Sent != int64(n) || got.Failed != 0 {
		t.Errorf("Stats %+v, %d added", got, n)
	}
	sent := 0
	for _, c := range f.callSizes() {
		sent += c[0]
	}
	if sent != n {
		t.Errorf("%d records in calls, %d added", sent, n)
	}
}
