// Command scenario is the AWS SDK "Firehose scenario" written with pkg/producer: it
// sends mock web-traffic records (JSON lines from the generator of `hydrant mock-data`,
// or the lines of a file given with -file), the first ones one by one with PutRecord and
// the rest with PutRecordBatch in batches of -batch-size records (split further within
// the 4 MiB limit), both with exponential back-off and full jitter. It logs every outcome
// with log/slog (-log-level debug adds each failed record's error message at every
// attempt), and then checks through the CloudWatch client of the AWS SDK that the
// stream's IncomingRecords and IncomingBytes sums grew by at least what was acknowledged.
//
// The metric check reads the sums before sending and polls them after, for up to
// -metrics-wait (default 10m: on AWS metrics arrive minutes late; Hydrant answers at
// once), so that runs before this one, or alongside it, do not make it fail; it reports
// the growth it saw.
//
// Against Hydrant (the default, -endpoint-url http://127.0.0.1:4573) it creates the stream
// if it is missing. With -endpoint-url "" it talks to AWS with the default configuration
// chain; the stream must exist.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/internal/mockdata"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

// Defaults of Options.
const (
	DefaultRecords     = 2550
	DefaultSingle      = 50
	DefaultBatchSize   = producer.MaxBatchRecords
	DefaultMetricsWait = 10 * time.Minute
	DefaultMetricsPoll = 10 * time.Second
)

var (
	// ErrInvalidOptions wraps the errors of Options.Validate.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrNotDelivered is returned when some records were not acknowledged.
	ErrNotDelivered = errors.New("records not delivered")
	// ErrMetricsIncomplete is returned when the metric sums did not grow by what was
	// acknowledged within Options.MetricsWait.
	ErrMetricsIncomplete = errors.New("metrics incomplete")
)

// Options are the scenario's parameters.
type Options struct {
	// EndpointURL is the Firehose and CloudWatch endpoint; empty means AWS.
	EndpointURL string
	// Stream is the delivery stream; Region the AWS region.
	Stream, Region string
	// File is a file of records, one a line (such as `hydrant mock-data` writes); empty
	// generates Records records with Seed, ending at End (zero: now).
	File    string
	Records int
	Seed    uint64
	End     time.Time
	// Single is how many of the records to send with PutRecord.
	Single int
	// BatchSize is the most records per PutRecordBatch call (1 to 500).
	BatchSize int
	// MetricsWait bounds the polling of CloudWatch for the metric sums (0: read once);
	// MetricsPoll is the pause between reads.
	MetricsWait, MetricsPoll time.Duration
	// Retry configures the producer's retries.
	Retry producer.Config
}

// Validate reports fields out of their bounds.
func (o Options) Validate() error {
	switch {
	case o.Stream == "":
		return fmt.Errorf("%w: empty stream name", ErrInvalidOptions)
	case o.File == "" && o.Records < 0:
		return fmt.Errorf("%w: records %d must not be negative", ErrInvalidOptions, o.Records)
	case o.Single < 0:
		return fmt.Errorf("%w: single %d must not be negative", ErrInvalidOptions, o.Single)
	case o.BatchSize < 1 || o.BatchSize > producer.MaxBatchRecords:
		return fmt.Errorf("%w: batch size %d must be between 1 and %d", ErrInvalidOptions, o.BatchSize, producer.MaxBatchRecords)
	case o.MetricsWait < 0:
		return fmt.Errorf("%w: metrics wait %v must not be negative", ErrInvalidOptions, o.MetricsWait)
	case o.MetricsPoll <= 0:
		return fmt.Errorf("%w: metrics poll %v must be positive", ErrInvalidOptions, o.MetricsPoll)
	}
	if err := o.Retry.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return nil
}

// Summary is what the scenario sent and how much the stream's metrics grew meanwhile.
type Summary struct {
	Sent, Failed               int
	SentBytes                  int
	Retried                    int
	MetricRecords, MetricBytes float64
}

