// Command cluster measures acknowledged ingest on a 3-node Hydrant cluster (three processes on
// loopback, every journal shard and bucket replicated 3 times) against one Hydrant node of the
// same binary on the same machine, measured in the same run: PutRecordBatch of 500 × 1 KiB
// records from aws-sdk-go-v2 clients (SDK retries off), one stream and three streams, the
// clients spread over the nodes' endpoints. It reports records/s, MB/s, latency, each hydrant
// process's CPU seconds per GB, the ratio cluster ÷ single, the time from the load's end until
// every record is in objects, and the disk's fsync rate, and appends them to bench/RESULTS.md.
// Run it with bench/run-cluster.sh.
//
//	go run ./bench/cluster                                   # 20 s per configuration
//	go run ./bench/cluster -duration 5s -results ''          # smoke test
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

type options struct {
	duration                  time.Duration
	maxRecords                int
	concurrency               int
	records, recordBytes      int
	sizeMB, intervalS         int
	bin, results, profileDir  string
	fsyncDuration, settleTime time.Duration
	flushWait                 time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "load duration of each configuration")
	flag.IntVar(&o.maxRecords, "max-records", 3_000_000, "a configuration's load also ends after this many records sent (all clients together)")
	flag.IntVar(&o.concurrency, "concurrency", 6, "concurrent clients, each with its own aws-sdk-go-v2 client and connection (spread evenly over the nodes and streams)")
	flag.IntVar(&o.records, "records", 500, "records per PutRecordBatch")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record")
	flag.IntVar(&o.sizeMB, "size-mb", 128, "BufferingHints.SizeInMBs of the streams")
	flag.IntVar(&o.intervalS, "interval", 900, "BufferingHints.IntervalInSeconds of the streams")
	flag.StringVar(&o.bin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.StringVar(&o.profileDir, "profile-dir", "", "save a CPU profile of every hydrant process during each load here (<config>-<node>.pprof)")
	flag.DurationVar(&o.fsyncDuration, "fsync-duration", 3*time.Second, "how long the disk's fsync rate is measured")
	flag.DurationVar(&o.settleTime, "settle", 2*time.Second, "pause after streams are created and between configurations")
	flag.DurationVar(&o.flushWait, "flush-wait", 2*time.Minute, "how long the flushes after a load may take before they are reported as failed")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if o.concurrency < 3 {
		return fmt.Errorf("-concurrency must be at least 3 (one client per node), got %d", o.concurrency)
	}
	ws, err := harness.Prepare("hydrant-bench-cluster-", o.bin, stdout)
	if err != nil {
		return err
	}
	defer ws.Close()
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	fs, err := harness.FsyncRate(filepath.Join(ws.Tmp, "fsync-probe"), o.fsyncDuration)
	if err != nil {
		return fmt.Errorf("fsync rate: %w", err)
	}
	fmt.Fprintf(stdout, "disk: %.0f write(4 KiB)+fsync per second (%d in %v)\n", fs.Rate(), fs.N, fs.Elapsed.Round(time.Millisecond))

	single, err := benchSingle(ctx, o, ws, stdout)
	if err != nil {
		return err
	}
	cl, err := benchCluster(ctx, o, ws, stdout)
	if err != nil {
		return err
	}
	report := render(o, ws.Info, fs, single, cl)
	fmt.Fprint(stdout, "\n"+report)
	if o.results == "" {
		return nil
	}
	p := filepath.Join(ws.Root, o.results)
	if err := harness.AppendResults(p, "# Benchmark results\n", report); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "appended to", p)
	return nil
}
