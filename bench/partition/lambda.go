package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
)

// lambdaFunction is the name of the counting function the lambda phase's stream invokes.
const lambdaFunction = "BenchCounter"

// lambdaARN is the processor's LambdaArn.
const lambdaARN = "arn:aws:lambda:us-east-1:000000000000:function:" + lambdaFunction

// minLambdaBytes is the smallest record lambdaRecord builds: its fixed members and a newline.
const minLambdaBytes = 64

// lambdaSize is the size of record i of the lambda phase: spread over lo..hi by a hash of i,
// the same in every run.
func lambdaSize(i, lo, hi int) int {
	h := fnv.New32a()
	fmt.Fprint(h, i)
	return lo + int(h.Sum32()%uint32(hi-lo+1))
}

// lambdaRecord is record i of the lambda phase, sent by client g: one JSON object of exactly
// size bytes ending in a newline, which names its client and index so that a delivered record
// can be rebuilt and compared byte for byte.
func lambdaRecord(g, i, size int) []byte {
	b := fmt.Appendf(make([]byte, 0, size), `{"client":%d,"seq":%d,"pad":"`, g, i)
	for j := 0; len(b) < size-3; j++ {
		b = append(b, 'a'+byte((i+j)%26))
	}
	return append(b, "\"}\n"...)
}

// invocation is one invocation the counting function served.
type invocation struct {
	at      time.Time
	records int
	bytes   int // record bytes (decoded)
}

// counter is the Lambda function of the lambda phase: it returns every record Ok and unchanged,
// as a pure transformation does, and counts its invocations; its Invoke API also counts the
// requests and their payload bytes.
type counter struct {
	mu       sync.Mutex
	invs     []invocation
	requests atomic.Int64
	payload  atomic.Int64 // request bytes
}

func (c *counter) handle(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	resp := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, 0, len(ev.Records))}
	n := 0
	for _, r := range ev.Records {
		n += len(r.Data)
		resp.Records = append(resp.Records, events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk, Data: r.Data})
	}
	c.mu.Lock()
	c.invs = append(c.invs, invocation{at: time.Now(), records: len(ev.Records), bytes: n})
	c.mu.Unlock()
	return resp, nil
}

func (c *counter) invocations() []invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.invs)
}

