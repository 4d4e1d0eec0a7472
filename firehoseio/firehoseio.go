// Package firehoseio is an Apache Beam Go sink for Amazon Data Firehose and Hydrant.
//
// Write sends batches of records to a delivery stream with PutRecordBatch, through
// github.com/hydrant-dev/hydrant/pkg/producer: each batch is split into calls within the
// service limits (500 records, 4 MiB), and only the entries that came back with an
// ErrorCode are resent, up to MaxTrials attempts per record. The records that still
// failed are Write's output, each as a KV of the original record (typed as in the input)
// and its FailedRecord, so that the pipeline decides what to do with them — the
// semantics of the Python connector firehose_pyio's WriteToFirehose (jsonify,
// multiline, max_trials), whose output is the failed records.
//
// Elements of the input are batches, not records: a slice of records ([]string,
// [][]byte, []T), a KV whose value is such a slice (the output of
// batch.GroupIntoBatches in the Beam SDK; the key is ignored), or a grouped
// PCollection<KV<K, V>> straight out of beam.GroupByKey (the values of a key are one
// batch). Batch turns a PCollection of single records into batches.
//
// Jsonify encodes records as Python's json.dumps does (", " and ": " separators,
// non-ASCII escaped, Python's float repr), byte for byte what the Python connector
// sends; CompactJSON selects encoding/json's compact form instead.
//
// The transform holds only serializable settings (stream name, options, endpoint,
// region, and the Profile or Credentials options when given); each worker builds its
// Firehose client in the DoFn's Setup with the AWS SDK's default configuration chain
// (environment, shared config files, web identity, container and instance roles)
// unless those options say otherwise, and checks there that the stream exists and is
// ACTIVE, failing the pipeline with an error naming it (CheckStream(false) skips this).
//
// Delivery is at least once: a bundle that fails after some records were acknowledged
// is retried by the runner, and its acknowledged records are sent again.
package firehoseio

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// DefaultMaxTrials is the number of attempts per record when MaxTrials is not given,
// as in the Python connector.
const DefaultMaxTrials = 3

// ErrUnsupportedElement is returned by TryWrite (and panicked with by Write) when the
// input's element type is not a batch of records, or its records are of a type that
// cannot be sent without Jsonify.
var ErrUnsupportedElement = errors.New("unsupported element type")

// ErrInvalidOption is returned by TryWrite and TryBatch for an argument out of its bounds.
var ErrInvalidOption = errors.New("invalid option")

// ErrStreamNotFound and ErrStreamNotActive fail the pipeline, when the workers set up,
// for a delivery stream that does not exist or is not ACTIVE (see CheckStream).
var (
	ErrStreamNotFound  = errors.New("delivery stream not found")
	ErrStreamNotActive = errors.New("delivery stream not active")
)

// FailedRecord says why a record was not delivered: after MaxTrials attempts, or
// never sent when it is larger than Firehose's 1,000 KiB record limit. Write's output
// is PCollection<KV<R, FailedRecord>>, R being the record as it was in the input.
type FailedRecord struct {
	// Data is the record as it was sent: after Jsonify's JSON encoding and Multiline's
	// "\n". Without those options it is the record's bytes unchanged.
	Data []byte
	// ErrorCode and ErrorMessage are the last error Firehose returned for the record,
	// for example ServiceUnavailableException, or one of pkg/producer's ErrorCode
	// constants (RecordTooLarge, TransportError).
	ErrorCode    string
	ErrorMessage string
	// Attempts is how many times the record was sent (0 if never).
	Attempts int
}

// String returns the record's data followed by its error code, for logs and tests.
func (f FailedRecord) String() string {
	return fmt.Sprintf("%q: %s (%d attempts)", f.Data, f.ErrorCode, f.Attempts)
}

// Option configures Write.
type Option func(*settings)

// settings are the options of one Write.
type settings struct {
	jsonify, multiline, compact bool
	checkStream                 bool
	maxTrials                   int
	endpoint, region, profile   string
	creds                       staticCredentials
	logLevel                    slog.Level
}

// Jsonify makes Write JSON-encode every record that is not a []byte, strings
// included ("one" is sent as `"one"`, 1 as `1`, a struct as an object), as json.dumps
// in the Python connector, with the same bytes: separators ", " and ": ", characters
// outside ASCII escaped as \uXXXX, floats as Python's repr (1.0, 1e+16, NaN), struct
// fields in declaration order (encoding/json's tags apply), map keys sorted.
// []byte records are sent unchanged. Without it records must be []byte or string (or
// types whose kind is one of these); other record types are rejected when the
// pipeline is built.
func Jsonify(on bool) Option { return func(s *settings) { s.jsonify = on } }

// CompactJSON makes Jsonify use encoding/json's compact form ({"id":1,"name":"é"}:
// no spaces, UTF-8 unescaped, Go's number format) instead of Python's json.dumps form.
func CompactJSON(on bool) Option { return func(s *settings) { s.compact = on } }

