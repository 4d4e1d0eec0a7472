package prefix

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// describe renders the parsed parts of e for comparison.
func describe(tb testing.TB, e *Expr) []string {
	tb.Helper()
	var out []string
	for _, p := range e.parts {
		switch p.kind {
		case kindLiteral:
			out = append(out, "lit:"+p.text)
		case kindTimestamp:
			out = append(out, "ts:"+p.text)
		case kindRandom:
			out = append(out, "random")
		case kindErrorOutputType:
			out = append(out, "error-output-type")
		case kindQuery:
			out = append(out, "query:"+p.text)
		case kindLambda:
			out = append(out, "lambda:"+p.text)
		}
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		parts []string
		query []string
		lamb  []string
		ts    bool
		expr  bool
	}{
		{name: "empty", in: ""},
		{name: "literal", in: "logs/", parts: []string{"lit:logs/"}},
		{name: "lone bang and braces", in: "a!b{c}d!", parts: []string{"lit:a!b{c}d!"}},
		{name: "bang before expression", in: "x!!{timestamp:yyyy}", parts: []string{"lit:x!", "ts:yyyy"}, ts: true, expr: true},
		{
			name:  "aws example",
			in:    "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
			parts: []string{"lit:myFirehose/DeliveredYear=", "ts:yyyy", "lit:/anyMonth/rand=", "random"},
			ts:    true, expr: true,
		},
		{
			name:  "error prefix",
			in:    "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
			parts: []string{"lit:myErrorPrefix/", "ts:'year='yyyy'/month='MM'/day='dd'/hour='HH", "lit:/", "error-output-type"},
			ts:    true, expr: true,
		},
		{
			name: "dynamic partitioning",
			in:   "customer_id=!{partitionKeyFromQuery:customer_id}/t=!{partitionKeyFromLambda:tenant}/c=!{partitionKeyFromQuery:customer_id}/d=!{partitionKeyFromQuery:device}/",
			parts: []string{"lit:customer_id=", "query:customer_id", "lit:/t=", "lambda:tenant", "lit:/c=",
				"query:customer_id", "lit:/d=", "query:device", "lit:/"},
			query: []string{"customer_id", "device"},
			lamb:  []string{"tenant"},
			expr:  true,
		},
		{name: "key with colon", in: "!{partitionKeyFromQuery:a:b}", parts: []string{"query:a:b"}, query: []string{"a:b"}, expr: true},
		{name: "random only", in: "!{firehose:random-string}", parts: []string{"random"}, expr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.parts, describe(t, e)); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.query, e.QueryKeys()); diff != "" {
				t.Errorf("QueryKeys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.lamb, e.LambdaKeys()); diff != "" {
				t.Errorf("LambdaKeys (-want +got):\n%s", diff)
			}
			if got := e.HasTimestamp(); got != tt.ts {
				t.Errorf("HasTimestamp = %v, want %v", got, tt.ts)
			}
			if got := e.HasExpressions(); got != tt.expr {
				t.Errorf("HasExpressions = %v, want %v", got, tt.expr)
			}
			if got := e.String(); got != tt.in {
				t.Errorf("String = %q, want %q", got, tt.in)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		kind error
		msg  string
	}{
		{"a/!{timestamp:yyyy", ErrSyntax, `unterminated expression at offset 2: "!{timestamp:yyyy" has no closing '}'`},
		{"!{", ErrSyntax, `unterminated expression at offset 0: "!{" has no closing '}'`},
		{"!{}", ErrSyntax, "expression !{} must be of the form !{namespace:value}"},
		{"!{timestamp}", ErrSyntax, "expression !{timestamp} must be of the form !{namespace:value}"},
		{"!{timestamp:}", ErrSyntax, "empty timestamp pattern in !{timestamp:}"},
		{"!{Timestamp:yyyy}", ErrSyntax, `unknown namespace "Timestamp" in !{Timestamp:yyyy}: expected timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda`},
		{"!{ timestamp:yyyy}", ErrSyntax, `unknown namespace " timestamp" in !{ timestamp:yyyy}: expected timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda`},
		{"!{firehose:uuid}", ErrSyntax, `unknown value "uuid" in !{firehose:uuid}: the firehose namespace has random-string and error-output-type`},
		{"!{partitionKeyFromQuery:}", ErrSyntax, "empty partition key in !{partitionKeyFromQuery:}"},
		{"!{partitionKeyFromLambda:}", ErrSyntax, "empty partition key in !{partitionKeyFromLambda:}"},
		{"!{timestamp:!{timestamp:yyyy}}", ErrSyntax, "character '{' is not allowed in expression !{timestamp:!{timestamp:yyyy}"},
		{"!{timestamp:EEE}", ErrPattern, "unsupported pattern letter 'E' in !{timestamp:EEE}"},
		{"!{timestamp:yyyy-MM-ddTHH}", ErrPattern, "unsupported pattern letter 'T' in !{timestamp:yyyy-MM-ddTHH}"},
		{"!{timestamp:hh}", ErrPattern, "unsupported pattern letter 'h' in !{timestamp:hh}"},
		{"!{timestamp:ddd}", ErrPattern, "too many pattern letters 'd' in !{timestamp:ddd}"},
		{"!{timestamp:MMM}", ErrPattern, `unsupported pattern letters "MMM" (text months) in !{timestamp:MMM}`},
		{"!{timestamp:yyyyyyyyyyyyyyyyyyyy}", ErrPattern, "too many pattern letters 'y' in !{timestamp:yyyyyyyyyyyyyyyyyyyy}"},
		{"!{timestamp:'year=yyyy}", ErrPattern, "unterminated quoted text in !{timestamp:'year=yyyy}"},
		{"!{timestamp:[yyyy]}", ErrPattern, "unsupported pattern character '[' in !{timestamp:[yyyy]}"},
		{"!{timestamp:#}", ErrPattern, "unsupported pattern character '#' in !{timestamp:#}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Parse(%q) = %v, want kind %v", tt.in, err, tt.kind)
			}
			if diff := cmp.Diff(tt.msg, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *Error", err)
			}
		})
	}
}