func main() {
	var (
		o     Options
		level slog.Level
	)
	flag.StringVar(&o.EndpointURL, "endpoint-url", "http://127.0.0.1:4573", "Firehose and CloudWatch endpoint; empty for AWS")
	flag.StringVar(&o.Stream, "stream", "hydrant-scenario", "delivery stream name")
	flag.StringVar(&o.Region, "region", "us-east-1", "AWS region")
	flag.StringVar(&o.File, "file", "", "file of records to send, one a line (hydrant mock-data > FILE); empty generates -records records")
	flag.IntVar(&o.Records, "records", DefaultRecords, "records to generate when there is no -file")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of the generated records")
	flag.IntVar(&o.Single, "single", DefaultSingle, "how many of the records to send with PutRecord")
	flag.IntVar(&o.BatchSize, "batch-size", DefaultBatchSize, "most records per PutRecordBatch call (1-500)")
	flag.DurationVar(&o.MetricsWait, "metrics-wait", DefaultMetricsWait, "how long to poll CloudWatch for the metric sums (AWS publishes them minutes late)")
	flag.DurationVar(&o.MetricsPoll, "metrics-poll", DefaultMetricsPoll, "pause between reads of the metrics")
	flag.IntVar(&o.Retry.MaxTrials, "max-trials", 5, "attempts per record")
	flag.TextVar(&level, "log-level", slog.LevelInfo, "lowest level logged: debug, info, warn or error")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o.Retry.Logger = log
	sum, err := Run(context.Background(), o, log)
	if err != nil {
		log.Error("scenario failed", "stream", o.Stream, "err", err)
		os.Exit(1)
	}
	log.Info("scenario done", "stream", o.Stream, "sent", sum.Sent, "bytes", sum.SentBytes, "failed", sum.Failed,
		"retried", sum.Retried, "incoming_records", sum.MetricRecords, "incoming_bytes", sum.MetricBytes)
}

// Run runs the scenario.
func Run(ctx context.Context, o Options, log *slog.Logger) (Summary, error) {
	if err := o.Validate(); err != nil {
		return Summary{}, err
	}
	awsCfg, err := loadConfig(ctx, o)
	if err != nil {
		return Summary{}, err
	}
	client := firehose.NewFromConfig(awsCfg, func(fo *firehose.Options) {
		if o.EndpointURL != "" {
			fo.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	cw := cloudwatch.NewFromConfig(awsCfg, func(co *cloudwatch.Options) {
		if o.EndpointURL != "" {
			co.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	if o.EndpointURL != "" {
		if err := ensureStream(ctx, client, o.Stream, log); err != nil {
			return Summary{}, err
		}
	}
	records, err := loadRecords(o)
	if err != nil {
		return Summary{}, err
	}
	m := metricCheck{cw: cw, stream: o.Stream, from: time.Now().Truncate(time.Minute), log: log}
	before, err := m.read(ctx)
	if err != nil {
		return Summary{}, err
	}
	log.Info("metrics before", "stream", o.Stream, "incoming_records", before.records, "incoming_bytes", before.bytes)

	sum, err := send(ctx, client, o, records, log)
	if err != nil {
		return sum, err
	}
	sum.MetricRecords, sum.MetricBytes, err = m.await(ctx, before, sum, o.MetricsWait, o.MetricsPoll)
	if err != nil {
		return sum, err
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("stream %s: %d %w", o.Stream, sum.Failed, ErrNotDelivered)
	}
	return sum, nil
}

// send sends the first o.Single records with PutRecord and the rest with PutRecordBatch
// in batches of o.BatchSize.
func send(ctx context.Context, client producer.Client, o Options, records [][]byte, log *slog.Logger) (Summary, error) {
	var sum Summary
	single := min(o.Single, len(records))
	for i, r := range records[:single] {
		if _, err := producer.PutRecord(ctx, client, o.Stream, r, o.Retry); err != nil {
			if ctx.Err() != nil {
				return sum, err
			}
			sum.Failed++
			log.Error("record not delivered", "stream", o.Stream, "index", i, "err", err)
			continue
		}
		sum.Sent++
		sum.SentBytes += len(r)
	}
	log.Info("put records done", "stream", o.Stream, "records", single, "failed", sum.Failed)

	rest := records[single:]
	batches := (len(rest) + o.BatchSize - 1) / o.BatchSize
	log.Info("put record batches", "stream", o.Stream, "records", len(rest), "batch_size", o.BatchSize, "batches", batches)
	failedBefore := sum.Failed
	for start := 0; start < len(rest); start += o.BatchSize {
		batch := rest[start:min(start+o.BatchSize, len(rest))]
		res, err := producer.PutRecordBatch(ctx, client, o.Stream, batch, o.Retry)
		sum.Retried += res.Retried
		if err != nil {
			return sum, err
		}
		failed := make(map[int]bool, len(res.Failed))
		for _, f := range res.Failed {
			failed[f.Index] = true
			log.Error("record not delivered", "stream", o.Stream, "index", single+start+f.Index, "code", f.ErrorCode, "err", f.ErrorMessage, "attempt", f.Attempts)
		}
		for i, r := range batch {
			if !failed[i] {
				sum.SentBytes += len(r)
			}
		}
		sum.Sent += res.Sent
		sum.Failed += len(res.Failed)
	}
	log.Info("put record batches done", "stream", o.Stream, "records", len(rest), "failed", sum.Failed-failedBefore, "retried", sum.Retried)
	return sum, nil
}

// loadRecords returns the lines of o.File, each with its "\n" and blank lines left out,
// or o.Records generated records.
func loadRecords(o Options) ([][]byte, error) {
	if o.File == "" {
		end := o.End
		if end.IsZero() {
			end = time.Now()
		}
		return mockdata.Records(o.Seed, o.Records, end)
	}
	b, err := os.ReadFile(o.File)
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	var out [][]byte
	for line := range bytes.Lines(b) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(line[:len(line):len(line)], '\n')
		}
		out = append(out, line)
	}
	return out, nil
}

func loadConfig(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.EndpointURL != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("hydrant", "hydrant", "")))
	}
	c, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return c, fmt.Errorf("load AWS config: %w", err)
	}
	return c, nil
}

