package producer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// fakeClient records every call; batch decides the outcome of each PutRecordBatch
// (nil: all succeed) and single that of each PutRecord.
type fakeClient struct {
	mu     sync.Mutex
	calls  [][][]byte // records of each PutRecordBatch call
	single int        // PutRecord calls
	batch  func(call int, recs [][]byte) (*firehose.PutRecordBatchOutput, error)
	put    func(call int) error
}

var _ Client = (*fakeClient)(nil)

func (f *fakeClient) PutRecord(ctx context.Context, in *firehose.PutRecordInput, _ ...func(*firehose.Options)) (*firehose.PutRecordOutput, error) {
	f.mu.Lock()
	f.single++
	n := f.single
	f.mu.Unlock()
	if f.put != nil {
		if err := f.put(n); err != nil {
			return nil, err
		}
	}
	return &firehose.PutRecordOutput{RecordId: aws.String(fmt.Sprint("id-", n))}, nil
}

func (f *fakeClient) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, _ ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	recs := make([][]byte, len(in.Records))
	for i, r := range in.Records {
		recs[i] = r.Data
	}
	f.mu.Lock()
	f.calls = append(f.calls, recs)
	n := len(f.calls)
	f.mu.Unlock()
	if f.batch != nil {
		return f.batch(n, recs)
	}
	return okOutput(len(recs), nil), nil
}

// okOutput answers n records, failing those for which fail returns a code.
func okOutput(n int, fail func(i int) string) *firehose.PutRecordBatchOutput {
	out := &firehose.PutRecordBatchOutput{RequestResponses: make([]types.PutRecordBatchResponseEntry, n), FailedPutCount: aws.Int32(0)}
	for i := range n {
		if fail != nil {
			if code := fail(i); code != "" {
				out.RequestResponses[i] = types.PutRecordBatchResponseEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("Slow down.")}
				*out.FailedPutCount++
				continue
			}
		}
		out.RequestResponses[i] = types.PutRecordBatchResponseEntry{RecordId: aws.String(fmt.Sprint("r", i))}
	}
	return out
}

// succeedFirst answers each PutRecordBatch call accepting its first n records and
// failing the others with ServiceUnavailableException (Hydrant's succeedPerCall).
func succeedFirst(n int) func(int, [][]byte) (*firehose.PutRecordBatchOutput, error) {
	return func(_ int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
		return okOutput(len(recs), func(i int) string {
			if i >= n {
				return "ServiceUnavailableException"
			}
			return ""
		}), nil
	}
}

// callSizes returns the record count and byte total of each call.
func (f *fakeClient) callSizes() [][2]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][2]int, len(f.calls))
	for i, c := range f.calls {
		out[i][0] = len(c)
		for _, r := range c {
			out[i][1] += len(r)
		}
	}
	return out
}

// fakeClock advances on Sleep and records the sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// fixedRand returns r for every draw.
func fixedRand(r float64) func() float64 { return func() float64 { return r } }
