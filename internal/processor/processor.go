// Package processor runs the record processors of a Firehose
// ProcessingConfiguration: KPL and multi-record de-aggregation,
// decompression of CloudWatch Logs subscription data, Lambda transformation,
// partition-key extraction with JQ and the appended delimiter.
//
// [Validate] checks a configuration at Create/Update time, [New] compiles it
// once per stream version and [Pipeline.Process] runs it over a batch of
// records. Processors always run in Firehose's canonical order, whatever the
// order of the list; docs/design/processing.md describes the order, each
// processor's semantics and the failure document.
//
// The package is a leaf: it imports no other package of this module. The
// Lambda client reaches it through the [Invoker] interface.
package processor

import (
	"context"
	"errors"
	"time"
)

// Record is one record flowing through the pipeline.
type Record struct {
	// Data is the record's payload. Output records may alias the input's
	// Data; the pipeline never writes into it.
	Data []byte
	// Arrival is the approximate arrival time of the record at Firehose.
	Arrival time.Time
	// ID identifies the record: unique within one Process call, it is the
	// Lambda recordId. Sub-records derive theirs as ID + "." + index.
	ID string
	// Query holds the partition keys produced by MetadataExtraction
	// (!{partitionKeyFromQuery:key}).
	Query map[string]string
	// Lambda holds the partition keys returned by the Lambda in
	// metadata.partitionKeys (!{partitionKeyFromLambda:key}).
	Lambda map[string]string
}

// Failure is a record that processing could not handle. It is written under
// the error prefix with [ErrorDocument].
type Failure struct {
	// Raw is the record as it entered the pipeline: its data before any
	// decompression or transformation (for de-aggregated sub-records, the
	// sub-record itself).
	Raw Record
	// Code is the errorCode, such as "Lambda.ProcessingFailedStatus".
	Code string
	// Message is the human-readable errorMessage.
	Message string
	// Attempts is the number of attempts made (Lambda invocations, else 1).
	Attempts int
	// LambdaARN is the function's ARN for failures of the Lambda stage.
	LambdaARN string
	// At is when the last attempt ended.
	At time.Time
	// OutputType is the !{firehose:error-output-type} value:
	// OutputProcessingFailed or OutputDecompressionFailed.
	OutputType string
	// Delivery, when set, makes the document a delivery failure's (an HTTP endpoint's): it
	// then carries subsequenceNumber and dataId.
	Delivery *DeliveryFailure
}

// DeliveryFailure is what the error document of a record a destination did not take adds.
type DeliveryFailure struct {
	// Subsequence is the de-aggregated sub-record's number (0 for a record as put).
	Subsequence uint64
	// DataID identifies the record (its journal record id).
	DataID string
}

// The error output types of processing failures.
const (
	// OutputProcessingFailed is the error output type of Lambda,
	// de-aggregation and metadata-extraction failures.
	OutputProcessingFailed = "processing-failed"
	// OutputDecompressionFailed is the error output type of records that
	// could not be decompressed or parsed as CloudWatch Logs data.
	OutputDecompressionFailed = "decompression-failed"
)

// Invoker calls a Lambda function synchronously (RequestResponse) with a JSON
// payload and returns the function's response payload. To name the failure
// recorded for the batch, return an *[InvokeError]; a function that ran and
// raised (X-Amz-Function-Error) is an *InvokeError with Code
// CodeLambdaFunctionError. Every error is retried NumberOfRetries times.
type Invoker interface {
	Invoke(ctx context.Context, functionARN string, payload []byte) ([]byte, error)
}

// InvokeError is an invocation failure with the errorCode and errorMessage
// the failed records should carry.
type InvokeError struct {
	// Code is the errorCode, e.g. "Lambda.InvokeLimitExceeded".
	Code string
	// Message is the errorMessage.
	Message string
	// Err is the underlying error, if any.
	Err error
}

// Error returns the code and message.
func (e *InvokeError) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the underlying error.
func (e *InvokeError) Unwrap() error { return e.Err }

// ErrDuplicateID reports two records with the same ID reaching the Lambda
// stage in one Process call.
var ErrDuplicateID = errors.New("processor: duplicate record id")

// Spec is one processor of a ProcessingConfiguration.
type Spec struct {
	// Type is the ProcessorType, e.g. "Lambda".
	Type string
	// Parameters maps ParameterName to ParameterValue.
	Parameters map[string]string
}

// Config configures a Pipeline.
type Config struct {
	// Processors is the ProcessingConfiguration's list (empty when
	// processing is disabled).
	Processors []Spec
	// DeliveryStreamARN and Region go into every Lambda invocation.
	DeliveryStreamARN, Region string
	// KinesisSource de-aggregates KPL records, as Firehose does for a
	// KinesisStreamAsSource stream.
	KinesisSource bool
	// Sleep waits between Lambda attempts; nil waits on a timer. It returns
	// ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// NewInvocationID returns the invocationId of a Lambda invocation; nil
	// uses random UUIDs.
	NewInvocationID func() string
}

