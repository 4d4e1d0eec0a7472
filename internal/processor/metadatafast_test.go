package processor

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// metadataTestStage compiles a MetadataExtraction stage for query.
func metadataTestStage(t testing.TB, query string) *metadataStage {
	t.Helper()
	s, err := newMetadataStage(Spec{Type: TypeMetadataExtraction, Parameters: map[string]string{ParamMetadataExtractionQuery: query}})
	if err != nil {
		t.Fatalf("newMetadataStage(%q): %v", query, err)
	}
	return s
}

// extractResult is the comparable outcome of one extraction.
type extractResult struct {
	Keys map[string]string
	Err  string
}

func result(keys map[string]string, err error) extractResult {
	r := extractResult{Keys: keys}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// checkSamePaths runs s over data on both paths and fails when they differ.
// It reports whether the fast path decided the record.
func checkSamePaths(t testing.TB, s *metadataStage, data []byte) (fast bool) {
	t.Helper()
	ctx := context.Background()
	jq := result(s.extractJQ(ctx, data))
	if s.fast != nil {
		keys, err := s.fast.scanner().extract(data)
		fast = !errors.Is(err, errSlowPath)
		if fast {
			if d := cmp.Diff(jq, result(keys, err)); d != "" {
				t.Fatalf("record %q: fast path differs from gojq (-gojq +fast):\n%s", data, d)
			}
		}
	}
	var sc *fastScanner
	if s.fast != nil {
		sc = s.fast.scanner()
	}
	if d := cmp.Diff(jq, result(s.extract(ctx, sc, data))); d != "" {
		t.Fatalf("record %q: extract differs from gojq (-gojq +extract):\n%s", data, d)
	}
	return fast
}

// fastPaths describes a fast query: each output key and the keys it looks
// up.
func fastPaths(f *fastQuery) map[string][]string {
	if f == nil {
		return nil
	}
	out := map[string][]string{}
	for _, o := range f.outs {
		var keys []string
		for _, n := range f.paths[o.path] {
			keys = append(keys, f.nodes[n].key)
		}
		out[o.name] = keys
	}
	return out
}

func TestFastQueryRecognition(t *testing.T) {
	tests := []struct {
		query string
		want  map[string][]string // nil: gojq only
	}{
		{`{customer_id: .customer_id}`, map[string][]string{"customer_id": {"customer_id"}}},
		{`{a: .a, d: .b.c}`, map[string][]string{"a": {"a"}, "d": {"b", "c"}}},
		{`{k: .a."x-y"}`, map[string][]string{"k": {"a", "x-y"}}},
		{`{k: .a["b"]}`, map[string][]string{"k": {"a", "b"}}},
		{`{k: .["x"]}`, map[string][]string{"k": {"x"}}},
		{`{k: ."quoted"}`, map[string][]string{"k": {"quoted"}}},
		{`{k: .a.["b"]."c"["d"].e}`, map[string][]string{"k": {"a", "b", "c", "d", "e"}}},
		{`{"a b": .x, "é": ."\u00e9"}`, map[string][]string{"a b": {"x"}, "é": {"é"}}},
		{`{a, "b c"}`, map[string][]string{"a": {"a"}, "b c": {"b c"}}},
		{`{if: .then}`, map[string][]string{"if": {"then"}}},
		{`{k: .""}`, map[string][]string{"k": {""}}},
		{`{a: .x, a: .y}`, map[string][]string{"a": {"y"}}},
		{`{x: .a, y: .a.b}`, map[string][]string{"x": {"a"}, "y": {"a", "b"}}},
		{`{}`, map[string][]string{}},
		{`{customer_id: .customer_id, region: .geo.region}`, map[string][]string{"customer_id": {"customer_id"}, "region": {"geo", "region"}}},

		{`{k: .}`, nil},
		{`{k: ..}`, nil},
		{`{k: .a?}`, nil},
		{`{k: .a.b?}`, nil},
		{`{k: .a[0]}`, nil},
		{`{k: .[0]}`, nil},
		{`{k: .a[]}`, nil},
		{`{k: .a[1:2]}`, nil},
		{`{k: .[.x]}`, nil},
		{`{k: .[("a")]}`, nil},
		{`{k: .["a"+"b"]}`, nil},
		{`{k: .[@base64 "a"]}`, nil},
		{`{k: ."\(.x)"}`, nil},
		{`{k: .a | .b}`, nil},
		{`{k: .a | tostring}`, nil},
		{`{k: (.a)}`, nil},
		{`{k: -.a}`, nil},
		{`{k: .a // "x"}`, nil},
		{`{k: "lit"}`, nil},
		{`. as $x | {k: $x.a}`, nil},
		{`. as {$a} | {$a}`, nil},
		{`{k: (.a.b as $x | $x)}`, nil},
		{`{(.k): .v}`, nil},
		{`{"k\(.x)": .v}`, nil},
		{`{k: .a}?`, nil},
		{`{k: .a} | .`, nil},
		{`{k: .a}.k`, nil},
		{`def f: .a; {k: f}`, nil},
		{`.a`, nil},
		{`[.a]`, nil},
		{`{k: .a} + {j: .b}`, nil},
		{manyKeys(51), nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s := metadataTestStage(t, tt.query)
			if d := cmp.Diff(tt.want, fastPaths(s.fast)); d != "" {
				t.Errorf("fast form (-want +got):\n%s", d)
			}
		})
	}
}

