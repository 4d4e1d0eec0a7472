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
	"github.com/hydrant-dev/hydrant/pkg/producer"
)

func init() {
	register.DoFn3x1[context.Context, beam.T, func(FailedRecord), error](&writeSliceFn{})
	register.DoFn4x1[context.Context, beam.X, beam.Y, func(FailedRecord), error](&writeKVFn{})
	register.DoFn4x1[context.Context, beam.X, func(*beam.Y) bool, func(FailedRecord), error](&writeGroupedFn{})
	register.Emitter1[FailedRecord]()
	register.Iter1[beam.Y]()
}

// writer is the part every write DoFn shares. Its exported fields are the
// serialized settings; the client is built by setup on each worker.
type writer struct {
	Stream             string
	Jsonify, Multiline bool
	MaxTrials          int
	Endpoint, Region   string
	LogLevel           int

	client  producer.Client
	cfg     producer.Config
	enc     *encoder
	sent    beam.Counter
	retried beam.Counter
	failed  beam.Counter
}

// setup builds the Firehose client from the AWS default configuration chain.
func (w *writer) setup(ctx context.Context) error {
	var opts []func(*config.LoadOptions) error
	if w.Region != "" {
		opts = append(opts, config.WithRegion(w.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("firehoseio: load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		return errors.New("firehoseio: no AWS region: use the Region option or set AWS_REGION on the workers")
	}
	w.client = firehose.NewFromConfig(awsCfg, func(o *firehose.Options) {
		if w.Endpoint != "" {
			o.BaseEndpoint = aws.String(w.Endpoint)
		}
	})
	level := slog.Level(w.LogLevel)
	w.cfg = producer.Config{
		MaxTrials: w.MaxTrials,
		Logger:    slog.New(levelHandler{min: level, Handler: slog.Default().Handler()}).With("transform", "firehoseio.Write"),
	}
	w.enc = newEncoder(w.Jsonify, w.Multiline)
	w.sent = beam.NewCounter("firehoseio", "records_sent")
	w.retried = beam.NewCounter("firehoseio", "records_retried")
	w.failed = beam.NewCounter("firehoseio", "records_failed")
	return nil
}

// send delivers records and emits the ones that were not delivered.
func (w *writer) send(ctx context.Context, records [][]byte, emit func(FailedRecord)) error {
	if len(records) == 0 {
		return nil
	}
	res, err := producer.PutRecordBatch(ctx, w.client, w.Stream, records, w.cfg)
	w.sent.Inc(ctx, int64(res.Sent))
	w.retried.Inc(ctx, int64(res.Retried))
	if err != nil {
		// Only an ended context or an invalid config: fail the bundle so the runner
		// retries it (records already acknowledged are sent again).
		return fmt.Errorf("firehoseio: %w", err)
	}
	w.failed.Inc(ctx, int64(len(res.Failed)))
	for _, f := range res.Failed {
		emit(FailedRecord{Data: f.Data, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage, Attempts: f.Attempts})
	}
	return nil
}

// writeSliceFn writes PCollection<[]R>.
type writeSliceFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeSliceFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// ProcessElement sends one batch.
func (f *writeSliceFn) ProcessElement(ctx context.Context, batch beam.T, emit func(FailedRecord)) error {
	records, err := f.W.enc.encodeBatch(batch)
	if err != nil {
		return fmt.Errorf("firehoseio: %w", err)
	}
	return f.W.send(ctx, records, emit)
}

// writeKVFn writes PCollection<KV<K, []R>>, ignoring the keys.
type writeKVFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeKVFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// ProcessElement sends the batch of one KV.
func (f *writeKVFn) ProcessElement(ctx context.Context, _ beam.X, batch beam.Y, emit func(FailedRecord)) error {
	records, err := f.W.enc.encodeBatch(batch)
	if err != nil {
		return fmt.Errorf("firehoseio: %w", err)
	}
	return f.W.send(ctx, records, emit)
}

// writeGroupedFn writes PCollection<KV<K, iter R>>, the values of each key as one
// batch, sent in pieces of producer.MaxBatchRecords records so that a large group is
// never held in memory whole.
type writeGroupedFn struct {
	W writer
}

// Setup builds the Firehose client.
func (f *writeGroupedFn) Setup(ctx context.Context) error { return f.W.setup(ctx) }

// ProcessElement sends the values of one key.
func (f *writeGroupedFn) ProcessElement(ctx context.Context, _ beam.X, values func(*beam.Y) bool, emit func(FailedRecord)) error {
	records := make([][]byte, 0, producer.MaxBatchRecords)
	var v beam.Y
	for i := 0; values(&v); i++ {
		d, err := f.W.enc.encode(v)
		if err != nil {
			return fmt.Errorf("firehoseio: record %d: %w", i, err)
		}
		records = append(records, d)
		if len(records) == producer.MaxBatchRecords {
			if err := f.W.send(ctx, records, emit); err != nil {
				return err
			}
			records = records[:0]
		}
	}
	return f.W.send(ctx, records, emit)
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
