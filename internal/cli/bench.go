package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/pkg/producer"
	"github.com/spf13/cobra"
)

// benchOptions are the settings of a load run.
type benchOptions struct {
	stream                                 string
	concurrency, recordBytes, batchRecords int
	duration                               time.Duration
	count                                  int64
	rate                                   float64
}

func (o benchOptions) validate() error {
	switch {
	case o.concurrency < 1:
		return fmt.Errorf("--concurrency %d: must be at least 1", o.concurrency)
	case o.recordBytes < 1 || o.recordBytes > producer.MaxRecordBytes:
		return fmt.Errorf("--record-bytes %d: must be between 1 and %d", o.recordBytes, producer.MaxRecordBytes)
	case o.batchRecords < 1 || o.batchRecords > producer.MaxBatchRecords:
		return fmt.Errorf("--batch-records %d: must be between 1 and %d", o.batchRecords, producer.MaxBatchRecords)
	case o.duration <= 0:
		return fmt.Errorf("--duration %v: must be positive", o.duration)
	case o.count < 0:
		return fmt.Errorf("--count %d: must not be negative", o.count)
	case o.rate < 0:
		return fmt.Errorf("--rate %v: must not be negative", o.rate)
	}
	return nil
}

// pacer hands out records to send: at most max in all (0: no cap), at rate records per
// second (0: no pacing), stopping at deadline.
type pacer struct {
	mu       sync.Mutex
	start    time.Time
	deadline time.Time
	rate     float64
	max      int64
	reserved int64
}

// reserve grants up to n records and the time to send them; zero records when the run is over.
func (p *pacer) reserve(now time.Time, n int) (int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 {
		n = int(min(int64(n), p.max-p.reserved))
	}
	if n <= 0 || !now.Before(p.deadline) {
		return 0, now
	}
	at := now
	if p.rate > 0 {
		at = p.start.Add(time.Duration(float64(p.reserved) / p.rate * float64(time.Second)))
		if !at.Before(p.deadline) {
			return 0, now
		}
	}
	p.reserved += int64(n)
	return n, at
}

// benchResult is what the workers measured.
type benchResult struct {
	calls, callErrors, sent, failed, bytes int64
	latencies                              []time.Duration
	firstErr                               error
	elapsed                                time.Duration
}

// runBench sends PutRecordBatch calls from o.concurrency workers until the duration, the
// count or ctx ends. Calls are not retried: the run measures the service.
func runBench(ctx context.Context, client producer.Client, o benchOptions) benchResult {
	start := time.Now()
	p := &pacer{start: start, deadline: start.Add(o.duration), rate: o.rate, max: o.count}
	var (
		mu  sync.Mutex
		res benchResult
		wg  sync.WaitGroup
	)
	for w := range o.concurrency {
		wg.Go(func() {
			records := benchRecords(uint64(w), o.batchRecords, o.recordBytes)
			var local benchResult
			noRetry := func(o *firehose.Options) { o.Retryer = aws.NopRetryer{} }
			for ctx.Err() == nil {
				n, at := p.reserve(time.Now(), len(records))
				if n == 0 {
					break
				}
				if d := time.Until(at); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-ctx.Done():
						t.Stop()
					case <-t.C:
					}
					if ctx.Err() != nil {
						break
					}
				}
				t0 := time.Now()
				out, err := client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{
					DeliveryStreamName: aws.String(o.stream), Records: records[:n],
				}, noRetry)
				local.latencies = append(local.latencies, time.Since(t0))
				local.calls++
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					local.callErrors++
					local.failed += int64(n)
					if local.firstErr == nil {
						local.firstErr = &callError{"PutRecordBatch", err}
					}
					continue
				}
				failed := int(aws.ToInt32(out.FailedPutCount))
				local.failed += int64(failed)
				local.sent += int64(n - failed)
				local.bytes += int64((n - failed) * o.recordBytes)
			}
			mu.Lock()
			defer mu.Unlock()
			res.calls += local.calls
			res.callErrors += local.callErrors
			res.sent += local.sent
			res.failed += local.failed
			res.bytes += local.bytes
			res.latencies = append(res.latencies, local.latencies...)
			if res.firstErr == nil {
				res.firstErr = local.firstErr
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

// benchRecords returns n records of size bytes each: printable random text ending in a
// newline, different for each worker.
func benchRecords(seed uint64, n, size int) []types.Record {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(seed, 0xbe4c))
	buf := make([]byte, n*size)
	for i := range buf {
		buf[i] = alphabet[r.IntN(len(alphabet))]
	}
	recs := make([]types.Record, n)
	for i := range recs {
		d := buf[i*size : (i+1)*size : (i+1)*size]
		d[size-1] = '\n'
		recs[i] = types.Record{Data: d}
	}
	return recs
}

// percentile returns the nearest-rank percentile q (0–100) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q/100+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func newBench(stdout io.Writer) *cobra.Command {
	var (
		af awsFlags
		o  benchOptions
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a delivery stream with PutRecordBatch calls and report throughput and latency",
		Long: `Send PutRecordBatch calls of --batch-records records of --record-bytes bytes from
--concurrency workers for --duration (or until --count records), optionally paced to --rate
records per second in all. Calls are not retried, so that the numbers describe the service:
records a call rejects count as failed. At the end it prints records/s, MB/s (10^6 bytes) and
the latency percentiles of the calls.`,
		Example: `  hydrant bench --delivery-stream-name logs --concurrency 8 --record-bytes 1024 --duration 30s
  hydrant bench --delivery-stream-name logs --rate 5000 --duration 1m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			o.batchRecords = min(o.batchRecords, producer.MaxBatchBytes/o.recordBytes)
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			res := runBench(ctx, c.firehose(), o)
			secs := max(res.elapsed.Seconds(), 1e-9)
			fmt.Fprintf(stdout, "PutRecordBatch to %s: %s, up to %s of %s per call, %s\n",
				o.stream, count(o.concurrency, "worker", "workers"), count(o.batchRecords, "record", "records"), count(o.recordBytes, "byte", "bytes"), res.elapsed.Round(time.Millisecond))
			fmt.Fprintf(stdout, "calls       %d (%d failed)\n", res.calls, res.callErrors)
			fmt.Fprintf(stdout, "records     %d sent, %d failed (%s)\n", res.sent, res.failed, formatMB(res.bytes))
			fmt.Fprintf(stdout, "throughput  %.1f records/s, %.2f MB/s\n", float64(res.sent)/secs, float64(res.bytes)/1e6/secs)
			l := res.latencies
			fmt.Fprintf(stdout, "latency     p50 %s  p90 %s  p99 %s  max %s\n",
				roundLatency(percentile(l, 50)), roundLatency(percentile(l, 90)), roundLatency(percentile(l, 99)), roundLatency(percentile(l, 100)))
			if res.calls > 0 && res.callErrors == res.calls {
				return fmt.Errorf("every call failed: %w", res.firstErr)
			}
			if res.firstErr != nil && !errors.Is(res.firstErr, context.Canceled) {
				fmt.Fprintf(stdout, "first call error: %v\n", res.firstErr)
			}
			return ctx.Err()
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&o.stream, "delivery-stream-name", "", "the delivery stream")
	f.IntVar(&o.concurrency, "concurrency", 8, "concurrent workers, each with one call in flight")
	f.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record")
	f.IntVar(&o.batchRecords, "batch-records", producer.MaxBatchRecords, "records per call (fewer when they would pass 4 MiB)")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	f.Int64Var(&o.count, "count", 0, "most records to send in all (0: no limit)")
	f.Float64Var(&o.rate, "rate", 0, "records per second in all (0: as fast as the workers go)")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
