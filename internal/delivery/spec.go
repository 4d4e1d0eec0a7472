// Package delivery turns each delivery stream's journal into objects: one actor per stream
// reads the journal from its cursor, runs the stream's processors in a shared bounded stage,
// batches records per leg and partition, and writes objects through a bounded writer pool,
// saving an intent before each write so that after a crash every acknowledged record is in
// exactly one object. Failures are classified: permanent ones send records to the error
// output, transient ones are retried while the journal keeps the data.
// docs/design/delivery.md describes the design.
package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// Log is the part of the journal a worker reads.
type Log interface {
	Read(ctx context.Context, stream string, from uint64) (*journal.Reader, error)
	ReadRange(ctx context.Context, stream string, from, to uint64) (*journal.Reader, error)
	Stats(ctx context.Context, stream string) (journal.Stats, error)
	// AfterAppend calls fn (which must not block) at the next append of stream; cancel stops it.
	AfterAppend(stream string, fn func()) (cancel func())
}

// StateStore keeps a stream's delivery progress and flush intents durably.
type StateStore interface {
	LoadState(ctx context.Context, stream string) (journal.State, error)
	SaveState(ctx context.Context, stream string, st journal.State) (journal.State, error)
	Trim(ctx context.Context, stream string, below uint64) error
	SaveIntent(ctx context.Context, stream string, slot int, data []byte) error
	Intents(ctx context.Context, stream string) (map[int][]byte, error)
}

// ObjectWriter stores a delivered object whole, and says whether an object exists (after a
// crash, to learn whether an intended write happened).
type ObjectWriter interface {
	PutObject(ctx context.Context, o destination.Object) error
	Exists(ctx context.Context, bucket, key string) (bool, error)
}

// Sender delivers a batch of records to an HTTP endpoint under its request id, the same on
// every attempt of the batch. Its errors are classified by destination.IsPermanent and carry
// their error code (ErrorCode).
type Sender interface {
	Send(ctx context.Context, requestID string, records [][]byte) error
}

// Processor transforms the records of one journal message; records that fail are returned
// for the error output.
type Processor interface {
	Process(ctx context.Context, in []processor.Record) (out []processor.Record, failed []processor.Failure, err error)
}

// Leg names.
const (
	LegDestination = "destination"
	LegBackup      = "backup"
)

// codePartitionLimit is the error code of records refused by the active-partition limit
// (error output type processing-failed).
const codePartitionLimit = "DynamicPartitioning.ActivePartitionsLimitExceeded"

// Spec is what a worker needs to know of its stream's delivery.
type Spec struct {
	Stream  string
	Version int
	// Created is when the stream was created; a spec of a stream removed after it was
	// created is refused (ErrRemoved).
	Created time.Time
	// Legs are the S3 destination and, with S3BackupMode Enabled, the backup of the source
	// records. Each has its own buffers, hints and progress.
	Legs []LegSpec
}

// LegSpec is one object-writing leg of a stream.
type LegSpec struct {
	Name        string // LegDestination or LegBackup
	Bucket      string
	Prefix      *prefix.Expr
	Location    *time.Location
	Compression compress.Format
	Extension   string // the object name suffix: FileExtension, or the compression's default
	KMSKeyARN   string // SSE-KMS key, when the destination asks for one
	SizeBytes   int
	Interval    time.Duration
	// Processor transforms records before they are buffered; nil delivers them as read.
	Processor Processor
	// ErrorPrefix is where records that fail processing or partitioning go.
	ErrorPrefix *prefix.Expr
	// HasLambda says whether Processor invokes a Lambda (for the ExecuteProcessing metrics).
	HasLambda bool
	// Dynamic partitioning: one buffer per distinct evaluated Prefix, at most MaxPartitions
	// at a time; records beyond go to the error output.
	Dynamic       bool
	MaxPartitions int
	// Endpoint, when set, makes the leg deliver to an HTTP endpoint
	// (docs/design/http-endpoint.md): each sealed buffer is a batch sent with Endpoint under a
	// request id (its key), retried for RetryFor; Bucket, ErrorPrefix, Compression and
	// Extension then serve the error output only.
	Endpoint Sender
	// RetryFor is how long an endpoint leg retries a batch (RetryOptions.DurationInSeconds),
	// counting the waits between attempts.
	RetryFor time.Duration
	// MaxRecords bounds the records of one object or batch; 0 means 1,000,000 (10,000 for an
	// endpoint batch is the server's choice).
	MaxRecords int
	// MaxBufferedBytes bounds the bytes a leg holds in its open buffers; beyond it the largest
	// buffer is written early (hints are hints), so that many partitions cannot exhaust
	// memory. Zero means no bound.
	MaxBufferedBytes int
}

// progress is the actor's detail saved with the cursor: how far each leg has settled.
type progress struct {
	V       int               `json:"v,omitempty"`
	Settled map[string]uint64 `json:"settled"`
}

// ErrorCode returns the AWS error code carried by err ("NoSuchBucket", "AccessDenied", …), or a
// generic code for errors without one.
func ErrorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	if errors.Is(err, destination.ErrInvalidObject) {
		return "InvalidObject"
	}
	return "InternalError"
}
