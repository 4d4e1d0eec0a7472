package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"

	"github.com/itchyny/gojq"
)

// QueryTimeout bounds the run time of the MetadataExtraction query on one
// record.
const QueryTimeout = time.Second

// metadataStage is MetadataExtraction: a JQ object query per record whose
// values become Record.Query.
type metadataStage struct {
	code *gojq.Code
	keys []string   // statically known keys, or nil
	fast *fastQuery // the query as a plain key selection, or nil
}

func newMetadataStage(s Spec) (*metadataStage, error) {
	cq, err := compileQuery(s.Parameters[ParamMetadataExtractionQuery])
	if err != nil {
		return nil, &ConfigError{Index: -1, Type: s.Type, Parameter: ParamMetadataExtractionQuery,
			Message: fmt.Sprintf("MetadataExtractionQuery is not a valid JQ expression: %v", err)}
	}
	return &metadataStage{code: cq.code, keys: cq.keys, fast: cq.fast}, nil
}

// compiledQuery is a compiled MetadataExtraction query.
type compiledQuery struct {
	code *gojq.Code
	keys []string   // the keys of a literal object query, else nil
	fast *fastQuery // the fast form of a plain key selection, else nil
}

// compileQuery parses and compiles a JQ query without access to the
// environment or to further inputs, and recognises the literal object
// queries whose keys are static and the plain key selections that take the
// fast path.
func compileQuery(src string) (compiledQuery, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return compiledQuery{}, err
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return compiledQuery{}, err
	}
	return compiledQuery{code: code, keys: staticKeys(q), fast: newFastQuery(q)}, nil
}

// staticKeys returns the keys of a query that is an object literal with
// constant keys, else nil.
func staticKeys(q *gojq.Query) []string {
	if q == nil || q.Term == nil || q.Term.Type != gojq.TermTypeObject || q.Left != nil || q.Right != nil ||
		len(q.Term.SuffixList) > 0 || q.Term.Object == nil {
		return nil
	}
	keys := make([]string, 0, len(q.Term.Object.KeyVals))
	for _, kv := range q.Term.Object.KeyVals {
		switch {
		case kv.Key != "" && kv.Key[0] != '$':
			keys = append(keys, kv.Key)
		case kv.KeyString != nil && kv.KeyString.Queries == nil:
			keys = append(keys, kv.KeyString.Str)
		default:
			return nil
		}
	}
	sort.Strings(keys)
	return keys
}

func (s *metadataStage) run(ctx context.Context, r *runState, in []item) ([]item, error) {
	var sc *fastScanner
	if s.fast != nil {
		sc = s.fast.scanner()
	}
	out := in[:0]
	for _, it := range in {
		keys, err := s.extract(ctx, sc, it.rec.Data)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.fail(it, CodeMetadataExtractionFailed, err.Error(), OutputProcessingFailed, 1, "")
			continue
		}
		it.rec.Query = keys
		out = append(out, it)
	}
	return out, nil
}

// extract runs the query on one record: on the fast path when the query
// has one (sc is not nil) and the record suits it, else with gojq. Both give
// the same keys and the same error.
func (s *metadataStage) extract(ctx context.Context, sc *fastScanner, data []byte) (map[string]string, error) {
	if sc != nil && ctx.Err() == nil {
		keys, err := sc.extract(data)
		if !errors.Is(err, errSlowPath) {
			return keys, err
		}
	}
	return s.extractJQ(ctx, data)
}

// extractJQ runs the query on one record with gojq.
func (s *metadataStage) extractJQ(ctx context.Context, data []byte) (map[string]string, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	res, ok := s.code.RunWithContext(ctx, v).Next()
	if !ok {
		return nil, errors.New("the query produced no result")
	}
	if err, ok := res.(error); ok {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the query did not finish within %s", QueryTimeout)
		}
		return nil, fmt.Errorf("the query failed: %v", err)
	}
	obj, ok := res.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the query result is not an object: %s", typeName(res))
	}
	if len(obj) > MaxPartitionKeys {
		return nil, fmt.Errorf("the query produced %d partition keys; at most %d are allowed", len(obj), MaxPartitionKeys)
	}
	keys := make(map[string]string, len(obj))
	var errKey string // the smallest key whose value is invalid
	var keyErr error
	for k, v := range obj {
		sv, err := keyString(v)
		if err != nil {
			if keyErr == nil || k < errKey {
				errKey, keyErr = k, err
			}
			continue
		}
		keys[k] = sv
	}
	if keyErr != nil {
		return nil, partitionKeyError(errKey, keyErr)
	}
	return keys, nil
}

// partitionKeyError reports an invalid value of partition key k. When
// several values are invalid, the error names the smallest key, so that it
// does not depend on map order.
func partitionKeyError(k string, err error) error {
	return fmt.Errorf("partition key %q: %v", k, err)
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the record is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the record holds more than one JSON value; use RecordDeAggregation")
	}
	return v, nil
}

// keyString renders a partition key value.
func keyString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case *big.Int:
		return v.String(), nil
	case float64:
		return formatFloat(v)
	case json.Number:
		return numberString(string(v))
	case nil:
		return "", errors.New("the value is null or missing")
	}
	return "", fmt.Errorf("the value is %s, not a string, number or boolean", typeName(v))
}

// numberString renders a JSON number literal: integers exactly, others as
// their nearest float64.
func numberString(n string) (string, error) {
	if _, err := strconv.ParseInt(n, 10, 64); err == nil {
		return n, nil
	}
	if bi, ok := new(big.Int).SetString(n, 10); ok {
		return bi.String(), nil
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return "", fmt.Errorf("invalid number %s", n)
	}
	return formatFloat(f)
}

// formatFloat renders a number without an exponent where that is exact and
// short (|f| < 1e21), else in exponent form.
func formatFloat(f float64) (string, error) {
	switch {
	case math.IsNaN(f):
		return "", errors.New("the value is NaN")
	case math.IsInf(f, 0) || math.Abs(f) >= 1e21:
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// typeName names a JQ value's type.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}
