// Command s3 measures end-to-end delivery to an S3-compatible store: PutRecordBatch load on
// the built hydrant binary (as bench/ingest sends it) in, objects out in MinIO, for each
// CompressionFormat in the same run, next to the machine's own gzip rate and MinIO's raw
// PutObject rate measured in the same run. It appends the numbers to bench/RESULTS.md.
//
//	go run ./bench/s3                     # 30 s per format, natural delivery after 10 s of load
//	go run ./bench/s3 -duration 3s -natural-duration 2s -interval 5 -size-mb 8 \
//	    -baseline-mb 8 -baseline-time 500ms -put-objects 2 -results ''        # smoke test
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

type options struct {
	duration, naturalDuration, baselineTime time.Duration
	concurrency, records, recordBytes       int
	sizeMB, intervalS                       int
	baselineMB, putObjects                  int
	formats                                 []types.CompressionFormat
	hydrantBin, minioBin, results, profile  string
}

func main() {
	var o options
	var formats string
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "load duration per format")
	flag.DurationVar(&o.naturalDuration, "natural-duration", 10*time.Second, "load before the natural (no flush) delivery measurement, per format; 0 skips it")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	flag.IntVar(&o.records, "records", 500, "records per PutRecordBatch")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record (one JSON web-log line)")
	flag.IntVar(&o.sizeMB, "size-mb", 64, "BufferingHints.SizeInMBs of the streams")
	flag.IntVar(&o.intervalS, "interval", 60, "BufferingHints.IntervalInSeconds of the streams")
	flag.StringVar(&formats, "formats", "UNCOMPRESSED,GZIP", "comma-separated CompressionFormats to measure")
	flag.IntVar(&o.baselineMB, "baseline-mb", 64, "object size (MiB) of the gzip and PutObject baselines")
	flag.DurationVar(&o.baselineTime, "baseline-time", 5*time.Second, "minimum duration of each gzip baseline")
	flag.IntVar(&o.putObjects, "put-objects", 8, "objects per PutObject baseline")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.minioBin, "minio-bin", harness.MinIOBinary(), "minio binary (default: $HYDRANT_MINIO, $(go env GOPATH)/bin/minio or minio on PATH)")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of hydrant during each format's load to this directory (hydrant-FORMAT.pprof)")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.Parse()
	for f := range strings.SplitSeq(formats, ",") {
		switch f := types.CompressionFormat(strings.TrimSpace(f)); f {
		case types.CompressionFormatUncompressed, types.CompressionFormatGzip:
			o.formats = append(o.formats, f)
		default:
			fmt.Fprintf(os.Stderr, "s3: -formats: %q: must be UNCOMPRESSED or GZIP\n", f)
			os.Exit(2)
		}
	}
	if o.recordBytes < 2 || o.recordBytes > 1<<20 || o.records < 1 || o.concurrency < 1 || o.baselineMB < 1 || o.putObjects < 1 {
		fmt.Fprintln(os.Stderr, "s3: -record-bytes must be 2..1048576; -records, -concurrency, -baseline-mb and -put-objects at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "s3:", err)
		os.Exit(1)
	}
}

// baseline is what the machine does on its own.
type baseline struct {
	gzip []gzipRate // [0] one goroutine, [1] all cores, [2] pgzip
	put  []putRate
}

// parallelGzip is the machine's gzip rate with every core compressing its own object.
func (b baseline) parallelGzip() gzipRate { return b.gzip[1] }

func run(ctx context.Context, o options, stdout io.Writer) error {
	ws, err := harness.Prepare("hydrant-bench-s3-", o.hydrantBin, stdout)
	if err != nil {
		return err
	}
	defer ws.Close()
	root, tmp, bin := ws.Root, ws.Tmp, ws.Hydrant

	var base baseline
	data := objectData(o.baselineMB<<20, o.concurrency, o.records, o.recordBytes)
	fmt.Fprintf(stdout, "baseline: gzip of %d MiB web-log objects with internal/compress ...\n", o.baselineMB)
	if base.gzip, err = gzipBaseline(data, runtime.NumCPU(), o.baselineTime); err != nil {
		return err
	}
	for _, r := range base.gzip {
		fmt.Fprintf(stdout, "  %s: %.1f MB/s (ratio %.2f)\n", r.name, r.mbps, r.ratio)
	}
	fmt.Fprintf(stdout, "baseline: MinIO PutObject of %d × %d MiB ...\n", o.putObjects, o.baselineMB)
	m, err := startMinIO(ctx, o.minioBin, filepath.Join(tmp, "minio-baseline"))
	if err != nil {
		return err
	}
	if err = m.CreateBucket(ctx, "baseline"); err == nil {
		base.put, err = putBaseline(ctx, m, "baseline", data, o.putObjects)
	}
	m.Close()
	if err != nil {
		return err
	}
	for _, r := range base.put {
		fmt.Fprintf(stdout, "  %s: %.1f MB/s\n", r.name, r.mbps())
	}
	data = nil

	var results []formatResult
	var failed []string
	for _, f := range o.formats {
		r, err := benchFormat(ctx, o, bin, filepath.Join(tmp, strings.ToLower(string(f))), f, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		results = append(results, r)
		failed = append(failed, r.problems()...)
	}

	report := render(o, base, results, systemInfo(ws.Info, o.minioBin))
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, report)
	if o.results != "" {
		p := o.results
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		header := "# Benchmark results\n\nAppended by `make bench` (`go run ./bench/ingest`, `go run ./bench/s3`); newest last.\n"
		if err := harness.AppendResults(p, header, report); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nappended to %s\n", p)
	}
	if len(failed) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

type sysInfo struct {
	harness.SysInfo
	minio string
}

func systemInfo(si harness.SysInfo, minioBin string) sysInfo {
	return sysInfo{SysInfo: si, minio: harness.MinIOVersion(minioBin)}
}
