package processor

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The ProcessorType values, with the exact wire spelling.
const (
	TypeRecordDeAggregation     = "RecordDeAggregation"
	TypeDecompression           = "Decompression"
	TypeCloudWatchLogProcessing = "CloudWatchLogProcessing"
	TypeLambda                  = "Lambda"
	TypeMetadataExtraction      = "MetadataExtraction"
	TypeAppendDelimiterToRecord = "AppendDelimiterToRecord"
)

// The ProcessorParameterName values, with the exact wire spelling.
const (
	ParamLambdaArn               = "LambdaArn"
	ParamNumberOfRetries         = "NumberOfRetries"
	ParamMetadataExtractionQuery = "MetadataExtractionQuery"
	ParamJSONParsingEngine       = "JsonParsingEngine"
	ParamRoleArn                 = "RoleArn"
	ParamBufferSizeInMBs         = "BufferSizeInMBs"
	ParamBufferIntervalInSeconds = "BufferIntervalInSeconds"
	ParamSubRecordType           = "SubRecordType"
	ParamDelimiter               = "Delimiter"
	ParamCompressionFormat       = "CompressionFormat"
	ParamDataMessageExtraction   = "DataMessageExtraction"
)

// Bounds of the processor parameters.
const (
	MaxNumberOfRetries         = 300
	MinBufferSizeInMBs         = 0.2
	MaxBufferSizeInMBs         = 3.0
	MaxBufferIntervalInSeconds = 900
	// MaxPartitionKeys is the number of keys a MetadataExtraction query
	// may produce.
	MaxPartitionKeys = 50
	// MaxSubRecords is the number of sub-records RecordDeAggregation splits
	// a record into; a record with more passes undivided.
	MaxSubRecords = 500
)

// ErrInvalidConfig is the identity of every *ConfigError.
var ErrInvalidConfig = errors.New("processor: invalid processing configuration")

// ConfigError is a ProcessingConfiguration that Firehose refuses; Message is
// the text of the InvalidArgumentException.
type ConfigError struct {
	// Index is the 0-based position of the processor in the list, or -1.
	Index int
	// Type is the processor's type, when known.
	Type string
	// Parameter is the parameter at fault, if any.
	Parameter string
	// Message is the user-facing text.
	Message string
}

// Error returns the message.
func (e *ConfigError) Error() string { return e.Message }

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// paramSpec describes one parameter of a processor type.
type paramSpec struct {
	required bool
	check    func(v string) string // returns "" when v is valid, else the bound
}

var typeParams = map[string]map[string]paramSpec{
	TypeRecordDeAggregation: {
		ParamSubRecordType: {required: true, check: oneOf("JSON", "DELIMITED")},
		ParamDelimiter:     {check: checkDelimiter},
	},
	TypeDecompression: {
		ParamCompressionFormat: {check: oneOf("GZIP")},
	},
	TypeCloudWatchLogProcessing: {
		ParamDataMessageExtraction: {required: true, check: oneOf("true", "false")},
	},
	TypeLambda: {
		ParamLambdaArn:               {required: true, check: nonBlank},
		ParamNumberOfRetries:         {check: intRange(0, MaxNumberOfRetries)},
		ParamRoleArn:                 {check: nonBlank},
		ParamBufferSizeInMBs:         {check: checkBufferSize},
		ParamBufferIntervalInSeconds: {check: intRange(0, MaxBufferIntervalInSeconds)},
	},
	TypeMetadataExtraction: {
		ParamMetadataExtractionQuery: {required: true, check: nonBlank},
		ParamJSONParsingEngine:       {check: oneOf("JQ-1.6")},
	},
	TypeAppendDelimiterToRecord: {},
}

// typeOrder lists the processor types for messages.
var typeOrder = []string{TypeRecordDeAggregation, TypeDecompression, TypeCloudWatchLogProcessing,
	TypeLambda, TypeMetadataExtraction, TypeAppendDelimiterToRecord}

func oneOf(vals ...string) func(string) string {
	return func(v string) string {
		for _, x := range vals {
			if v == x {
				return ""
			}
		}
		return "must be one of [" + strings.Join(vals, ", ") + "]"
	}
}

func nonBlank(v string) string {
	if strings.TrimSpace(v) == "" {
		return "must not be blank"
	}
	return ""
}