func TestFastPathRecords(t *testing.T) {
	const (
		q      = `{a: .a, d: .b.c}`
		qOne   = `{k: .k}`
		noA    = `partition key "a": the value is null or missing`
		noK    = `partition key "k": the value is null or missing`
		objK   = `partition key "k": the value is object, not a string, number or boolean`
		arrayK = `partition key "k": the value is array, not a string, number or boolean`
	)
	tests := []struct {
		name    string
		query   string
		in      string
		fast    bool // decided by the fast path
		want    map[string]string
		wantErr string
	}{
		{"plain", q, `{"a":"x","b":{"c":"y"}}`, true, map[string]string{"a": "x", "d": "y"}, ""},
		{"spaces around", q, " \t\r\n{ \"a\" : \"x\" , \"b\" : { \"c\" : 1 } } \n", true, map[string]string{"a": "x", "d": "1"}, ""},
		{"skipped values of every kind", q, `{"z":[1,-2.5e+3,true,false,null,"s",{"a":"no"},[]],"a":"x","y":{"b":{"c":"no"}},"b":{"q":{},"c":"y"}}`,
			true, map[string]string{"a": "x", "d": "y"}, ""},
		{"duplicate key: last wins", qOne, `{"k":"1","k":"2"}`, true, map[string]string{"k": "2"}, ""},
		{"duplicate parent: last wins whole", q, `{"a":"x","b":{"c":"y"},"b":{"z":1}}`, true, nil, `partition key "d": the value is null or missing`},
		{"duplicate parent: null after object", q, `{"a":"x","b":{"c":"y"},"b":null}`, true, nil, `partition key "d": the value is null or missing`},
		{"duplicate parent: object after number", q, `{"a":"x","b":1,"b":{"c":"y"}}`, true, map[string]string{"a": "x", "d": "y"}, ""},
		{"missing", q, `{"b":{"c":"y"}}`, true, nil, noA},
		{"null", q, `{"a":null,"b":{"c":"y"}}`, true, nil, noA},
		{"null parent", q, `{"a":"x","b":null}`, true, nil, `partition key "d": the value is null or missing`},
		{"two errors: the smallest key", q, `{}`, true, nil, noA},
		{"object value", qOne, `{"k":{"a":1}}`, true, nil, objK},
		{"array value", qOne, `{"k":[1]}`, true, nil, arrayK},
		{"true", qOne, `{"k":true}`, true, map[string]string{"k": "true"}, ""},
		{"false", qOne, `{"k":false}`, true, map[string]string{"k": "false"}, ""},
		{"integer", qOne, `{"k":-42}`, true, map[string]string{"k": "-42"}, ""},
		{"minus zero", qOne, `{"k":-0}`, true, map[string]string{"k": "-0"}, ""},
		{"minus zero float", qOne, `{"k":-0.0}`, true, map[string]string{"k": "-0"}, ""},
		{"big integer", qOne, `{"k":123456789012345678901234567890}`, true, map[string]string{"k": "123456789012345678901234567890"}, ""},
		{"fraction", qOne, `{"k":1.50}`, true, map[string]string{"k": "1.5"}, ""},
		{"exponent", qOne, `{"k":1E3}`, true, map[string]string{"k": "1000"}, ""},
		{"large exponent", qOne, `{"k":1.5e300}`, true, map[string]string{"k": "1.5e+300"}, ""},
		{"overflow", qOne, `{"k":1e400}`, true, nil, `partition key "k": invalid number 1e400`},
		{"tiny", qOne, `{"k":1e-400}`, true, map[string]string{"k": "0"}, ""},
		{"non-ASCII", qOne, `{"k":"é漢😀"}`, true, map[string]string{"k": "é漢😀"}, ""},
		{"escapes", qOne, `{"k":"a\"b\\c\/d\b\f\n\r\t"}`, true, map[string]string{"k": "a\"b\\c/d\b\f\n\r\t"}, ""},
		{"unicode escape", qOne, `{"k":"\u00e9\u6F22"}`, true, map[string]string{"k": "é漢"}, ""},
		{"surrogate pair", qOne, `{"k":"\ud83d\ude00"}`, true, map[string]string{"k": "😀"}, ""},
		{"lone surrogate", qOne, `{"k":"\ud83dx"}`, true, map[string]string{"k": "\ufffdx"}, ""},
		{"invalid UTF-8", qOne, "{\"k\":\"a\xffb\"}", true, map[string]string{"k": "a\ufffdb"}, ""},
		{"escaped key", qOne, `{"\u006b":"1"}`, true, map[string]string{"k": "1"}, ""},
		{"escaped non-ASCII key", `{k: ."é"}`, `{"\u00e9":"1"}`, true, map[string]string{"k": "1"}, ""},
		{"invalid UTF-8 key", `{k: ."a\ufffd"}`, "{\"a\xff\":\"1\"}", true, map[string]string{"k": "1"}, ""},
		{"empty key", `{k: .""}`, `{"":"1"}`, true, map[string]string{"k": "1"}, ""},
		{"same key deeper is not the field", qOne, `{"x":{"k":"no"}}`, true, nil, noK},
		{"leaf and parent", `{x: .a, y: .a.b}`, `{"a":{"b":"1"}}`, true, nil, `partition key "x": the value is object, not a string, number or boolean`},

		// Left to gojq.
		{"number parent", q, `{"a":"x","b":1}`, false, nil, `the query failed: expected an object but got: number (1)`},
		{"string parent", q, `{"a":"x","b":"s"}`, false, nil, `the query failed: expected an object but got: string ("s")`},
		{"array parent", q, `{"a":"x","b":[]}`, false, nil, `the query failed: expected an object but got: array ([])`},
		{"number parent, then missing", q, `{"b":true}`, false, nil, `the query failed: expected an object but got: boolean (true)`},
		{"array root", qOne, `[1]`, false, nil, `the query failed: expected an object but got: array ([1])`},
		{"null root", qOne, `null`, false, nil, noK},
		{"two objects", qOne, `{"k":"1"}{"k":"2"}`, false, nil, `the record holds more than one JSON value; use RecordDeAggregation`},
		{"trailing garbage", qOne, `{"k":"1"}x`, false, nil, `the record holds more than one JSON value; use RecordDeAggregation`},
		{"empty", qOne, ``, false, nil, `the record is not valid JSON: EOF`},
		{"truncated", qOne, `{"k":"1"`, false, nil, `the record is not valid JSON: unexpected EOF`},
		{"bad escape", qOne, `{"k":"\x"}`, false, nil, `the record is not valid JSON: invalid character 'x' in string escape code`},
		{"control character", qOne, "{\"k\":\"a\nb\"}", false, nil, `the record is not valid JSON: invalid character '\n' in string literal`},
		{"leading zero", qOne, `{"k":01}`, false, nil, `the record is not valid JSON: invalid character '1' after object key:value pair`},
		{"bad literal", qOne, `{"k":tru}`, false, nil, `the record is not valid JSON: invalid character '}' in literal true (expecting 'e')`},
		{"trailing comma", qOne, `{"k":"1",}`, false, nil, `the record is not valid JSON: invalid character '}' looking for beginning of object key string`},
		{"invalid after the field", qOne, `{"k":"1","z":[1,]}`, false, nil, `the record is not valid JSON: invalid character ']' looking for beginning of value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := metadataTestStage(t, tt.query)
			if s.fast == nil {
				t.Fatalf("query %q does not take the fast path", tt.query)
			}
			if fast := checkSamePaths(t, s, []byte(tt.in)); fast != tt.fast {
				t.Errorf("decided by the fast path: %v, want %v", fast, tt.fast)
			}
			want := extractResult{Keys: tt.want, Err: tt.wantErr}
			if d := cmp.Diff(want, result(s.extract(context.Background(), s.fast.scanner(), []byte(tt.in)))); d != "" {
				t.Errorf("extract (-want +got):\n%s", d)
			}
		})
	}
}

func TestFastPathDeepNesting(t *testing.T) {
	s := metadataTestStage(t, `{k: .k}`)
	for _, depth := range []int{maxFastDepth - 1, maxFastDepth, maxFastDepth + 1, 10001} {
		data := []byte(`{"k":"v","x":`)
		for range depth - 1 {
			data = append(data, '[')
		}
		for range depth - 1 {
			data = append(data, ']')
		}
		data = append(data, '}')
		fast := checkSamePaths(t, s, data)
		if want := depth <= maxFastDepth; fast != want {
			t.Errorf("depth %d: decided by the fast path: %v, want %v", depth, fast, want)
		}
	}
}
