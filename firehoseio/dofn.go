package firehoseio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

func init() {
	register.DoFn3x1[context.Context, []beam.X, func(beam.X, FailedRecord), error](&writeSliceFn{})
	register.DoFn4x1[context.Context, beam.X, []beam.Y, func(beam.Y, FailedRecord), error](&writeKVFn{})
	register.DoFn4x1[context.Context, beam.X, func(*beam.Y) bool, func(beam.Y, FailedRecord), error](&writeGroupedFn{})
	register.Emitter2[beam.X, FailedRecord]()
	register.Emitter2[beam.Y, FailedRecord]()
	register.Iter1[beam.Y]()
}

// writer is the part every write DoFn shares. Its exported fields are the
// serialized settings; the client is built by setup on each worker.
type writer struct {
	Stream                          string
	Jsonify, Multiline, CompactJSON bool
	CheckStream                     bool
	MaxTrials                       int
	Endpoint, Region                string
	LogLevel                        int
	Profile                         string
	Credentials                     staticCredentials

	client  producer.Client
	cfg     producer.Config
	enc     *encoder
	sent    beam.Counter
	retried beam.Counter
	failed  beam.Counter
}

// LogValue is the writer's settings without its credentials.
func (w writer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("stream", w.Stream), slog.Bool("jsonify", w.Jsonify), slog.Bool("multiline", w.Multiline),
		slog.Bool("compact_json", w.CompactJSON), slog.Bool("check_stream", w.CheckStream), slog.Int("max_trials", w.MaxTrials),
		slog.String("endpoint", w.Endpoint), slog.String("region", w.Region), slog.String("profile", w.Profile),
		slog.Any("credentials", w.Credentials))
}

// streamDescriber is the part of *firehose.Client the stream check uses.
type streamDescriber interface {
	DescribeDeliveryStream(ctx context.Context, in *firehose.DescribeDeliveryStreamInput, optFns ...func(*firehose.Options)) (*firehose.DescribeDeliveryStreamOutput, error)
}

var _ streamDescriber = (*firehose.Client)(nil)

// setup builds the Firehose client from the AWS default configuration chain, or the
// Profile or Credentials options, and checks the stream unless CheckStream is off.
func (w *writer) setup(ctx context.Context) error {
	var opts []func(*config.LoadOptions) error
	if w.Region != "" {
		opts = append(opts, config.WithRegion(w.Region))
	}
	if w.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(w.Profile))
	}
	if w.Credentials.set() {
		opts = append(opts, config.WithCredentialsProvider(w.Credentials.provider()))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("firehoseio.Write to %s: load AWS config: %w", w.Stream, err)
	}
	if awsCfg.Region == "" {
		return fmt.Errorf("firehoseio.Write to %s: no AWS region: use the Region option or set AWS_REGION on the workers", w.Stream)
	}
	client := firehose.NewFromConfig(awsCfg, func(o *firehose.Options) {
		if w.Endpoint != "" {
			o.BaseEndpoint = aws.String(w.Endpoint)
		}
	})
	if w.CheckStream {
		if err := checkStream(ctx, client, w.Stream); err != nil {
			return err
		}
	}
	w.client = client
	level := slog.Level(w.LogLevel)
	w.cfg = producer.Config{
		MaxTrials: w.MaxTrials,
		Logger:    slog.New(levelHandler{min: level, Handler: slog.Default().Handler()}).With("transform", "firehoseio.Write"),
	}
	w.enc = newEncoder(w.Jsonify, w.Multiline, w.CompactJSON)
	w.sent = beam.NewCounter("firehoseio", "records_sent")
	w.retried = beam.NewCounter("firehoseio", "records_retried")
	w.failed = beam.NewCounter("firehoseio", "records_failed")
	return nil
}

// checkStream fails unless stream exists and is ACTIVE, as the Python connector's
// is_delivery_stream_active check does when a bundle starts.
func checkStream(ctx context.Context, c streamDescriber, stream string) error {
	out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("firehoseio.Write to %s: %w (check its name and region): %w", stream, ErrStreamNotFound, err)
	case err != nil:
		return fmt.Errorf("firehoseio.Write to %s: describe delivery stream (CheckStream(false) skips this check): %w", stream, err)
	}
	if status := out.DeliveryStreamDescription.DeliveryStreamStatus; status != types.DeliveryStreamStatusActive {
		return fmt.Errorf("firehoseio.Write to %s: %w: status %s", stream, ErrStreamNotActive, status)
	}
	return nil
}