// ensureStream creates stream, delivering to the bucket of the same name, when it is
// missing, and waits until it is ACTIVE.
func ensureStream(ctx context.Context, c *firehose.Client, stream string, log *slog.Logger) error {
	_, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err = c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(stream),
			DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
			ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
				RoleARN:   aws.String("arn:aws:iam::000000000000:role/firehose"),
				BucketARN: aws.String("arn:aws:s3:::" + stream),
			},
		})
		if err != nil {
			return fmt.Errorf("create delivery stream %s: %w", stream, err)
		}
		log.Info("delivery stream created", "stream", stream)
	case err != nil:
		return fmt.Errorf("describe delivery stream %s: %w", stream, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			return fmt.Errorf("describe delivery stream %s: %w", stream, err)
		}
		status := out.DeliveryStreamDescription.DeliveryStreamStatus
		if status == types.DeliveryStreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("delivery stream %s is %s after 30s", stream, status)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// metricsAPI is the part of *cloudwatch.Client the metric check uses.
type metricsAPI interface {
	GetMetricStatistics(ctx context.Context, in *cloudwatch.GetMetricStatisticsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

var _ metricsAPI = (*cloudwatch.Client)(nil)

// sums are the IncomingRecords and IncomingBytes sums of a stream.
type sums struct{ records, bytes float64 }

// metricCheck reads a stream's sums over the minutes from its start to now.
type metricCheck struct {
	cw     metricsAPI
	stream string
	from   time.Time
	log    *slog.Logger
}

// read returns the sums from m.from to the end of the current minute.
func (m metricCheck) read(ctx context.Context) (sums, error) {
	to := time.Now().Add(time.Minute).Truncate(time.Minute)
	r, err := m.sum(ctx, "IncomingRecords", to)
	if err != nil {
		return sums{}, err
	}
	b, err := m.sum(ctx, "IncomingBytes", to)
	if err != nil {
		return sums{}, err
	}
	return sums{records: r, bytes: b}, nil
}

// await polls the sums until they have grown from before by at least what sum
// acknowledged, for up to wait, and returns their growth.
func (m metricCheck) await(ctx context.Context, before sums, sum Summary, wait, poll time.Duration) (records, bytes float64, err error) {
	deadline := time.Now().Add(wait)
	for attempt := 1; ; attempt++ {
		now, err := m.read(ctx)
		if err != nil {
			return 0, 0, err
		}
		records, bytes = now.records-before.records, now.bytes-before.bytes
		m.log.Info("metrics", "stream", m.stream, "attempt", attempt, "incoming_records", records, "incoming_bytes", bytes,
			"want_records", sum.Sent, "want_bytes", sum.SentBytes)
		if records >= float64(sum.Sent) && bytes >= float64(sum.SentBytes) {
			if records > float64(sum.Sent) || bytes > float64(sum.SentBytes) {
				m.log.Warn("metrics count other puts too", "stream", m.stream, "incoming_records", records, "incoming_bytes", bytes,
					"want_records", sum.Sent, "want_bytes", sum.SentBytes)
			}
			return records, bytes, nil
		}
		if !time.Now().Add(poll).Before(deadline) {
			return records, bytes, fmt.Errorf("stream %s: %w after %v: IncomingRecords grew by %v and IncomingBytes by %v; want %d and %d",
				m.stream, ErrMetricsIncomplete, wait, records, bytes, sum.Sent, sum.SentBytes)
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return records, bytes, ctx.Err()
		}
	}
}

// sum returns the Sum of metric of the stream over [m.from, to), in one-minute periods.
func (m metricCheck) sum(ctx context.Context, metric string, to time.Time) (float64, error) {
	out, err := m.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace:  aws.String("AWS/Firehose"),
		MetricName: aws.String(metric),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("DeliveryStreamName"), Value: aws.String(m.stream)}},
		StartTime:  aws.Time(m.from),
		EndTime:    aws.Time(to),
		Period:     aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
	})
	if err != nil {
		return 0, fmt.Errorf("get metric statistics %s of %s: %w", metric, m.stream, err)
	}
	total := 0.0
	for _, d := range out.Datapoints {
		total += aws.ToFloat64(d.Sum)
	}
	return total, nil
}