// CheckStream turns the check of the stream off (false) or on (true, the default):
// when each worker sets up, Write calls DescribeDeliveryStream and fails the pipeline
// with ErrStreamNotFound or ErrStreamNotActive, naming the stream, unless it exists
// and is ACTIVE, as the Python connector does. Turn it off for credentials that may
// put records but not describe the stream (firehose:DescribeDeliveryStream).
func CheckStream(on bool) Option { return func(s *settings) { s.checkStream = on } }

// Credentials makes the workers sign with these static keys (the session token may be
// empty) instead of the AWS default chain, like the Python connector's
// aws_access_key_id, aws_secret_access_key and aws_session_token options. The keys
// travel inside the pipeline with the other settings, to every worker; they are
// printed and logged as "[redacted]" only. Prefer the default chain or Profile where the
// workers have credentials of their own.
func Credentials(accessKeyID, secretAccessKey, sessionToken string) Option {
	return func(s *settings) {
		s.creds = staticCredentials{AccessKeyID: secret(accessKeyID), SecretAccessKey: secret(secretAccessKey), SessionToken: secret(sessionToken)}
	}
}

// Profile makes the workers use this profile of their shared AWS config and
// credentials files (AWS_PROFILE's role), rather than the default one.
func Profile(name string) Option { return func(s *settings) { s.profile = name } }

// Multiline makes Write append "\n" to every record (after Jsonify), so that the
// delivered objects are JSON Lines or CSV.
func Multiline(on bool) Option { return func(s *settings) { s.multiline = on } }

// MaxTrials sets the number of attempts per record including the first (default
// DefaultMaxTrials). It must be at least 1.
func MaxTrials(n int) Option { return func(s *settings) { s.maxTrials = n } }

// Endpoint sets the Firehose endpoint URL, such as http://127.0.0.1:4573 for a local
// Hydrant. Empty (the default) leaves it to the AWS SDK: the region's endpoint, or
// AWS_ENDPOINT_URL_FIREHOSE / AWS_ENDPOINT_URL on the worker.
func Endpoint(url string) Option { return func(s *settings) { s.endpoint = url } }

// Region sets the AWS region. Empty (the default) leaves it to the AWS SDK's default
// chain on the worker (AWS_REGION, the shared config file); Setup fails when neither
// gives one.
func Region(r string) Option { return func(s *settings) { s.region = r } }

// LogLevel sets the lowest level of the per-call log records that Write sends to
// slog.Default() on the workers (default slog.LevelWarn: retries and failures only;
// slog.LevelInfo adds one record per PutRecordBatch call).
func LogLevel(l slog.Level) Option { return func(s *settings) { s.logLevel = l } }

// Write sends the batches of col to the delivery stream streamName and returns the
// records that could not be delivered, a PCollection<KV<R, FailedRecord>> where R is the
// type of the input's records (empty when every record arrived): beam.DropValue gives
// the records to process again, beam.DropKey the reasons. It panics when the pipeline is built if col's element type is not a
// batch (see the package documentation) or an option is out of bounds; TryWrite
// returns that error instead.
func Write(s beam.Scope, streamName string, col beam.PCollection, opts ...Option) beam.PCollection {
	return beam.Must(TryWrite(s, streamName, col, opts...))
}

// TryWrite is Write that returns an error wrapping ErrUnsupportedElement or
// ErrInvalidOption instead of panicking.
func TryWrite(s beam.Scope, streamName string, col beam.PCollection, opts ...Option) (beam.PCollection, error) {
	s = s.Scope("firehoseio.Write")
	set := settings{maxTrials: DefaultMaxTrials, logLevel: slog.LevelWarn, checkStream: true}
	for _, o := range opts {
		o(&set)
	}
	if streamName == "" {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write: %w: empty stream name", ErrInvalidOption)
	}
	if set.maxTrials < 1 {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write: %w: MaxTrials %d must be at least 1", ErrInvalidOption, set.maxTrials)
	}
	if err := set.creds.validate(); err != nil {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write to %s: %w", streamName, err)
	}
	if set.creds.set() && set.profile != "" {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write to %s: %w: give Credentials or Profile, not both", streamName, ErrInvalidOption)
	}
	sh, err := inspect(col.Type(), set.jsonify)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write to %s: %w", streamName, err)
	}
	w := writer{
		Stream:      streamName,
		Jsonify:     set.jsonify,
		Multiline:   set.multiline,
		CompactJSON: set.compact,
		CheckStream: set.checkStream,
		MaxTrials:   set.maxTrials,
		Endpoint:    set.endpoint,
		Region:      set.region,
		LogLevel:    int(set.logLevel),
		Profile:     set.profile,
		Credentials: set.creds,
	}
	var fn any
	switch sh {
	case shapeSlice:
		fn = &writeSliceFn{W: w}
	case shapeKV:
		fn = &writeKVFn{W: w}
	case shapeGrouped:
		fn = &writeGroupedFn{W: w}
	}
	outs, err := beam.TryParDo(s, fn, col)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Write to %s: %w", streamName, err)
	}
	return outs[0], nil
}

func init() {
	beam.RegisterType(reflect.TypeOf((*FailedRecord)(nil)).Elem())
}
