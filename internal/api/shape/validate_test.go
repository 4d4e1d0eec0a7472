package shape

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustJSON marshals v for use as a request body.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type obj = map[string]any

// extS3 returns a valid ExtendedS3DestinationConfiguration with extra members merged in.
func extS3(extra obj) obj {
	c := obj{"RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::bucket"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// create returns a CreateDeliveryStream body for a valid stream with extra top-level members.
func create(extra obj) obj {
	c := obj{"DeliveryStreamName": "s1", "ExtendedS3DestinationConfiguration": extS3(nil)}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func records(n, size int) []any {
	rs := make([]any, n)
	for i := range rs {
		rs[i] = obj{"Data": base64.StdEncoding.EncodeToString(make([]byte, size))}
	}
	return rs
}

func tags(n int) []any {
	ts := make([]any, n)
	for i := range ts {
		ts[i] = obj{"Key": "k" + strings.Repeat("x", i), "Value": "v"}
	}
	return ts
}

func viol(path, value, constraint string) Violation {
	return Violation{Path: path, Value: value, Constraint: constraint}
}

func TestValidate(t *testing.T) {
	name65 := strings.Repeat("a", 65)
	heap := func(n int) string {
		return "java.nio.HeapByteBuffer[pos=0 lim=" + itoa(n) + " cap=" + itoa(n) + "]"
	}
	rendered501 := "'[" + strings.TrimSuffix(strings.Repeat("{Data: "+heap(1)+"}, ", 501), ", ") + "]'"
	var tagStrs []string
	for i := range 51 {
		tagStrs = append(tagStrs, "{Key: k"+strings.Repeat("x", i)+",Value: v}")
	}
	big := records(100, 1)
	big[96] = obj{"Data": base64.StdEncoding.EncodeToString(make([]byte, 1024001))}
	dataConv := func(conv obj) obj {
		return create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"DataFormatConversionConfiguration": conv})})
	}

	tests := []struct {
		name string
		op   string
		body []byte
		want []Violation // nil means valid
	}{
		{"valid create", "CreateDeliveryStream", mustJSON(t, create(nil)), nil},
		{"valid list with empty body", "ListDeliveryStreams", nil, nil},
		{"unknown members ignored, null is absent", "ListDeliveryStreams",
			[]byte(`{"Limit": null, "Nope": {"x": [1, {"y": "z"}]}, "DeliveryStreamType": null}`), nil},
		{"name too long", "CreateDeliveryStream", mustJSON(t, create(obj{"DeliveryStreamName": name65})), []Violation{
			viol("deliveryStreamName", "'"+name65+"'", "Member must have length less than or equal to 64"),
		}},
		{"name bad pattern", "CreateDeliveryStream", mustJSON(t, create(obj{"DeliveryStreamName": "my stream!"})), []Violation{
			viol("deliveryStreamName", "'my stream!'", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
		}},
		{"empty name fails pattern and min length", "DeleteDeliveryStream", []byte(`{"DeliveryStreamName": ""}`), []Violation{
			viol("deliveryStreamName", "''", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
			viol("deliveryStreamName", "''", "Member must have length greater than or equal to 1"),
		}},
		{"bad compression enum", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"CompressionFormat": "SNAPPY"})})), []Violation{
				viol("extendedS3DestinationConfiguration.compressionFormat", "'SNAPPY'",
					"Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]"),
			}},
		{"buffering size 0", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"BufferingHints": obj{"SizeInMBs": 0, "IntervalInSeconds": 300}})})), []Violation{
				viol("extendedS3DestinationConfiguration.bufferingHints.sizeInMBs", "'0'", "Member must have value greater than or equal to 1"),
			}},
		{"buffering size 129 and interval 901", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"BufferingHints": obj{"SizeInMBs": 129, "IntervalInSeconds": 901}})})), []Violation{
				viol("extendedS3DestinationConfiguration.bufferingHints.sizeInMBs", "'129'", "Member must have value less than or equal to 128"),
				viol("extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds", "'901'", "Member must have value less than or equal to 900"),
			}},
		{"bad processor type", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"ProcessingConfiguration": obj{"Enabled": true,
				"Processors": []any{obj{"Type": "NotLambda"}}}})})), []Violation{
				viol("extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.type", "'NotLambda'",
					"Member must satisfy enum value set: [RecordDeAggregation, Decompression, CloudWatchLogProcessing, Lambda, MetadataExtraction, AppendDelimiterToRecord]"),
			}},
		{"tag key aws:", "CreateDeliveryStream", mustJSON(t, create(obj{"Tags": []any{obj{"Key": "ok"}, obj{"Key": "aws:x", "Value": "v"}}})), []Violation{
			viol("tags.2.member.key", "'aws:x'", `Member must satisfy regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`),
		}},
		{"51 tags", "CreateDeliveryStream", mustJSON(t, create(obj{"Tags": tags(51)})), []Violation{
			viol("tags", "'["+strings.Join(tagStrs, ", ")+"]'", "Member must have length less than or equal to 50"),
		}},
		{"tag value length counts UTF-16 units", "TagDeliveryStream",
			mustJSON(t, obj{"DeliveryStreamName": "s", "Tags": []any{obj{"Key": "ok", "Value": strings.Repeat("𝐀", 128)}, obj{"Key": "k2", "Value": strings.Repeat("𝐀", 129)}}}), []Violation{
				viol("tags.2.member.value", "'"+strings.Repeat("𝐀", 129)+"'", `Member must have length less than or equal to 256`),
			}},
		{"tag keys list of strings", "UntagDeliveryStream", []byte(`{"DeliveryStreamName": "s", "TagKeys": ["ok", "aws:x", ""]}`), []Violation{
			viol("tagKeys", "'[ok, aws:x, ]'", `Member must satisfy constraint: [Member must satisfy regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$, Member must have length greater than or equal to 1]`),
		}},
		{"empty tag keys list", "UntagDeliveryStream", []byte(`{"DeliveryStreamName": "s", "TagKeys": []}`), []Violation{
			viol("tagKeys", "'[]'", "Member must have length greater than or equal to 1"),
		}},
		{"501 records", "PutRecordBatch", mustJSON(t, obj{"DeliveryStreamName": "s", "Records": records(501, 1)}), []Violation{
			viol("records", rendered501, "Member must have length less than or equal to 500"),
		}},
		{"0 records", "PutRecordBatch", []byte(`{"DeliveryStreamName": "s", "Records": []}`), []Violation{
			viol("records", "'[]'", "Member must have length greater than or equal to 1"),
		}},
		{"record 97 too big", "PutRecordBatch", mustJSON(t, obj{"DeliveryStreamName": "s", "Records": big}), []Violation{
			viol("records.97.member.data", "'"+heap(1024001)+"'", "Member must have length less than or equal to 1024000"),
		}},
		{"record of exactly 1024000 bytes and an empty one", "PutRecordBatch",
			mustJSON(t, obj{"DeliveryStreamName": "s", "Records": append(records(1, 1024000), records(1, 0)...)}), nil},
		{"missing everything", "PutRecordBatch", []byte(`{}`), []Violation{
			viol("deliveryStreamName", "null", "Member must not be null"),
			viol("records", "null", "Member must not be null"),
		}},
		{"missing data and null record", "PutRecordBatch", []byte(`{"DeliveryStreamName": "s", "Records": [{"Data": "QQ=="}, {}, null]}`), []Violation{
			viol("records.2.member.data", "null", "Member must not be null"),
			viol("records.3.member", "null", "Member must not be null"),
		}},
		{"put record missing data", "PutRecord", []byte(`{"DeliveryStreamName": "s", "Record": {"Data": null}}`), []Violation{
			viol("record.data", "null", "Member must not be null"),
		}},
		{"list limit 0", "ListDeliveryStreams", []byte(`{"Limit": 0}`), []Violation{
			viol("limit", "'0'", "Member must have value greater than or equal to 1"),
		}},
		{"list limit 10001", "ListDeliveryStreams", []byte(`{"Limit": 10001}`), []Violation{
			viol("limit", "'10001'", "Member must have value less than or equal to 10000"),
		}},
		{"integral float accepted as integer", "ListDeliveryStreams", []byte(`{"Limit": 1e1}`), nil},
		{"bad enum filter", "ListDeliveryStreams", []byte(`{"DeliveryStreamType": "directput"}`), []Violation{
			viol("deliveryStreamType", "'directput'", "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]"),
		}},
		{"update with version abc", "UpdateDestination",
			[]byte(`{"DeliveryStreamName": "s", "CurrentDeliveryStreamVersionId": "abc", "DestinationId": "destinationId-000000000001"}`), []Violation{
				viol("currentDeliveryStreamVersionId", "'abc'", "Member must satisfy regular expression pattern: [0-9]+"),
			}},
		{"update missing ids", "UpdateDestination", []byte(`{"DeliveryStreamName": "s"}`), []Violation{
			viol("currentDeliveryStreamVersionId", "null", "Member must not be null"),
			viol("destinationId", "null", "Member must not be null"),
		}},
		{"destination missing required members", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": obj{}})), []Violation{
				viol("extendedS3DestinationConfiguration.roleARN", "null", "Member must not be null"),
				viol("extendedS3DestinationConfiguration.bucketARN", "null", "Member must not be null"),
			}},
		{"sensitive value left out", "CreateDeliveryStream",
			mustJSON(t, obj{"DeliveryStreamName": "s", "HttpEndpointDestinationConfiguration": obj{
				"EndpointConfiguration": obj{"Url": "http://insecure"},
				"S3Configuration":       obj{"RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::b"},
			}}), []Violation{
				viol("httpEndpointDestinationConfiguration.endpointConfiguration.url", "", "Member must satisfy regular expression pattern: https://.*"),
			}},
		{"double out of range", "CreateDeliveryStream", mustJSON(t, dataConv(obj{"OutputFormatConfiguration": obj{"Serializer": obj{"OrcSerDe": obj{"PaddingTolerance": 1.5, "BloomFilterFalsePositiveProbability": 1e-9}}}})), []Violation{
			viol("extendedS3DestinationConfiguration.dataFormatConversionConfiguration.outputFormatConfiguration.serializer.orcSerDe.paddingTolerance",
				"'1.5'", "Member must have value less than or equal to 1"),
		}},
		{"map keys and values", "CreateDeliveryStream", mustJSON(t, dataConv(obj{"InputFormatConfiguration": obj{"Deserializer": obj{"OpenXJsonSerDe": obj{
			"ColumnToJsonKeyMappings": obj{"ok": "fine", "has space": " ", "b": nil}}}}})), []Violation{
			viol("extendedS3DestinationConfiguration.dataFormatConversionConfiguration.inputFormatConfiguration.deserializer.openXJsonSerDe.columnToJsonKeyMappings",
				"'{b=null, has space= , ok=fine}'", `Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^\S+$]`),
			viol("extendedS3DestinationConfiguration.dataFormatConversionConfiguration.inputFormatConfiguration.deserializer.openXJsonSerDe.columnToJsonKeyMappings",
				"'{b=null, has space= , ok=fine}'", `Map value must satisfy constraint: [Member must not be null, Member must satisfy regular expression pattern: ^(?!\s*$).+]`),
		}},
		{"not blank rejects whitespace and newlines", "CreateDeliveryStream",
			mustJSON(t, create(obj{"ExtendedS3DestinationConfiguration": extS3(obj{"ProcessingConfiguration": obj{
				"Processors": []any{obj{"Type": "Lambda", "Parameters": []any{
					obj{"ParameterName": "LambdaArn", "ParameterValue": " \t"},
					obj{"ParameterName": "NumberOfRetries", "ParameterValue": "a\nb"},
					obj{"ParameterName": "RoleArn", "ParameterValue": " x "},
				}}}}})})), []Violation{
				viol("extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.parameters.1.member.parameterValue", "' \t'", `Member must satisfy regular expression pattern: ^(?!\s*$).+`),
				viol("extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.parameters.2.member.parameterValue", "'a\nb'", `Member must satisfy regular expression pattern: ^(?!\s*$).+`),
			}},
		{"jdbc url override", "CreateDeliveryStream", mustJSON(t, obj{"DeliveryStreamName": "s", "RedshiftDestinationConfiguration": obj{
			"RoleARN": "arn:aws:iam::123456789012:role/r", "ClusterJDBCURL": "jdbc:redshift://-bad.redshift.us-east-1.amazonaws.com:5439/db",
			"CopyCommand":     obj{"DataTableName": "t"},
			"S3Configuration": obj{"RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::b"},
		}}), []Violation{
			viol("redshiftDestinationConfiguration.clusterJDBCURL", "'jdbc:redshift://-bad.redshift.us-east-1.amazonaws.com:5439/db'",
				`Member must satisfy regular expression pattern: jdbc:(redshift|postgresql)://((?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+(redshift(-serverless)?)\.([a-zA-Z0-9\.\-]+):\d{1,5}/[a-zA-Z0-9_$-]+`),
		}},
		{"jdbc url valid", "CreateDeliveryStream", mustJSON(t, obj{"DeliveryStreamName": "s", "RedshiftDestinationConfiguration": obj{
			"RoleARN": "arn:aws:iam::123456789012:role/r", "ClusterJDBCURL": "jdbc:redshift://c1.abc123.us-east-1.redshift.amazonaws.com:5439/dev",
			"CopyCommand":     obj{"DataTableName": "t"},
			"S3Configuration": obj{"RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::b"},
		}}), nil},
		{"several errors in model member order", "CreateDeliveryStream", mustJSON(t, obj{
			"Tags": []any{obj{"Key": "aws:x"}}, "DeliveryStreamType": "Nope", "DeliveryStreamName": name65,
		}), []Violation{
			viol("deliveryStreamName", "'"+name65+"'", "Member must have length less than or equal to 64"),
			viol("deliveryStreamType", "'Nope'", "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]"),
			viol("tags.1.member.key", "'aws:x'", `Member must satisfy regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.op, tt.body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v (%T), want *ValidationError", err, err)
			}
			if diff := cmp.Diff(tt.want, ve.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestValidationErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *ValidationError
		want string
	}{
		{"one", &ValidationError{Violations: []Violation{viol("deliveryStreamName", "'x'", "Member must have length less than or equal to 64")}},
			"1 validation error detected: Value 'x' at 'deliveryStreamName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"two with null and sensitive", &ValidationError{Violations: []Violation{
			viol("records", "null", "Member must not be null"),
			viol("a.url", "", "Member must satisfy regular expression pattern: https://.*"),
		}}, "2 validation errors detected: Value null at 'records' failed to satisfy constraint: Member must not be null; " +
			"Value at 'a.url' failed to satisfy constraint: Member must satisfy regular expression pattern: https://.*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateSerialization(t *testing.T) {
	tests := []struct {
		name string
		op   string
		body string
		want *SerializationError
	}{
		{"not json", "PutRecordBatch", `{"a":}`, &SerializationError{Msg: "request body is not valid JSON: invalid character '}' looking for beginning of value"}},
		{"truncated", "PutRecordBatch", `{"DeliveryStreamName": "s"`, &SerializationError{Msg: "request body is not valid JSON: unexpected end of input"}},
		{"trailing data", "ListDeliveryStreams", `{} {}`, &SerializationError{Msg: "request body is not valid JSON: data after the top-level value"}},
		{"top level array", "ListDeliveryStreams", `[]`, &SerializationError{Msg: "request body must be a JSON object, found array"}},
		{"top level null", "ListDeliveryStreams", `null`, &SerializationError{Msg: "request body must be a JSON object, found null"}},
		{"number for string", "DeleteDeliveryStream", `{"DeliveryStreamName": 5}`, &SerializationError{Path: "deliveryStreamName", Msg: "expected string, found number"}},
		{"string for structure", "CreateDeliveryStream", `{"DeliveryStreamName": "s", "ExtendedS3DestinationConfiguration": "x"}`,
			&SerializationError{Path: "extendedS3DestinationConfiguration", Msg: "expected structure (JSON object), found string"}},
		{"object for list", "PutRecordBatch", `{"DeliveryStreamName": "s", "Records": {"Data": "QQ=="}}`,
			&SerializationError{Path: "records", Msg: "expected list (JSON array), found object"}},
		{"string for boolean", "DeleteDeliveryStream", `{"DeliveryStreamName": "s", "AllowForceDelete": "true"}`,
			&SerializationError{Path: "allowForceDelete", Msg: "expected boolean, found string"}},
		{"string for integer", "ListDeliveryStreams", `{"Limit": "10"}`, &SerializationError{Path: "limit", Msg: "expected number, found string"}},
		{"fractional integer", "ListDeliveryStreams", `{"Limit": 1.5}`, &SerializationError{Path: "limit", Msg: "expected 32-bit integer, found 1.5"}},
		{"integer overflow", "ListDeliveryStreams", `{"Limit": 2147483648}`, &SerializationError{Path: "limit", Msg: "expected 32-bit integer, found 2147483648"}},
		{"invalid base64", "PutRecordBatch", `{"DeliveryStreamName": "s", "Records": [{"Data": "QQ=="}, {"Data": "QQ="}]}`,
			&SerializationError{Path: "records.2.member.data", Msg: "expected base64-encoded string, found invalid base64"}},
		{"number for blob", "PutRecord", `{"DeliveryStreamName": "s", "Record": {"Data": 1}}`,
			&SerializationError{Path: "record.data", Msg: "expected base64-encoded string, found number"}},
		{"string timestamp", "CreateDeliveryStream", `{"DeliveryStreamName": "s", "MSKSourceConfiguration": {"ReadFromTimestamp": "2024-01-01T00:00:00Z"}}`,
			&SerializationError{Path: "mSKSourceConfiguration.readFromTimestamp", Msg: "expected timestamp (epoch seconds as a JSON number), found string"}},
		{"type error wins over violations", "PutRecordBatch", `{"DeliveryStreamName": "bad name", "Records": [{"Data": true}]}`,
			&SerializationError{Path: "records.1.member.data", Msg: "expected base64-encoded string, found boolean"}},
		{"number in string list", "UntagDeliveryStream", `{"DeliveryStreamName": "s", "TagKeys": ["a", 2]}`,
			&SerializationError{Path: "tagKeys.2.member", Msg: "expected string, found number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.op, []byte(tt.body))
			var se *SerializationError
			if !errors.As(err, &se) {
				t.Fatalf("Validate = %v (%T), want *SerializationError", err, err)
			}
			if diff := cmp.Diff(tt.want, se); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSerializationErrorText(t *testing.T) {
	got := []string{
		(&SerializationError{Msg: "request body must be a JSON object, found array"}).Error(),
		(&SerializationError{Path: "records.1.member.data", Msg: "expected base64-encoded string, found number"}).Error(),
	}
	want := []string{
		"cannot deserialize request: request body must be a JSON object, found array",
		"cannot deserialize 'records.1.member.data': expected base64-encoded string, found number",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestValidateUnknownOperation(t *testing.T) {
	if err := Validate("PutRecords", []byte(`{}`)); !errors.Is(err, ErrUnknownOperation) {
		t.Errorf("Validate(PutRecords) = %v, want ErrUnknownOperation", err)
	}
}

func TestOperations(t *testing.T) {
	want := []string{"CreateDeliveryStream", "DeleteDeliveryStream", "DescribeDeliveryStream", "ListDeliveryStreams",
		"ListTagsForDeliveryStream", "PutRecord", "PutRecordBatch", "StartDeliveryStreamEncryption",
		"StopDeliveryStreamEncryption", "TagDeliveryStream", "UntagDeliveryStream", "UpdateDestination"}
	if diff := cmp.Diff(want, Operations()); diff != "" {
		t.Errorf("Operations (-want +got):\n%s", diff)
	}
}

func TestJavaDouble(t *testing.T) {
	tests := map[float64]string{0: "0.0", 1: "1.0", 1.5: "1.5", 0.001: "0.001", 1e-4: "1.0E-4", 1.25e7: "1.25E7", 9999999: "9999999.0", 1e-9: "1.0E-9"}
	for in, want := range tests {
		if got := javaDouble(in); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestPatternsCompile checks that every model pattern has a matcher and that the hand-written
// ones agree with the Java semantics on examples.
func TestPatterns(t *testing.T) {
	for i, p := range patterns[1:] {
		if matchers[i+1] == nil {
			t.Errorf("pattern %q has no matcher", p.java)
		}
	}
	find := func(java string) func(string) bool {
		t.Helper()
		for i, p := range patterns {
			if p.java == java {
				return matchers[i]
			}
		}
		t.Fatalf("pattern %q not in model", java)
		return nil
	}
	tests := []struct {
		pattern, in string
		want        bool
	}{
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "team", true},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "", true},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "aws:x", false},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "AWS:x", true},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "x aws:", true},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "naïve/é", true},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`, "a*b", false},
		{`^(?!\s*$).+`, "x", true},
		{`^(?!\s*$).+`, "  x  ", true},
		{`^(?!\s*$).+`, "", false},
		{`^(?!\s*$).+`, " \t\f\x0B", false},
		{`^(?!\s*$).+`, "a\u2028b", false},
		{`^(?!\s*$).+`, "\u00a0", true},
		{`[a-zA-Z0-9_.-]+`, "abc-1.2_3", true},
		{`[a-zA-Z0-9_.-]+`, "abc\n", false},
		{`.*`, "a\rb", false},
		{`^$|[a-zA-Z/_]+`, "", true},
		{`^$|[a-zA-Z/_]+`, "America/New_York", true},
		{`^$|[a-zA-Z/_]+`, "UTC+1", false},
		{`[\u0001-\uFFFF]*`, "db\x00", false},
		{`[\u0001-\uFFFF]*`, "db_é", true},
		{`^\S+$`, "a\x0Bb", false},
		{`.+?\.snowflakecomputing\.com`, "https://acct.snowflakecomputing.com", true},
	}
	for _, tt := range tests {
		if got := find(tt.pattern)(tt.in); got != tt.want {
			t.Errorf("%s matches %q = %v, want %v", tt.pattern, tt.in, got, tt.want)
		}
	}
}
