// Package producer is a client-side helper for Amazon Data Firehose (and Hydrant).
//
// It splits records into PutRecordBatch calls within the service limits (Chunks),
// retries transient failures with exponential back-off and full jitter, resends only
// the records that came back with an ErrorCode and returns those that still failed
// (PutRecord, PutRecordBatch), and offers an asynchronous Producer that batches by
// count, bytes and linger time with a bounded number of calls in flight and
// back-pressure on a bounded queue.
//
// It uses only the AWS SDK client, through the two-method Client interface, so it
// works unchanged against AWS and against Hydrant. When the client is a
// *firehose.Client, the SDK's own retryer is switched off for the calls made here
// (see Config.MaxTrials), so that MaxTrials counts every attempt.
package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

// Service limits of PutRecordBatch and PutRecord.
const (
	// MaxBatchRecords is the most records one PutRecordBatch call may carry.
	MaxBatchRecords = 500
	// MaxBatchBytes is the most decoded data bytes one PutRecordBatch call may carry.
	MaxBatchBytes = 4 << 20
	// MaxRecordBytes is the largest decoded record Firehose accepts (1,000 KiB).
	MaxRecordBytes = 1_024_000
)

// Error codes this package puts in FailedRecord.ErrorCode besides the service's own.
const (
	// ErrorCodeRecordTooLarge marks a record larger than MaxRecordBytes; it was never sent.
	ErrorCodeRecordTooLarge = "RecordTooLarge"
	// ErrorCodeCanceled marks a record not acknowledged when the context ended (it may or
	// may not have been delivered if a call was in flight).
	ErrorCodeCanceled = "Canceled"
	// ErrorCodeTransport marks a record whose last attempt failed without an API error:
	// connection refused or reset, timeout, or a malformed response (not retried).
	ErrorCodeTransport = "TransportError"
)

// Defaults of Config and ProducerConfig.
const (
	// DefaultMaxTrials is Config.MaxTrials's default, the Beam connector's max_trials.
	DefaultMaxTrials = 3
	// DefaultBaseDelay is Config.BaseDelay's default.
	DefaultBaseDelay = 100 * time.Millisecond
	// DefaultMaxDelay is Config.MaxDelay's default.
	DefaultMaxDelay = 5 * time.Second
	// DefaultMaxElapsed is Config.MaxElapsed's default.
	DefaultMaxElapsed = 2 * time.Minute
	// DefaultLinger is ProducerConfig.Linger's default.
	DefaultLinger = 200 * time.Millisecond
	// DefaultMaxInFlight is ProducerConfig.MaxInFlight's default.
	DefaultMaxInFlight = 4
	// DefaultQueueRecords is ProducerConfig.QueueRecords's default.
	DefaultQueueRecords = 10000
)

// Sentinel errors.
var (
	// ErrClosed is returned by Producer.Add after Close.
	ErrClosed = errors.New("producer closed")
	// ErrRecordTooLarge is returned by PutRecord and Producer.Add for a record larger
	// than MaxRecordBytes.
	ErrRecordTooLarge = errors.New("record larger than 1,024,000 bytes")
	// ErrInvalidConfig wraps the errors of Config.Validate and ProducerConfig.Validate,
	// and an empty stream name or nil client.
	ErrInvalidConfig = errors.New("invalid producer config")
)

// Client is the part of *firehose.Client the producer uses.
type Client interface {
	// PutRecord is (*firehose.Client).PutRecord.
	PutRecord(ctx context.Context, in *firehose.PutRecordInput, optFns ...func(*firehose.Options)) (*firehose.PutRecordOutput, error)
	// PutRecordBatch is (*firehose.Client).PutRecordBatch.
	PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, optFns ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error)
}

var _ Client = (*firehose.Client)(nil)

// Clock is the time source for back-off; tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx.Err() in the latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// Config controls retries of PutRecord and PutRecordBatch. The zero value is usable:
// zero fields take their defaults.
type Config struct {
	// MaxTrials is the number of attempts per record including the first
	// (default 3, like the Beam connector's max_trials).
	MaxTrials int
	// BaseDelay and MaxDelay shape the exponential back-off with full jitter: before
	// retry n (n = 0 for the first retry) the caller sleeps a uniform random duration
	// in [0, min(MaxDelay, BaseDelay·2^n)] (defaults 100ms and 5s).
	BaseDelay, MaxDelay time.Duration
	// MaxElapsed bounds the time spent in one call, retries included (default 2m): no
	// back-off starts that would end later than MaxElapsed after the call began.
	MaxElapsed time.Duration
	// Logger receives one record per outcome; nil discards.
	Logger *slog.Logger
	// Clock is the time source of back-off; nil means the real clock.
	Clock Clock
	// Rand returns a float in [0,1) for jitter; nil means math/rand/v2.
	Rand func() float64
}