// Pipeline is a compiled ProcessingConfiguration. It is safe for concurrent
// use.
type Pipeline struct {
	stages    []stage
	queryKeys []string
	lambda    *lambdaStage
	now       func() time.Time
}

// stage is one processor of the pipeline.
type stage interface {
	run(ctx context.Context, r *runState, in []item) ([]item, error)
}

// item is a record in flight with the raw record it came from.
type item struct {
	rec    Record
	raw    []byte // data as it entered the pipeline (after de-aggregation)
	rawID  string // ID of that raw record
	origin int    // index of the raw record, to fail it at most once
}

// runState is the per-Process state shared by the stages.
type runState struct {
	now     func() time.Time
	failed  []Failure
	origins map[int]bool
	next    int // next origin index
}

// fail records a failure for it, once per raw record.
func (r *runState) fail(it item, code, msg, outputType string, attempts int, arn string) {
	if r.origins[it.origin] {
		return
	}
	if r.origins == nil {
		r.origins = make(map[int]bool)
	}
	r.origins[it.origin] = true
	r.failed = append(r.failed, Failure{
		Raw:        Record{Data: it.raw, Arrival: it.rec.Arrival, ID: it.rawID},
		Code:       code,
		Message:    msg,
		Attempts:   attempts,
		LambdaARN:  arn,
		At:         r.now(),
		OutputType: outputType,
	})
}

// newOrigin gives a sub-record its own raw identity (de-aggregation).
func (r *runState) newOrigin() int {
	r.next++
	return r.next - 1
}

// New compiles cfg into a Pipeline. It validates cfg.Processors as
// [Validate] does. now is the clock for failure timestamps (nil: time.Now).
// inv may be nil when no Lambda processor is configured.
func New(cfg Config, inv Invoker, now func() time.Time) (*Pipeline, error) {
	if err := Validate(cfg.Processors); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	p := &Pipeline{now: now}
	byType := make(map[string]Spec, len(cfg.Processors))
	for _, s := range cfg.Processors {
		byType[s.Type] = s
	}
	if _, ok := byType[TypeRecordDeAggregation]; ok || cfg.KinesisSource {
		p.stages = append(p.stages, kplStage{})
	}
	if s, ok := byType[TypeDecompression]; ok {
		p.stages = append(p.stages, newDecompressionStage(s))
	}
	if s, ok := byType[TypeCloudWatchLogProcessing]; ok && s.Parameters[ParamDataMessageExtraction] == "true" {
		p.stages = append(p.stages, cwlStage{})
	}
	if s, ok := byType[TypeRecordDeAggregation]; ok {
		st, err := newDeaggregationStage(s)
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, st)
	}
	if s, ok := byType[TypeLambda]; ok {
		if inv == nil {
			return nil, errors.New("processor: Lambda processor configured without an invoker")
		}
		st, err := newLambdaStage(s, cfg, inv, now)
		if err != nil {
			return nil, err
		}
		p.lambda = st
		p.stages = append(p.stages, st)
	}
	if s, ok := byType[TypeMetadataExtraction]; ok {
		st, err := newMetadataStage(s)
		if err != nil {
			return nil, err
		}
		p.queryKeys = st.keys
		p.stages = append(p.stages, st)
	}
	if _, ok := byType[TypeAppendDelimiterToRecord]; ok {
		p.stages = append(p.stages, delimiterStage{})
	}
	return p, nil
}

// Process runs the pipeline over in. It returns the records to deliver, in
// input order with sub-records in place, and the records that failed. err is
// non-nil only when ctx ends (ctx.Err()) or the input is impossible
// (ErrDuplicateID); record problems are Failures. in is not modified.
func (p *Pipeline) Process(ctx context.Context, in []Record) (out []Record, failed []Failure, err error) {
	items := make([]item, len(in))
	for i, rec := range in {
		items[i] = item{rec: rec, raw: rec.Data, rawID: rec.ID, origin: i}
	}
	r := &runState{now: p.now, next: len(in)}
	for _, st := range p.stages {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		items, err = st.run(ctx, r, items)
		if err != nil {
			return nil, nil, err
		}
	}
	out = make([]Record, len(items))
	for i := range items {
		out[i] = items[i].rec
	}
	return out, r.failed, nil
}

// QueryKeys returns the keys the MetadataExtraction query produces when they
// are known statically (the query is an object literal), else nil.
func (p *Pipeline) QueryKeys() []string {
	return append([]string(nil), p.queryKeys...)
}

// LambdaBuffering returns the Lambda stage's buffering hints: the payload
// size limit in bytes and BufferIntervalInSeconds. ok is false without a
// Lambda processor. The caller honours them by accumulating records up to that
// size, or for up to that long, before calling Process (the delivery engine
// does).
func (p *Pipeline) LambdaBuffering() (sizeBytes int, interval time.Duration, ok bool) {
	if p.lambda == nil {
		return 0, 0, false
	}
	return p.lambda.limit, p.lambda.interval, true
}
