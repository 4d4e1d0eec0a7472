package prefix

// Fields named in messages.
const (
	FieldPrefix            = "Prefix"
	FieldErrorOutputPrefix = "ErrorOutputPrefix"
)

// constraint is the envelope real AWS puts around a violated prefix rule,
// typo included ("Ths").
const constraint = "Ths supplied prefix(es) do not satisfy the following constraint: "

// The exact user-facing messages of the validation rules. See
// docs/design/prefix.md for which are AWS's own texts.
const (
	MsgErrorOutputTypeInPrefix = constraint +
		"Prefix cannot contain !{firehose:error-output-type}"
	MsgPartitionKeyWithoutDynamicPartitioning = "Dynamic Partitioning Namespaces can only be part of a prefix " +
		"expression when Dynamic Partitioning is enabled."
	MsgPartitionKeyRequired = "S3 Prefix should contain Dynamic Partitioning namespaces " +
		"when Dynamic Partitioning is enabled"
	MsgErrorOutputPrefixRequired = constraint +
		"ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"
	MsgPartitionKeyInErrorOutputPrefix = constraint +
		"You cannot use partitionKeyFromLambda and partitionKeyFromQuery namespaces when creating ErrorOutputPrefix expressions"
	MsgErrorOutputTypeRequired = constraint +
		"ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions"
)

// Prefixes are the prefix settings of one S3 destination (ExtendedS3, S3, or
// the S3 configuration of another destination).
type Prefixes struct {
	Prefix              string
	ErrorOutputPrefix   string
	DynamicPartitioning bool
}

// ValidateS3 checks the prefixes of an S3 destination as Firehose does at
// CreateDeliveryStream and UpdateDestination. It returns nil or the first
// violated rule as an *Error whose Message is the text to return in an
// InvalidArgumentException.
func ValidateS3(p Prefixes) error {
	data, err := Parse(p.Prefix)
	if err != nil {
		return invalid(FieldPrefix, err)
	}
	var errExpr *Expr
	if p.ErrorOutputPrefix != "" {
		if errExpr, err = Parse(p.ErrorOutputPrefix); err != nil {
			return invalid(FieldErrorOutputPrefix, err)
		}
	}
	switch {
	case data.HasErrorOutputType():
		return &Error{Kind: ErrErrorOutputTypeInPrefix, Field: FieldPrefix, Message: MsgErrorOutputTypeInPrefix}
	case data.HasPartitionKeys() && !p.DynamicPartitioning:
		return &Error{Kind: ErrPartitionKeyWithoutDynamicPartitioning, Field: FieldPrefix,
			Message: MsgPartitionKeyWithoutDynamicPartitioning}
	case p.DynamicPartitioning && !data.HasPartitionKeys():
		return &Error{Kind: ErrPartitionKeyRequired, Field: FieldPrefix, Message: MsgPartitionKeyRequired}
	case data.HasExpressions() && errExpr == nil:
		return &Error{Kind: ErrErrorOutputPrefixRequired, Field: FieldErrorOutputPrefix,
			Message: MsgErrorOutputPrefixRequired}
	case errExpr == nil:
		return nil
	case errExpr.HasPartitionKeys():
		return &Error{Kind: ErrPartitionKeyInErrorOutputPrefix, Field: FieldErrorOutputPrefix,
			Message: MsgPartitionKeyInErrorOutputPrefix}
	case errExpr.HasExpressions() && !errExpr.HasErrorOutputType():
		return &Error{Kind: ErrErrorOutputTypeRequired, Field: FieldErrorOutputPrefix,
			Message: MsgErrorOutputTypeRequired}
	}
	return nil
}

// invalid turns a parse error into a validation error naming the field.
func invalid(field string, err error) error {
	e := err.(*Error)
	return &Error{Kind: e.Kind, Field: field, Message: "Invalid " + field + ": " + e.Message}
}
