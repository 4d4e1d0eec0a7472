// Command producer measures pkg/producer's asynchronous Producer against a plain loop of
// PutRecordBatch calls sending the same records, both against the same spawned Hydrant
// in the same run (alternating rounds), checks that every byte of each phase reached the
// stream's objects, prints the numbers and appends them to bench/RESULTS.md.
//
//	go run ./bench/producer                 # 200,000 × 1 KiB records per phase, 2 rounds
//	go run ./bench/producer -short -results ""   # smoke test, print only
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

type options struct {
	records, recordBytes, rounds int
	inFlight, batchRecords       int
	linger                       time.Duration
	hydrantBin, results          string
}

func main() {
	var o options
	short := flag.Bool("short", false, "smoke test: 20,000 records, one round")
	flag.IntVar(&o.records, "records", 200_000, "records per phase")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record")
	flag.IntVar(&o.rounds, "rounds", 2, "alternating rounds of loop and producer")
	flag.IntVar(&o.inFlight, "max-in-flight", producer.DefaultMaxInFlight, "Producer MaxInFlight")
	flag.IntVar(&o.batchRecords, "batch-records", producer.MaxBatchRecords, "Producer BatchRecords")
	flag.DurationVar(&o.linger, "linger", producer.DefaultLinger, "Producer Linger")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.Parse()
	if *short {
		o.records, o.rounds = 20_000, 1
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/producer:", err)
		os.Exit(1)
	}
}

// phase is one measured send of all records.
type phase struct {
	name    string
	round   int
	elapsed time.Duration
	sent    int64
	bytes   int64
	retried int64
	calls   int
}

func (p phase) recordsPerSec() float64 { return float64(p.sent) / p.elapsed.Seconds() }
func (p phase) mbPerSec() float64      { return float64(p.bytes) / 1e6 / p.elapsed.Seconds() }

func run(ctx context.Context, o options, stdout io.Writer) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-producer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.hydrantBin
	info := harness.SystemInfo(root) // the code the binary is built from; the tree may move on
	if bin == "" {
		fmt.Fprintln(stdout, "building ./cmd/hydrant ...")
		if bin, err = harness.BuildHydrant(root, tmp); err != nil {
			return err
		}
	}
	dataDir := filepath.Join(tmp, "hydrant-data")
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(tmp, "hydrant.log"), Ready: "/_hydrant/health",
		Within: 30 * time.Second, Argv: []string{bin, "serve", "--data-dir", dataDir, "--listen", "{addr}", "--log-level", "warn"}})
	if err != nil {
		return err
	}
	defer p.Stop()
	client := harness.NewClient(p.URL, max(o.inFlight, 2), false)

	records := make([][]byte, o.records)
	var total int64
	for i := range records {
		records[i] = harness.FillerRecord(0, i, o.recordBytes)
		total += int64(len(records[i]))
	}
	var phases []phase
	for round := 1; round <= o.rounds; round++ {
		for _, name := range []string{"loop", "producer"} {
			stream := fmt.Sprintf("%s-%d", name, round)
			if err := harness.CreateStream(ctx, client, harness.StreamSpec{Name: stream, Bucket: stream, SizeMB: 64, IntervalS: 60}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "round %d: %s, %d × %d B ...\n", round, name, o.records, o.recordBytes)
			var ph phase
			if name == "loop" {
				ph, err = runLoop(ctx, client, stream, records)
			} else {
				ph, err = runProducer(ctx, client, stream, records, o)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", stream, err)
			}
			ph.round = round
			if err := harness.Flush(ctx, p.URL, stream); err != nil {
				return err
			}
			var delivered int64
			if err := harness.WalkObjects(dataDir, stream, func(_, _ string, size int64) error { delivered += size; return nil }); err != nil {
				return err
			}
			if delivered != total || ph.bytes != total {
				return fmt.Errorf("%s: %d bytes acknowledged, %d delivered, %d sent", stream, ph.bytes, delivered, total)
			}
			fmt.Fprintf(stdout, "  %.0f records/s, %.1f MB/s, %d calls, %d resends; all %d bytes delivered\n",
				ph.recordsPerSec(), ph.mbPerSec(), ph.calls, ph.retried, delivered)
			phases = append(phases, ph)
		}
	}
	section := render(o, phases, info)
	fmt.Fprint(stdout, "\n"+section)
	if o.results != "" {
		path := o.results
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := harness.AppendResults(path, "# Benchmark results\n", section); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "appended to", path)
	}
	return nil
}