// send delivers records and returns the ones that were not delivered, with their
// Index into records.
func (w *writer) send(ctx context.Context, records [][]byte) ([]producer.FailedRecord, error) {
	if len(records) == 0 {
		return nil, nil
	}
	res, err := producer.PutRecordBatch(ctx, w.client, w.Stream, records, w.cfg)
	w.sent.Inc(ctx, int64(res.Sent))
	w.retried.Inc(ctx, int64(res.Retried))
	if err != nil {
		// Only an ended context or an invalid config: fail the bundle so the runner
		// retries it (records already acknowledged are sent again).
		return nil, fmt.Errorf("firehoseio.Write to %s: %w", w.Stream, err)
	}
	w.failed.Inc(ctx, int64(len(res.Failed)))
	return res.Failed, nil
}

// failure is the FailedRecord of a record pkg/producer did not deliver.
func failure(f producer.FailedRecord) FailedRecord {
	return FailedRecord{Data: f.Data, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage, Attempts: f.Attempts}
}

// writeSliceFn writes PCollection<[]R>, emitting KV<R, FailedRecord>.
type writeSliceFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeSliceFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// LogValue is the settings without credentials.
func (f *writeSliceFn) LogValue() slog.Value { return f.W.LogValue() }

// ProcessElement sends one batch.
func (f *writeSliceFn) ProcessElement(ctx context.Context, batch []beam.X, emit func(beam.X, FailedRecord)) error {
	records, err := encodeBatch(&f.W, batch)
	if err != nil {
		return err
	}
	failed, err := f.W.send(ctx, records)
	for _, r := range failed {
		emit(batch[r.Index], failure(r))
	}
	return err
}

// writeKVFn writes PCollection<KV<K, []R>>, ignoring the keys, emitting
// KV<R, FailedRecord>.
type writeKVFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeKVFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// LogValue is the settings without credentials.
func (f *writeKVFn) LogValue() slog.Value { return f.W.LogValue() }

// ProcessElement sends the batch of one KV.
func (f *writeKVFn) ProcessElement(ctx context.Context, _ beam.X, batch []beam.Y, emit func(beam.Y, FailedRecord)) error {
	records, err := encodeBatch(&f.W, batch)
	if err != nil {
		return err
	}
	failed, err := f.W.send(ctx, records)
	for _, r := range failed {
		emit(batch[r.Index], failure(r))
	}
	return err
}

// encodeBatch encodes the records of batch, a []beam.X or []beam.Y.
func encodeBatch[R any](w *writer, batch []R) ([][]byte, error) {
	records := make([][]byte, len(batch))
	for i, r := range batch {
		d, err := w.enc.encode(r)
		if err != nil {
			return nil, fmt.Errorf("firehoseio.Write to %s: record %d: %w", w.Stream, i, err)
		}
		records[i] = d
	}
	return records, nil
}

// writeGroupedFn writes PCollection<KV<K, iter R>>, the values of each key as one
// batch, sent in pieces of producer.MaxBatchRecords records so that a large group is
// never held in memory whole; it emits KV<R, FailedRecord>.
type writeGroupedFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeGroupedFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// LogValue is the settings without credentials.
func (f *writeGroupedFn) LogValue() slog.Value { return f.W.LogValue() }

// ProcessElement sends the values of one key.
func (f *writeGroupedFn) ProcessElement(ctx context.Context, _ beam.X, values func(*beam.Y) bool, emit func(beam.Y, FailedRecord)) error {
	records := make([][]byte, 0, producer.MaxBatchRecords)
	piece := make([]beam.Y, 0, producer.MaxBatchRecords)
	flush := func() error {
		failed, err := f.W.send(ctx, records)
		for _, r := range failed {
			emit(piece[r.Index], failure(r))
		}
		records, piece = records[:0], piece[:0]
		return err
	}
	var v beam.Y
	for i := 0; values(&v); i++ {
		d, err := f.W.enc.encode(v)
		if err != nil {
			return fmt.Errorf("firehoseio.Write to %s: record %d: %w", f.W.Stream, i, err)
		}
		records = append(records, d)
		piece = append(piece, v)
		if len(records) == producer.MaxBatchRecords {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// levelHandler drops records below min.
type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithAttrs(as)}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithGroup(name)}
}
