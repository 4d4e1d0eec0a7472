package prefix

// DefaultTimestamp is the expression Firehose appends to a prefix without a
// timestamp: the yyyy/MM/dd/HH/ hierarchy, in the stream's time zone.
const DefaultTimestamp = "!{timestamp:yyyy/MM/dd/HH/}"

// errorDefault follows the prefix of failed data when no ErrorOutputPrefix
// with expressions says otherwise.
const errorDefault = "!{firehose:error-output-type}/" + DefaultTimestamp

// DataPrefix parses the Prefix of an S3 destination into the prefix that
// delivered objects actually get. A Prefix with neither a timestamp nor a
// partitionKeyFrom* expression gets DefaultTimestamp appended by plain
// concatenation, with no "/" inserted: "legacy" becomes
// "legacy2026/07/13/14/" and "" becomes "2026/07/13/14/". A dynamic
// partitioning prefix is used as written.
func DataPrefix(prefix string) (*Expr, error) {
	e, err := Parse(prefix)
	if err != nil {
		return nil, err
	}
	if e.HasTimestamp() || e.HasPartitionKeys() {
		return e, nil
	}
	return Parse(prefix + DefaultTimestamp)
}

// ErrorPrefix returns the prefix of failed data for an S3 destination's
// Prefix and ErrorOutputPrefix:
//
//   - an ErrorOutputPrefix with expressions is used as written;
//   - an ErrorOutputPrefix without expressions gets
//     "<error-output-type>/yyyy/MM/dd/HH/" appended;
//   - an empty ErrorOutputPrefix means Prefix (which then has no expressions)
//     followed by "<error-output-type>/yyyy/MM/dd/HH/".
//
// Concatenation is plain, as for DataPrefix. A Prefix with expressions and no
// ErrorOutputPrefix is an ErrErrorOutputPrefixRequired error.
func ErrorPrefix(prefix, errorOutputPrefix string) (*Expr, error) {
	if errorOutputPrefix != "" {
		e, err := Parse(errorOutputPrefix)
		if err != nil || e.HasExpressions() {
			return e, err
		}
		return Parse(errorOutputPrefix + errorDefault)
	}
	e, err := Parse(prefix)
	if err != nil {
		return nil, err
	}
	if e.HasExpressions() {
		return nil, &Error{Kind: ErrErrorOutputPrefixRequired, Field: FieldErrorOutputPrefix,
			Message: MsgErrorOutputPrefixRequired}
	}
	return Parse(prefix + errorDefault)
}