// runLoop sends the records with one PutRecordBatch call after another, 500 at a time,
// straight through the SDK client.
func runLoop(ctx context.Context, c *firehose.Client, stream string, records [][]byte) (phase, error) {
	ph := phase{name: "loop: PutRecordBatch calls one after another"}
	chunks, _ := producer.Chunks(records)
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream)}
	start := time.Now()
	for _, ch := range chunks {
		in.Records = in.Records[:0]
		for _, i := range ch {
			in.Records = append(in.Records, types.Record{Data: records[i]})
		}
		out, err := c.PutRecordBatch(ctx, in)
		if err != nil {
			return ph, err
		}
		ph.calls++
		if n := aws.ToInt32(out.FailedPutCount); n > 0 {
			return ph, fmt.Errorf("%d records failed", n)
		}
		ph.sent += int64(len(ch))
		for _, i := range ch {
			ph.bytes += int64(len(records[i]))
		}
	}
	ph.elapsed = time.Since(start)
	return ph, nil
}

// countingClient counts calls.
type countingClient struct {
	*firehose.Client
	calls chan struct{}
}

func (c countingClient) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, o ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	c.calls <- struct{}{}
	return c.Client.PutRecordBatch(ctx, in, o...)
}

// runProducer sends the records through an asynchronous Producer: Add each, then Close.
func runProducer(ctx context.Context, c *firehose.Client, stream string, records [][]byte, o options) (phase, error) {
	ph := phase{name: fmt.Sprintf("producer: async Producer, MaxInFlight %d, BatchRecords %d, Linger %v", o.inFlight, o.batchRecords, o.linger)}
	calls := make(chan struct{}, len(records))
	failed := make(chan producer.FailedRecord, 1)
	p := producer.NewProducer(countingClient{c, calls}, stream, producer.ProducerConfig{
		MaxInFlight: o.inFlight, BatchRecords: o.batchRecords, Linger: o.linger,
		OnFailure: func(f producer.FailedRecord) {
			select {
			case failed <- f:
			default:
			}
		},
	})
	start := time.Now()
	for _, r := range records {
		if err := p.Add(ctx, r); err != nil {
			p.Close(ctx)
			return ph, err
		}
	}
	if err := p.Close(ctx); err != nil {
		return ph, err
	}
	ph.elapsed = time.Since(start)
	st := p.Stats()
	if st.Failed > 0 {
		f := <-failed
		return ph, fmt.Errorf("%d records failed, e.g. %d: %s %s", st.Failed, f.Index, f.ErrorCode, f.ErrorMessage)
	}
	ph.sent, ph.retried, ph.calls = st.Sent, st.Retried, len(calls)
	for _, r := range records {
		ph.bytes += int64(len(r))
	}
	return ph, nil
}

func render(o options, phases []phase, si harness.SysInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — producer\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; client and a spawned Hydrant share the machine\n", si.NProc, si.CPU, si.GoVersion)
	fmt.Fprintf(&b, "- hydrant revision %s; command `go run ./bench/producer` (records %d, record-bytes %d, rounds %d)\n", si.Rev, o.records, o.recordBytes, o.rounds)
	fmt.Fprintf(&b, "- same %d records × %d B per phase, each phase on a fresh stream (SizeInMBs 64, IntervalInSeconds 60), aws-sdk-go-v2 client (UNSIGNED-PAYLOAD, SDK retries off); every acknowledged byte checked in the objects after a flush\n",
		o.records, o.recordBytes)
	fmt.Fprintf(&b, "- MB = 10^6 bytes of record data; time from the first call (or Add) to the last acknowledgement (Close returned)\n\n")
	fmt.Fprintln(&b, "| round | phase | time | calls | resends | records/s | MB/s |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	best := map[bool]float64{}
	for _, p := range phases {
		fmt.Fprintf(&b, "| %d | %s | %v | %d | %d | %.0f | %.1f |\n", p.round, p.name, p.elapsed.Round(time.Millisecond), p.calls, p.retried, p.recordsPerSec(), p.mbPerSec())
		isProducer := strings.HasPrefix(p.name, "producer")
		best[isProducer] = max(best[isProducer], p.recordsPerSec())
	}
	if best[false] > 0 {
		fmt.Fprintf(&b, "\n- best producer / best loop: %.2f× records/s (%.0f / %.0f)\n", best[true]/best[false], best[true], best[false])
	}
	return b.String()
}