func TestValidateS3(t *testing.T) {
	tests := []struct {
		name  string
		in    Prefixes
		kind  error // nil: valid
		field string
		msg   string
	}{
		{name: "empty", in: Prefixes{}},
		{name: "literal prefix only", in: Prefixes{Prefix: "logs/"}},
		{name: "literal error prefix", in: Prefixes{Prefix: "logs/", ErrorOutputPrefix: "errors/"}},
		{name: "error prefix without data prefix", in: Prefixes{ErrorOutputPrefix: "myFirehoseFailures/!{firehose:error-output-type}/"}},
		{
			name: "aws example",
			in: Prefixes{
				Prefix:            "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
				ErrorOutputPrefix: "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}",
			},
		},
		{
			name: "dynamic partitioning",
			in: Prefixes{
				Prefix:              "customer_id=!{partitionKeyFromQuery:customer_id}/!{timestamp:yyyy}/",
				ErrorOutputPrefix:   "errors/!{firehose:error-output-type}/",
				DynamicPartitioning: true,
			},
		},
		{
			name: "expressions need error prefix",
			in:   Prefixes{Prefix: "!{timestamp:yyyy/MM/dd}"},
			kind: ErrErrorOutputPrefixRequired, field: "ErrorOutputPrefix",
			msg: "Ths supplied prefix(es) do not satisfy the following constraint: ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
		},
		{
			name: "random string needs error prefix",
			in:   Prefixes{Prefix: "!{firehose:random-string}/"},
			kind: ErrErrorOutputPrefixRequired, field: "ErrorOutputPrefix", msg: MsgErrorOutputPrefixRequired,
		},
		{
			name: "dynamic partitioning needs error prefix",
			in:   Prefixes{Prefix: "c=!{partitionKeyFromLambda:c}/", DynamicPartitioning: true},
			kind: ErrErrorOutputPrefixRequired, field: "ErrorOutputPrefix", msg: MsgErrorOutputPrefixRequired,
		},
		{
			name: "error prefix expressions need error-output-type",
			in:   Prefixes{Prefix: "!{timestamp:yyyy}/", ErrorOutputPrefix: "errors/!{timestamp:yyyy}/"},
			kind: ErrErrorOutputTypeRequired, field: "ErrorOutputPrefix",
			msg: "Ths supplied prefix(es) do not satisfy the following constraint: ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions",
		},
		{
			name: "prefix with error-output-type",
			in:   Prefixes{Prefix: "!{firehose:error-output-type}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}/"},
			kind: ErrErrorOutputTypeInPrefix, field: "Prefix",
			msg: "Ths supplied prefix(es) do not satisfy the following constraint: Prefix cannot contain !{firehose:error-output-type}",
		},
		{
			name: "partition key without dynamic partitioning",
			in:   Prefixes{Prefix: "c=!{partitionKeyFromQuery:c}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}/"},
			kind: ErrPartitionKeyWithoutDynamicPartitioning, field: "Prefix",
			msg: "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled.",
		},
		{
			name: "dynamic partitioning needs partition key",
			in:   Prefixes{Prefix: "!{timestamp:yyyy}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}/", DynamicPartitioning: true},
			kind: ErrPartitionKeyRequired, field: "Prefix",
			msg: "S3 Prefix should contain Dynamic Partitioning namespaces when Dynamic Partitioning is enabled",
		},
		{
			name: "dynamic partitioning with empty prefix",
			in:   Prefixes{DynamicPartitioning: true, ErrorOutputPrefix: "e/"},
			kind: ErrPartitionKeyRequired, field: "Prefix", msg: MsgPartitionKeyRequired,
		},
		{
			name: "partition key in error prefix",
			in: Prefixes{
				Prefix:              "c=!{partitionKeyFromQuery:c}/",
				ErrorOutputPrefix:   "e/!{firehose:error-output-type}/c=!{partitionKeyFromQuery:c}/",
				DynamicPartitioning: true,
			},
			kind: ErrPartitionKeyInErrorOutputPrefix, field: "ErrorOutputPrefix",
			msg: "Ths supplied prefix(es) do not satisfy the following constraint: You cannot use partitionKeyFromLambda and partitionKeyFromQuery namespaces when creating ErrorOutputPrefix expressions",
		},
		{
			name: "bad prefix syntax",
			in:   Prefixes{Prefix: "a/!{timestamp:EEE}/"},
			kind: ErrPattern, field: "Prefix",
			msg: "Invalid Prefix: unsupported pattern letter 'E' in !{timestamp:EEE}",
		},
		{
			name: "bad error prefix syntax",
			in:   Prefixes{Prefix: "a/", ErrorOutputPrefix: "e/!{firehose:error-output-typ}"},
			kind: ErrSyntax, field: "ErrorOutputPrefix",
			msg: `Invalid ErrorOutputPrefix: unknown value "error-output-typ" in !{firehose:error-output-typ}: the firehose namespace has random-string and error-output-type`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateS3(tt.in)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("ValidateS3(%+v) = %v, want nil", tt.in, err)
				}
				return
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("ValidateS3(%+v) = %v, want kind %v", tt.in, err, tt.kind)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *Error", err)
			}
			got := struct{ Field, Message string }{pe.Field, pe.Error()}
			want := struct{ Field, Message string }{tt.field, tt.msg}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessagesFitAWSLimits(t *testing.T) {
	// Exception messages are plain single-line text.
	for _, m := range []string{MsgErrorOutputTypeInPrefix, MsgPartitionKeyWithoutDynamicPartitioning,
		MsgPartitionKeyRequired, MsgErrorOutputPrefixRequired, MsgPartitionKeyInErrorOutputPrefix,
		MsgErrorOutputTypeRequired} {
		if strings.ContainsAny(m, "\n\t") {
			t.Errorf("message %q is not one line", m)
		}
	}
}

func ExampleParse() {
	e, err := Parse("customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.QueryKeys(), e.HasTimestamp())
	// Output: [customer_id device] false
}