// serveCounter serves the Invoke API for c on a free 127.0.0.1 port; it returns the endpoint
// and a function that stops the server.
func serveCounter(c *counter) (endpoint string, stop func(), err error) {
	emu, err := emulator.NewServer(map[string]any{lambdaFunction: c.handle}, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		c.payload.Add(max(r.ContentLength, 0))
		emu.ServeHTTP(w, r)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { hs.Close(); <-done }, nil
}

// lambdaResult is the measurement of the lambda phase.
type lambdaResult struct {
	records, clients     int
	acked, failed        int
	ackedBytes           int64
	latencies            []time.Duration // of acknowledged calls, sorted
	firstErr             error
	start                time.Time     // the first call
	loadTook             time.Duration // first call → last answer
	flushTook            time.Duration // load end → flush answered
	atLoadEnd            int           // invocations when the load ended
	invs                 []invocation  // every invocation, after the flush
	requests, payload    int64         // Invoke API requests and their bytes
	cpuLoad              cpu           // during the load
	loadAvg              string        // /proc/loadavg when the load ended
	statusAfter          harness.LegStatus
	objects              int
	delivered            int   // records in objects
	deliveredBytes       int64 // their bytes
	dupes, differ, other int   // duplicated records, records unlike what was sent, objects outside the data prefix
	firstBad             string
}

// total is load start → flush answered.
func (r lambdaResult) total() time.Duration { return r.loadTook + r.flushTook }

func (r lambdaResult) invokedRecords() int {
	n := 0
	for _, v := range r.invs {
		n += v.records
	}
	return n
}

func (r lambdaResult) problems() []string {
	var p []string
	if r.delivered != r.acked || r.deliveredBytes != r.ackedBytes {
		p = append(p, fmt.Sprintf("lambda: %d records / %d bytes in objects, %d / %d acknowledged", r.delivered, r.deliveredBytes, r.acked, r.ackedBytes))
	}
	if r.dupes+r.differ+r.other > 0 || r.statusAfter.FailedRecords > 0 {
		p = append(p, fmt.Sprintf("lambda: %d duplicated records, %d unlike what was sent, %d objects outside the data prefix, failedRecords %d; first: %s",
			r.dupes, r.differ, r.other, r.statusAfter.FailedRecords, r.firstBad))
	}
	if r.acked == 0 {
		p = append(p, "lambda: no record acknowledged")
	}
	return p
}

// lambdaPhase sends lambda-records single-record PutRecord calls into a stream whose Lambda
// processor batches by BufferSizeInMBs, flushes, and counts the invocations.
func lambdaPhase(ctx context.Context, o options, bin, dir string, stdout io.Writer) (lambdaResult, error) {
	r := lambdaResult{records: o.lambdaRecords, clients: o.lambdaConcurrency}
	var c counter
	endpoint, stopCounter, err := serveCounter(&c)
	if err != nil {
		return r, err
	}
	defer stopCounter()
	h, err := startHydrant(bin, dir, serverSpec{maxPartitions: 500,
		extraConfig: fmt.Sprintf("lambda:\n  endpoint: %s\n  anonymous: true\n", endpoint)})
	if err != nil {
		return r, err
	}
	defer h.Stop()
	defer os.RemoveAll(h.dataDir)
	const stream = "bench-lambda"
	params := []types.ProcessorParameter{
		{ParameterName: types.ProcessorParameterNameLambdaArn, ParameterValue: aws.String(lambdaARN)},
		{ParameterName: types.ProcessorParameterNameBufferSizeInMb, ParameterValue: aws.String(strconv.FormatFloat(o.lambdaBufferMB, 'f', -1, 64))},
	}
	if o.lambdaIntervalS > 0 {
		params = append(params, types.ProcessorParameter{ParameterName: types.ProcessorParameterNameBufferIntervalInSeconds, ParameterValue: aws.String(strconv.Itoa(o.lambdaIntervalS))})
	}
	client := harness.NewClient(h.URL, o.lambdaConcurrency, false)
	err = harness.CreateStream(ctx, client, harness.StreamSpec{Name: stream, Bucket: stream, SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS),
		Configure: func(d *types.ExtendedS3DestinationConfiguration) {
			d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true),
				Processors: []types.Processor{{Type: types.ProcessorTypeLambda, Parameters: params}}}
		}})
	if err != nil {
		return r, err
	}

	// Records are built before the clock starts; client g sends records g, g+clients, …
	data := make([][]byte, o.lambdaRecords)
	for i := range data {
		data[i] = lambdaRecord(i%o.lambdaConcurrency, i, lambdaSize(i, o.lambdaMinBytes, o.lambdaMaxBytes))
	}
	fmt.Fprintf(stdout, "lambda: %d PutRecord calls of %d..%d B from %d clients, Lambda BufferSizeInMBs %g ...\n",
		o.lambdaRecords, o.lambdaMinBytes, o.lambdaMaxBytes, o.lambdaConcurrency, o.lambdaBufferMB)
	type out struct {
		acked, failed int
		bytes         int64
		lat           []time.Duration
		err           error
	}
	outs := make([]out, o.lambdaConcurrency)
	c0, err := cpuNow(h.Proc, nil)
	if err != nil {
		return r, err
	}
	start := time.Now()
	r.start = start
	var wg sync.WaitGroup
	for g := range o.lambdaConcurrency {
		wg.Go(func() {
			w := &outs[g]
			for i := g; i < len(data) && ctx.Err() == nil; i += o.lambdaConcurrency {
				t0 := time.Now()
				_, err := client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(stream), Record: &types.Record{Data: data[i]}})
				if err != nil {
					w.failed++
					if w.err == nil {
						w.err = err
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				w.acked++
				w.bytes += int64(len(data[i]))
			}
		})
	}
	wg.Wait()
	loadEnd := time.Now()
	r.loadTook = loadEnd.Sub(start)
	c1, err := cpuNow(h.Proc, nil)
	if err != nil {
		return r, err
	}
	r.cpuLoad = c1.sub(c0)
	r.loadAvg = harness.LoadAvg()
	for _, w := range outs {
		r.acked += w.acked
		r.failed += w.failed
		r.ackedBytes += w.bytes
		r.latencies = append(r.latencies, w.lat...)
		if r.firstErr == nil {
			r.firstErr = w.err
		}
	}
	slices.Sort(r.latencies)
	r.atLoadEnd = len(c.invocations())
	if err := harness.Flush(ctx, h.URL, stream); err != nil {
		return r, err
	}
	r.flushTook = time.Since(loadEnd)
	r.invs = c.invocations()
	r.requests, r.payload = c.requests.Load(), c.payload.Load()
	if r.statusAfter, err = harness.DeliveryStatus(ctx, h.URL, stream); err != nil {
		return r, err
	}
	fmt.Fprintf(stdout, "  %d acknowledged in %v, flush %v after; %d invocations (%d when the load ended); checking objects ...\n",
		r.acked, r.loadTook.Round(time.Millisecond), r.flushTook.Round(time.Millisecond), len(r.invs), r.atLoadEnd)
	return r, r.verify(ctx, localStore{h.dataDir}, stream, data)
}

// verify reads every object of bucket: each line must be a record that was sent, once.
func (r *lambdaResult) verify(ctx context.Context, st store, bucket string, sent [][]byte) error {
	seen := make([]bool, len(sent))
	bad := func(format string, args ...any) {
		if r.firstBad == "" {
			r.firstBad = fmt.Sprintf(format, args...)
		}
	}
	var keys []string
	err := st.list(ctx, bucket, func(key string, _ int64) error {
		if strings.HasPrefix(key, "processing-failed/") {
			r.other++
			bad("%s: in the error output", key)
			return nil
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range keys {
		b, err := st.read(ctx, bucket, key)
		if err != nil {
			return err
		}
		r.objects++
		for len(b) > 0 {
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line = b[:i+1]
			}
			b = b[len(line):]
			r.delivered++
			r.deliveredBytes += int64(len(line))
			var v struct{ Client, Seq int }
			if err := json.Unmarshal(line, &v); err != nil || v.Seq < 0 || v.Seq >= len(sent) || !bytes.Equal(line, sent[v.Seq]) {
				r.differ++
				bad("%s: record %.60q is not one that was sent (parse error: %v)", key, line, err)
				continue
			}
			if seen[v.Seq] {
				r.dupes++
				bad("%s: record %d delivered twice", key, v.Seq)
			}
			seen[v.Seq] = true
		}
	}
	return nil
}
