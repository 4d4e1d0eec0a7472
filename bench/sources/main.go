// Command sources measures how fast Hydrant's source readers read: one Kinesis shard (on
// kinesis-local, and moto) and one Kafka partition (franz-go's kfake, in this process), each
// filled with -records records of -record-bytes while Hydrant is stopped, then read by a
// restarted Hydrant (the catch-up, polled on GET /_hydrant/streams/{name}/source every
// 100 ms) and, in the same run, by a bare client in this process: an aws-sdk-go-v2
// GetRecords loop (Limit 10,000) from TRIM_HORIZON, a franz-go consumer from the start. It
// prints both rates and their ratio, the disk's fsync rate (every source append is one
// synced journal message) and appends the numbers to bench/RESULTS.md.
//
//	go run ./bench/sources                                   # 50,000 records per source
//	go run ./bench/sources -records 5000 -kafka-records 20000 -results ''   # smoke test
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/internal/source"
)

type options struct {
	records, kafkaRecords, recordBytes int
	fillTime, readTimeout              time.Duration
	fsyncTime                          time.Duration
	servers                            []string
	hydrantBin, results                string
	profile                            string
	profileFor                         time.Duration
}

// The sources a run can measure, in -servers.
const (
	srvKinesisLocal = "kinesis-local"
	srvMoto         = "moto"
	srvKafka        = "kafka"
)

func main() {
	var o options
	var servers string
	flag.IntVar(&o.records, "records", 50000, "records to fill each source with (fewer if -fill-time ends first)")
	flag.IntVar(&o.kafkaRecords, "kafka-records", 200000, "records to fill the Kafka partition with (fewer if -fill-time ends first); kfake is too fast for -records to measure")
	flag.IntVar(&o.recordBytes, "record-bytes", 1024, "bytes per record")
	flag.DurationVar(&o.fillTime, "fill-time", 60*time.Second, "longest time to fill one source")
	flag.DurationVar(&o.readTimeout, "read-timeout", 5*time.Minute, "longest time for the bare reader, and for Hydrant's catch-up, per source")
	flag.DurationVar(&o.fsyncTime, "fsync-time", 2*time.Second, "duration of the disk's write+fsync loop")
	flag.StringVar(&servers, "servers", "kinesis-local,moto,kafka", "comma-separated sources to measure: kinesis-local, moto, kafka")
	flag.StringVar(&o.hydrantBin, "hydrant-bin", "", "hydrant binary (default: build ./cmd/hydrant)")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of hydrant's catch-up per source to this directory (hydrant-SOURCE.pprof, via --pprof-listen)")
	flag.DurationVar(&o.profileFor, "profile-for", 5*time.Second, "length of each -profile")
	flag.StringVar(&o.results, "results", "bench/RESULTS.md", "append a dated section here (relative to the module root); empty: print only")
	flag.Parse()
	for s := range strings.SplitSeq(servers, ",") {
		switch s = strings.TrimSpace(s); s {
		case srvKinesisLocal, srvMoto, srvKafka:
			o.servers = append(o.servers, s)
		case "":
		default:
			fmt.Fprintf(os.Stderr, "sources: -servers: %q is not kinesis-local, moto or kafka\n", s)
			os.Exit(2)
		}
	}
	if o.records < 1 || o.kafkaRecords < 1 || o.recordBytes < 64 || o.recordBytes > 1<<20 || len(o.servers) == 0 {
		fmt.Fprintln(os.Stderr, "sources: -records and -kafka-records must be at least 1, -record-bytes 64..1048576, -servers not empty")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sources:", err)
		os.Exit(1)
	}
}

