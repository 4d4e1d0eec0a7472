// Command write is the firehoseio example, after the Python connector's: it creates
// records {id, name, created_at}, turns the timestamps into strings, batches them by
// 50 and writes them to a delivery stream as JSON lines (Jsonify and Multiline), then
// prints the objects the stream delivered.
//
// By default it runs on the prism runner against a Hydrant on 127.0.0.1:4573 (hydrant
// serve), creates the stream if it is missing, and reads the objects from Hydrant's
// local bucket directory after POST /_hydrant/flush:
//
//	go run ./examples/write
//
// Beam's own flags choose the runner (--runner=flink --endpoint=localhost:8099, …);
// the Firehose settings have their own names (--firehose_endpoint, --firehose_region)
// because Beam already defines --endpoint and --region.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/firehoseio"
)

var (
	streamName = flag.String("stream_name", "firehoseio-example", "delivery stream name")
	numRecords = flag.Int("num_records", 100, "number of records")
	endpoint   = flag.String("firehose_endpoint", "http://127.0.0.1:4573", "Firehose endpoint URL; empty for AWS")
	region     = flag.String("firehose_region", "us-east-1", "AWS region of the stream")
	create     = flag.Bool("create_stream", true, "create the stream (delivering to the bucket named like it) when it is missing")
	bucketDir  = flag.String("bucket_dir", "", "directory of the delivered objects to print (default ./hydrant-data/s3/STREAM_NAME; - prints nothing)")
	flush      = flag.Bool("flush", true, "ask Hydrant to deliver its buffers (POST /_hydrant/flush) before printing")
	profile    = flag.String("aws_profile", "", "profile of the workers' shared AWS config to sign with (default: the AWS default chain)")
)

func init() {
	register.Function1x1(convertTS)
	register.Function3x0(logFailed)
	beam.RegisterType(reflect.TypeOf((*record)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*event)(nil)).Elem())
}

// record is a created element; its timestamp has no JSON form the example wants.
type record struct {
	ID        int
	Name      string
	CreatedAt int64 // Unix milliseconds
}

// event is what is sent: the record with its timestamp as a string.
type event struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

func createRecords(n int) []record {
	now := time.Now().UnixMilli()
	out := make([]record, n)
	for i := range out {
		name := make([]byte, 5)
		for j := range name {
			name[j] = byte('a' + rand.IntN(26))
		}
		out[i] = record{ID: i, Name: string(name), CreatedAt: now}
	}
	return out
}

// convertTS is DatetimeToStr of the Python example.
func convertTS(r record) event {
	return event{ID: r.ID, Name: r.Name, CreatedAt: time.UnixMilli(r.CreatedAt).Format("2006-01-02T15:04:05.000")}
}

// logFailed reports a record that was not delivered.
func logFailed(ctx context.Context, e event, f firehoseio.FailedRecord) {
	log.Warnf(ctx, "record %d not delivered: %v", e.ID, f)
}

func main() {
	flag.Parse()
	beam.Init()
	ctx := context.Background()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if *endpoint != "" && isLoopback(*endpoint) && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" && *profile == "" {
		// Hydrant takes any credentials; give the default chain some so that it does not
		// look further (shared files, instance metadata).
		os.Setenv("AWS_ACCESS_KEY_ID", "hydrant")
		os.Setenv("AWS_SECRET_ACCESS_KEY", "hydrant")
	}
	if *create {
		fmt.Println(">> create the delivery stream if missing...")
		if err := createStream(ctx); err != nil {
			return err
		}
	}
	dir := *bucketDir
	if dir == "" {
		dir = filepath.Join("hydrant-data", "s3", *streamName)
	}
	if dir != "-" {
		fmt.Println(">> delete existing objects...")
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}

	fmt.Println(">> start pipeline...")
	p, s := beam.NewPipelineWithRoot()
	records := beam.CreateList(s, createRecords(*numRecords))
	events := beam.ParDo(s, convertTS, records)
	batches := firehoseio.Batch(s, events, 50)
	opts := []firehoseio.Option{firehoseio.Jsonify(true), firehoseio.Multiline(true), firehoseio.MaxTrials(3), firehoseio.Region(*region)}
	if *endpoint != "" {
		opts = append(opts, firehoseio.Endpoint(*endpoint))
	}
	if *profile != "" {
		opts = append(opts, firehoseio.Profile(*profile))
	}
	failed := firehoseio.Write(s, *streamName, batches, opts...)
	beam.ParDo0(s, logFailed, failed)
	if err := beamx.Run(ctx, p); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}

	if dir == "-" {
		return nil
	}
	if *flush && *endpoint != "" {
		resp, err := http.Post(*endpoint+"/_hydrant/flush", "application/json", nil)
		if err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		resp.Body.Close()
	}
	fmt.Println(">> print bucket contents...")
	return printObjects(dir)
}

// createStream creates a DirectPut stream to the bucket named like it, unless it exists,
// and waits until it is ACTIVE.
func createStream(ctx context.Context) error {
	opts := []func(*config.LoadOptions) error{config.WithRegion(*region)}
	if *profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(*profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return err
	}
	c := firehose.NewFromConfig(cfg, func(o *firehose.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})
	_, err = c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: streamName,
		DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN:        aws.String("arn:aws:iam::000000000000:role/firehoseio-example"),
			BucketARN:      aws.String("arn:aws:s3:::" + *streamName),
			BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(0)},
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create stream %s: %w", *streamName, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: streamName})
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", *streamName, err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s not ACTIVE after a minute", *streamName)
		}
	}
}

// printObjects prints the key and contents of every object under dir.
func printObjects(dir string) error {
	var keys []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		keys = append(keys, path)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, k)
		fmt.Printf("Key - %s\n%s", filepath.ToSlash(rel), b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			fmt.Println()
		}
	}
	if len(keys) == 0 {
		slog.Warn("no objects delivered", "dir", dir)
	}
	return nil
}

// isLoopback reports whether u names a loopback host.
func isLoopback(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := pu.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