func intRange(lo, hi int) func(string) string {
	return func(v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Sprintf("must be an integer between %d and %d", lo, hi)
		}
		return ""
	}
}

func checkBufferSize(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < MinBufferSizeInMBs || f > MaxBufferSizeInMBs {
		return fmt.Sprintf("must be a number between %g and %g", MinBufferSizeInMBs, MaxBufferSizeInMBs)
	}
	return ""
}

func checkDelimiter(v string) string {
	d, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(d) == 0 {
		return "must be the base64 encoding of a non-empty delimiter"
	}
	return ""
}

// Validate checks the processors of a ProcessingConfiguration as Firehose
// does at CreateDeliveryStream and UpdateDestination: known types, each at
// most once; known, non-repeated parameters for the type; required
// parameters present; values within their bounds; a MetadataExtractionQuery
// that compiles. The error is a *ConfigError.
func Validate(specs []Spec) error {
	seen := make(map[string]bool, len(specs))
	for i, s := range specs {
		params, ok := typeParams[s.Type]
		if !ok {
			return &ConfigError{Index: i, Type: s.Type, Message: fmt.Sprintf(
				"Processor type %q is not supported; valid types are [%s]", s.Type, strings.Join(typeOrder, ", "))}
		}
		if seen[s.Type] {
			return &ConfigError{Index: i, Type: s.Type, Message: fmt.Sprintf(
				"Processor type %s is specified more than once", s.Type)}
		}
		seen[s.Type] = true
		for _, name := range slices.Sorted(maps.Keys(s.Parameters)) {
			v := s.Parameters[name]
			ps, ok := params[name]
			if !ok {
				return &ConfigError{Index: i, Type: s.Type, Parameter: name, Message: fmt.Sprintf(
					"Parameter %s is not supported for processor %s", name, s.Type)}
			}
			if bound := ps.check(v); bound != "" {
				return &ConfigError{Index: i, Type: s.Type, Parameter: name, Message: fmt.Sprintf(
					"%s %s for processor %s, got %q", name, bound, s.Type, v)}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(params)) {
			ps := params[name]
			if _, ok := s.Parameters[name]; ps.required && !ok {
				return &ConfigError{Index: i, Type: s.Type, Parameter: name, Message: fmt.Sprintf(
					"Parameter %s is required for processor %s", name, s.Type)}
			}
		}
		if err := validateCross(i, s); err != nil {
			return err
		}
	}
	if seen[TypeCloudWatchLogProcessing] && !seen[TypeDecompression] {
		return &ConfigError{Index: -1, Type: TypeCloudWatchLogProcessing, Message: "Processor CloudWatchLogProcessing requires processor Decompression"}
	}
	return nil
}

// validateCross checks rules that involve several parameters or compile the
// query.
func validateCross(i int, s Spec) error {
	switch s.Type {
	case TypeRecordDeAggregation:
		_, hasDelim := s.Parameters[ParamDelimiter]
		switch t := s.Parameters[ParamSubRecordType]; {
		case t == "DELIMITED" && !hasDelim:
			return &ConfigError{Index: i, Type: s.Type, Parameter: ParamDelimiter, Message: "Parameter Delimiter is required for processor RecordDeAggregation when SubRecordType is DELIMITED"}
		case t == "JSON" && hasDelim:
			return &ConfigError{Index: i, Type: s.Type, Parameter: ParamDelimiter, Message: "Parameter Delimiter is only supported for processor RecordDeAggregation when SubRecordType is DELIMITED"}
		}
	case TypeMetadataExtraction:
		cq, err := compileQuery(s.Parameters[ParamMetadataExtractionQuery])
		if err != nil {
			return &ConfigError{Index: i, Type: s.Type, Parameter: ParamMetadataExtractionQuery, Message: fmt.Sprintf(
				"MetadataExtractionQuery is not a valid JQ expression: %v", err)}
		}
		if len(cq.keys) > MaxPartitionKeys {
			return &ConfigError{Index: i, Type: s.Type, Parameter: ParamMetadataExtractionQuery, Message: fmt.Sprintf(
				"MetadataExtractionQuery defines %d partition keys; at most %d are allowed", len(cq.keys), MaxPartitionKeys)}
		}
	}
	return nil
}