// result is one source's row.
type result struct {
	source, server, version string
	fill                    fillResult
	bare                    readResult
	hydrant                 catchUp
	messages                int    // journal messages Hydrant appended, derived from its batching rules
	messagesHow             string // how messages was derived
	err                     error
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	ws, err := harness.Prepare("hydrant-bench-sources-", o.hydrantBin, stdout)
	if err != nil {
		return err
	}
	defer ws.Close()
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "baseline: write+fsync of 4 KiB for %v in %s ...\n", o.fsyncTime, ws.Tmp)
	fs, err := harness.FsyncRate(filepath.Join(ws.Tmp, "fsync"), o.fsyncTime)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %.0f fsyncs/s (%d in %v)\n", fs.Rate(), fs.N, fs.Elapsed.Round(time.Millisecond))

	var results []result
	var failed []string
	for _, s := range o.servers {
		dir := filepath.Join(ws.Tmp, s)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var r result
		switch s {
		case srvKafka:
			r = benchKafka(ctx, o, ws.Hydrant, dir, stdout)
		default:
			r = benchKinesis(ctx, o, s, ws.Hydrant, dir, stdout)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.err != nil {
			fmt.Fprintf(stdout, "  %s: FAILED: %v\n", s, r.err)
			failed = append(failed, fmt.Sprintf("%s: %v", s, r.err))
		}
		results = append(results, r)
	}

	report := render(o, fs, results, ws.Info)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, report)
	if o.results != "" {
		p := o.results
		if !filepath.IsAbs(p) {
			p = filepath.Join(ws.Root, p)
		}
		header := "# Benchmark results\n\nAppended by `make bench`; newest last.\n"
		if err := harness.AppendResults(p, header, report); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nappended to %s\n", p)
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// benchKinesis measures one shard of the Kinesis-compatible server kind.
func benchKinesis(ctx context.Context, o options, kind, bin, dir string, stdout io.Writer) (r result) {
	r.source, r.server = "Kinesis, 1 shard", kind
	fmt.Fprintf(stdout, "%s: starting ...\n", kind)
	var k *kinesisServer
	var err error
	if kind == srvMoto {
		k, err = startMoto(dir)
	} else {
		k, err = startKinesisLocal(dir)
	}
	if err != nil {
		r.err = err
		return r
	}
	defer k.Close()
	r.version = k.version
	const streamName, deliveryName = "bench-source", "from-kinesis"
	arn, err := k.createStream(ctx, streamName)
	if err != nil {
		r.err = err
		return r
	}
	h, err := newHydrant(bin, filepath.Join(dir, "hydrant"), map[string]any{"kinesis": map[string]any{"*": map[string]any{
		"endpoint": k.endpoint, "region": kinesisRegion, "accessKeyId": kinesisAccessKey, "secretAccessKey": kinesisSecretKey,
	}}}, o.profile != "")
	if err != nil {
		r.err = err
		return r
	}
	defer h.stop()
	if r.err = createThenStop(ctx, h, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(deliveryName),
		DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: &types.KinesisStreamSourceConfiguration{
			KinesisStreamARN: aws.String(arn), RoleARN: aws.String(roleARN),
		},
	}); r.err != nil {
		return r
	}

	fmt.Fprintf(stdout, "%s: filling the shard with up to %d records of %d B (at most %v) ...\n", kind, o.records, o.recordBytes, o.fillTime)
	if r.fill, r.err = k.fill(ctx, streamName, o.records, o.recordBytes, o.fillTime); r.err != nil {
		return r
	}
	fmt.Fprintf(stdout, "  %d records in %v (%.0f records/s)\n", r.fill.records, r.fill.elapsed.Round(time.Millisecond), r.fill.rate())

	fmt.Fprintf(stdout, "%s: bare GetRecords loop (Limit 10000) from TRIM_HORIZON ...\n", kind)
	if r.bare, r.err = k.bareKinesisRead(ctx, streamName, r.fill.records, o.readTimeout); r.err != nil {
		return r
	}
	fmt.Fprintf(stdout, "  %d records in %v: %.0f records/s, %.1f MB/s, %d calls\n", r.bare.records, r.bare.elapsed.Round(time.Millisecond), r.bare.rate(), r.bare.mbps(), r.bare.calls)
	// The reader appends at most source.MaxAppendBytes of records per message and flushes
	// after each GetRecords: the bare reader's answers (same shard, same Limit) give the count.
	per := max(1, source.MaxAppendBytes/o.recordBytes)
	for _, n := range r.bare.sizes {
		r.messages += (n + per - 1) / per
	}
	r.messagesHow = fmt.Sprintf("Σ⌈records per GetRecords answer ÷ %d⌉ over the bare reader's answers", per)

	r.hydrant, r.err = catchUpOnce(ctx, o, h, deliveryName, r.fill.records, kind, stdout)
	return r
}

