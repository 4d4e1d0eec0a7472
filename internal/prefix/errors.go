package prefix

import "errors"

// Sentinel errors give each failure an identity to branch on with errors.Is.
// The errors this package returns are *Error values that wrap one of them.
var (
	// ErrSyntax reports a malformed prefix: an unterminated or malformed
	// expression, an unknown namespace or value, or an empty key.
	ErrSyntax = errors.New("prefix: invalid expression")
	// ErrPattern reports an invalid timestamp pattern.
	ErrPattern = errors.New("prefix: invalid timestamp pattern")
	// ErrErrorOutputTypeInPrefix reports !{firehose:error-output-type} in Prefix.
	ErrErrorOutputTypeInPrefix = errors.New("prefix: error-output-type in Prefix")
	// ErrPartitionKeyWithoutDynamicPartitioning reports a partitionKeyFrom*
	// expression in Prefix while dynamic partitioning is disabled.
	ErrPartitionKeyWithoutDynamicPartitioning = errors.New("prefix: partition key without dynamic partitioning")
	// ErrPartitionKeyRequired reports a Prefix without a partitionKeyFrom*
	// expression while dynamic partitioning is enabled.
	ErrPartitionKeyRequired = errors.New("prefix: dynamic partitioning needs a partition key in Prefix")
	// ErrErrorOutputPrefixRequired reports an empty ErrorOutputPrefix next to a
	// Prefix that contains expressions.
	ErrErrorOutputPrefixRequired = errors.New("prefix: ErrorOutputPrefix required")
	// ErrPartitionKeyInErrorOutputPrefix reports a partitionKeyFrom* expression
	// in ErrorOutputPrefix.
	ErrPartitionKeyInErrorOutputPrefix = errors.New("prefix: partition key in ErrorOutputPrefix")
	// ErrErrorOutputTypeRequired reports an ErrorOutputPrefix with expressions
	// but without !{firehose:error-output-type}.
	ErrErrorOutputTypeRequired = errors.New("prefix: ErrorOutputPrefix needs error-output-type")

	// ErrMissingPartitionKey reports, at evaluation, a partition key that the
	// record's Query or Lambda values do not hold.
	ErrMissingPartitionKey = errors.New("prefix: missing partition key")
	// ErrMissingErrorOutputType reports, at evaluation, an empty error output
	// type for a prefix that uses !{firehose:error-output-type}.
	ErrMissingErrorOutputType = errors.New("prefix: missing error output type")
	// ErrTooLong reports an evaluated prefix longer than MaxLen characters.
	ErrTooLong = errors.New("prefix: evaluated prefix too long")

	// ErrUnknownTimeZone reports a CustomTimeZone that names no known zone.
	ErrUnknownTimeZone = errors.New("prefix: unknown time zone")
)

// Error is a prefix failure with an identity and a user-facing message.
type Error struct {
	// Kind is one of the Err* sentinels; errors.Is matches it.
	Kind error
	// Field names the configuration member at fault, "Prefix" or
	// "ErrorOutputPrefix", when known.
	Field string
	// Message is the exact text to show the user; for validation failures it
	// is the message of the InvalidArgumentException AWS returns.
	Message string
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }
