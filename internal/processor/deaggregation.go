package processor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNotJSONObjects reports a record that is not a sequence of JSON objects.
var ErrNotJSONObjects = errors.New("processor: record is not a sequence of JSON objects")

// deaggregationStage is RecordDeAggregation: JSON or DELIMITED.
type deaggregationStage struct {
	delimiter []byte // nil for JSON
}

func newDeaggregationStage(s Spec) (deaggregationStage, error) {
	if s.Parameters[ParamSubRecordType] != "DELIMITED" {
		return deaggregationStage{}, nil
	}
	d, err := base64.StdEncoding.DecodeString(s.Parameters[ParamDelimiter])
	if err != nil || len(d) == 0 {
		return deaggregationStage{}, &ConfigError{Index: -1, Type: s.Type, Parameter: ParamDelimiter,
			Message: "Delimiter must be the base64 encoding of a non-empty delimiter"}
	}
	return deaggregationStage{delimiter: d}, nil
}

func (s deaggregationStage) run(_ context.Context, r *runState, in []item) ([]item, error) {
	out := make([]item, 0, len(in))
	for _, it := range in {
		var subs [][]byte
		if s.delimiter != nil {
			subs = SplitDelimited(it.rec.Data, s.delimiter)
		} else {
			var err error
			subs, err = SplitJSON(it.rec.Data)
			if err != nil {
				r.fail(it, CodeDeaggregationInvalidJSON, err.Error(), OutputProcessingFailed, 1, "")
				continue
			}
		}
		if len(subs) > MaxSubRecords {
			out = append(out, it) // AWS passes such a record on undivided
			continue
		}
		out = appendSubRecords(out, r, it, subs)
	}
	return out, nil
}

// SplitJSON splits data, a sequence of JSON objects that are concatenated or
// separated by JSON whitespace, into the exact bytes of each object. An empty
// or whitespace-only data yields no objects. The error wraps
// ErrNotJSONObjects. The returned slices alias data.
func SplitJSON(data []byte) ([][]byte, error) {
	var out [][]byte
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotJSONObjects, err)
		}
		if raw[0] != '{' {
			return nil, fmt.Errorf("%w: sub-record %d is not an object", ErrNotJSONObjects, len(out))
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		out = append(out, data[start:end:end])
	}
}

// SplitDelimited splits data at every non-overlapping occurrence of
// delimiter, dropping empty pieces. The returned slices alias data.
func SplitDelimited(data, delimiter []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.Index(data, delimiter)
		if i < 0 {
			return append(out, data[:len(data):len(data)])
		}
		if i > 0 {
			out = append(out, data[:i:i])
		}
		data = data[i+len(delimiter):]
	}
	return out
}
