package producer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/server"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

// hydrant is an in-process Hydrant on a random port with a Firehose client pointed at it.
type hydrant struct {
	url    string
	dir    string
	client *firehose.Client
}

func testLogger() *slog.Logger {
	if os.Getenv("HYDRANT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startHydrant runs a server until the test ends.
func startHydrant(t testing.TB) *hydrant {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: dir}, testLogger())
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not become ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	url := "http://" + srv.Addr()
	client := firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return &hydrant{url: url, dir: dir, client: client}
}

// createStream creates stream delivering to the bucket of the same name and waits until
// it is ACTIVE.
func (h *hydrant) createStream(t testing.TB, stream string) {
	t.Helper()
	ctx := context.Background()
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(stream),
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), BucketARN: aws.String("arn:aws:s3:::" + stream),
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream: %v", err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE", stream)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *hydrant) do(t testing.TB, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
}

// faults sets the injected faults of stream.
func (h *hydrant) faults(t testing.TB, stream, faults string) {
	t.Helper()
	h.do(t, http.MethodPut, "/_hydrant/streams/"+stream+"/faults", faults)
}

// delivered flushes and returns how many times each line was delivered to bucket.
func (h *hydrant) delivered(t testing.TB, bucket string) map[string]int {
	t.Helper()
	h.do(t, http.MethodPost, "/_hydrant/flush", "")
	counts := map[string]int{}
	root := filepath.Join(h.dir, "s3", bucket)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for line := range bytes.Lines(b) {
			counts[string(bytes.TrimSuffix(line, []byte("\n")))]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
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
	res, err := producer.PutRecordBatch(context.Background(), h.client, "ff", records, cfg)
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
	res, err := producer.PutRecordBatch(context.Background(), h.client, "one", records, cfg)
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
			id, err := producer.PutRecord(context.Background(), h.client, "th", fmt.Appendf(nil, "th-%d\n", i), cfg)
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
	_, err := producer.PutRecord(context.Background(), h.client, "missing", []byte("x"), fast)
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
	res, err := producer.PutRecordBatch(context.Background(), h.client, "tb", records, cfg)
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
	p := producer.NewProducer(h.client, "async", cfg)
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