// Validate reports a negative field or MaxDelay below BaseDelay.
func (c Config) Validate() error {
	switch {
	case c.MaxTrials < 0:
		return fmt.Errorf("%w: MaxTrials %d must not be negative", ErrInvalidConfig, c.MaxTrials)
	case c.BaseDelay < 0:
		return fmt.Errorf("%w: BaseDelay %v must not be negative", ErrInvalidConfig, c.BaseDelay)
	case c.MaxDelay < 0:
		return fmt.Errorf("%w: MaxDelay %v must not be negative", ErrInvalidConfig, c.MaxDelay)
	case c.MaxElapsed < 0:
		return fmt.Errorf("%w: MaxElapsed %v must not be negative", ErrInvalidConfig, c.MaxElapsed)
	}
	d := c.withDefaults()
	if d.MaxDelay < d.BaseDelay {
		return fmt.Errorf("%w: MaxDelay %v must be at least BaseDelay %v", ErrInvalidConfig, d.MaxDelay, d.BaseDelay)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxTrials <= 0 {
		c.MaxTrials = DefaultMaxTrials
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = DefaultBaseDelay
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.MaxElapsed <= 0 {
		c.MaxElapsed = DefaultMaxElapsed
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// FailedRecord is a record that was not delivered.
type FailedRecord struct {
	// Index is the record's position in the records passed to PutRecordBatch
	// (for the Producer: its sequence number in Add order, from 0).
	Index int
	// Data is the record as given.
	Data []byte
	// ErrorCode and ErrorMessage are the last error seen for the record: the
	// per-record ErrorCode of PutRecordBatch, the API error code of a failed call,
	// or one of this package's ErrorCode constants.
	ErrorCode, ErrorMessage string
	// Attempts is how many times the record was sent (0 if never).
	Attempts int
}

// Result is the outcome of PutRecordBatch.
type Result struct {
	// Sent is the number of records acknowledged.
	Sent int
	// Retried is the number of record re-sends (a record sent three times counts 2).
	Retried int
	// Failed lists the records that were not delivered, in Index order.
	Failed []FailedRecord
}

// ProducerConfig configures a Producer. Zero fields take their defaults; a config that
// fails Validate makes every Producer.Add fail.
type ProducerConfig struct {
	Config
	// BatchRecords is the most records per call (default and maximum MaxBatchRecords).
	BatchRecords int
	// BatchBytes is the most record bytes per call (default and maximum MaxBatchBytes).
	BatchBytes int
	// Linger is how long a partial batch waits for more records (default 200ms; real time).
	Linger time.Duration
	// MaxInFlight is the number of concurrent PutRecordBatch calls (default 4).
	MaxInFlight int
	// QueueRecords bounds the records added and not yet sent or failed; Add blocks
	// beyond it (default 10000).
	QueueRecords int
	// OnFailure is called, from a sender goroutine, for each record that was not
	// delivered. It must be safe for concurrent use and must not call the Producer's
	// Flush or Close. Nil ignores failures (they are still counted and logged).
	OnFailure func(FailedRecord)
}

// Validate reports fields out of their bounds.
func (c ProducerConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.BatchRecords < 0 || c.BatchRecords > MaxBatchRecords:
		return fmt.Errorf("%w: BatchRecords %d must be between 0 and %d", ErrInvalidConfig, c.BatchRecords, MaxBatchRecords)
	case c.BatchBytes < 0 || c.BatchBytes > MaxBatchBytes:
		return fmt.Errorf("%w: BatchBytes %d must be between 0 and %d", ErrInvalidConfig, c.BatchBytes, MaxBatchBytes)
	case c.Linger < 0:
		return fmt.Errorf("%w: Linger %v must not be negative", ErrInvalidConfig, c.Linger)
	case c.MaxInFlight < 0:
		return fmt.Errorf("%w: MaxInFlight %d must not be negative", ErrInvalidConfig, c.MaxInFlight)
	case c.QueueRecords < 0:
		return fmt.Errorf("%w: QueueRecords %d must not be negative", ErrInvalidConfig, c.QueueRecords)
	}
	return nil
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	c.Config = c.Config.withDefaults()
	if c.BatchRecords <= 0 || c.BatchRecords > MaxBatchRecords {
		c.BatchRecords = MaxBatchRecords
	}
	if c.BatchBytes <= 0 || c.BatchBytes > MaxBatchBytes {
		c.BatchBytes = MaxBatchBytes
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.QueueRecords <= 0 {
		c.QueueRecords = DefaultQueueRecords
	}
	return c
}

// noSDKRetries switches off the SDK's retryer for one call, so that MaxTrials counts
// every attempt; it is ignored by clients that are not *firehose.Client.
func noSDKRetries(o *firehose.Options) { o.Retryer = aws.NopRetryer{} }