// benchKafka measures one partition of a kfake cluster in this process.
func benchKafka(ctx context.Context, o options, bin, dir string, stdout io.Writer) (r result) {
	r.source, r.server, r.version = "Kafka, 1 partition", "kfake", kfakeVersion()
	const topic, deliveryName = "bench-source", "from-kafka"
	const clusterARN = "arn:aws:kafka:us-east-1:000000000000:cluster/bench/0f1e2d3c-0000-0000-0000-000000000000-1"
	fmt.Fprintln(stdout, "kafka: starting kfake (1 broker, 1 partition) ...")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		r.err = err
		return r
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	h, err := newHydrant(bin, filepath.Join(dir, "hydrant"), map[string]any{"kafka": map[string]any{
		clusterARN: map[string]any{"bootstrapBrokers": brokers},
	}}, o.profile != "")
	if err != nil {
		r.err = err
		return r
	}
	defer h.stop()
	if r.err = createThenStop(ctx, h, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(deliveryName),
		DeliveryStreamType: types.DeliveryStreamTypeMSKAsSource,
		MSKSourceConfiguration: &types.MSKSourceConfiguration{
			MSKClusterARN: aws.String(clusterARN), TopicName: aws.String(topic),
			AuthenticationConfiguration: &types.AuthenticationConfiguration{
				RoleARN: aws.String(roleARN), Connectivity: types.ConnectivityPublic,
			},
			ReadFromTimestamp: aws.Time(time.Unix(0, 0)),
		},
	}); r.err != nil {
		return r
	}

	fmt.Fprintf(stdout, "kafka: producing up to %d records of %d B (at most %v) ...\n", o.kafkaRecords, o.recordBytes, o.fillTime)
	if r.fill, r.err = fillKafka(ctx, brokers, topic, o.kafkaRecords, o.recordBytes, o.fillTime); r.err != nil {
		return r
	}
	fmt.Fprintf(stdout, "  %d records in %v (%.0f records/s)\n", r.fill.records, r.fill.elapsed.Round(time.Millisecond), r.fill.rate())

	fmt.Fprintln(stdout, "kafka: bare franz-go consumer from the start ...")
	if r.bare, r.err = bareKafkaRead(ctx, brokers, topic, r.fill.records, o.readTimeout); r.err != nil {
		return r
	}
	fmt.Fprintf(stdout, "  %d records in %v: %.0f records/s, %.1f MB/s, %d fetches\n", r.bare.records, r.bare.elapsed.Round(time.Millisecond), r.bare.rate(), r.bare.mbps(), r.bare.calls)
	// The reader fetches at most 2 MiB of a partition at a time and appends each fetch as
	// one message (under source.MaxAppendBytes and 32768 records).
	const fetchPartitionBytes = 2 << 20
	r.messages = int((r.fill.bytes + fetchPartitionBytes - 1) / fetchPartitionBytes)
	r.messagesHow = "≈ ⌈bytes ÷ 2 MiB⌉ (one message per fetch; fetches hold at most 2 MiB of a partition)"

	r.hydrant, r.err = catchUpOnce(ctx, o, h, deliveryName, r.fill.records, "kafka", stdout)
	return r
}

// createThenStop starts hydrant, creates the source stream, waits until it is ACTIVE and
// stops hydrant again, so that the source fills while nothing reads it.
func createThenStop(ctx context.Context, h *hydrant, in *firehose.CreateDeliveryStreamInput) error {
	if err := h.start(); err != nil {
		return err
	}
	err := createSourceStream(ctx, h.URL, in)
	h.stop()
	return err
}

func catchUpOnce(ctx context.Context, o options, h *hydrant, stream string, want int, name string, stdout io.Writer) (catchUp, error) {
	fmt.Fprintf(stdout, "%s: hydrant catch-up of %d records ...\n", name, want)
	profile := ""
	if o.profile != "" {
		profile = filepath.Join(o.profile, "hydrant-"+name+".pprof")
	}
	c, err := measureCatchUp(ctx, h, stream, want, o.readTimeout, profile, o.profileFor)
	h.stop()
	if err != nil {
		return c, err
	}
	fmt.Fprintf(stdout, "  %d records in %v from launch (ready %v, first records %v): %.0f records/s, %.1f MB/s; flush %v, %d records delivered\n",
		c.records, ms(c.done), ms(c.ready), ms(c.first), c.rate(), c.mbps(), ms(c.flushTook), c.delivered)
	if c.delivered != int64(want) {
		return c, fmt.Errorf("delivered %d records after the flush, want %d", c.delivered, want)
	}
	return c, nil
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// record returns record i: one JSON line of exactly size bytes.
func record(i, size int) []byte {
	b := fmt.Appendf(make([]byte, 0, size), `{"seq":%09d,"pad":"`, i)
	for len(b) < size-3 {
		b = append(b, 'x')
	}
	return append(b, '"', '}', '\n')
}
