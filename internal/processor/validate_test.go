package processor

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	lambda := func(kv ...string) Spec {
		p := map[string]string{ParamLambdaArn: "arn:aws:lambda:us-east-1:123456789012:function:f"}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return Spec{Type: TypeLambda, Parameters: p}
	}
	tests := []struct {
		name  string
		specs []Spec
		want  string // substring of the message; "" = valid
		param string
	}{
		{"empty", nil, "", ""},
		{"seed 004", []Spec{
			{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "JSON"}},
			{Type: TypeAppendDelimiterToRecord},
			lambda("NumberOfRetries", "3", "RoleArn", "arn:aws:iam::123456789012:role/r", "BufferSizeInMBs", "3", "BufferIntervalInSeconds", "300"),
		}, "", ""},
		{"unknown type", []Spec{{Type: "NotLambda"}}, `Processor type "NotLambda" is not supported`, ""},
		{"duplicate type", []Spec{{Type: TypeAppendDelimiterToRecord}, {Type: TypeAppendDelimiterToRecord}}, "specified more than once", ""},
		{"unknown parameter", []Spec{lambda("SubRecordType", "JSON")}, "Parameter SubRecordType is not supported for processor Lambda", "SubRecordType"},
		{"missing LambdaArn", []Spec{{Type: TypeLambda, Parameters: map[string]string{}}}, "Parameter LambdaArn is required", "LambdaArn"},
		{"retries 0", []Spec{lambda("NumberOfRetries", "0")}, "", ""},
		{"retries 300", []Spec{lambda("NumberOfRetries", "300")}, "", ""},
		{"retries 301", []Spec{lambda("NumberOfRetries", "301")}, "NumberOfRetries must be an integer between 0 and 300", "NumberOfRetries"},
		{"retries -1", []Spec{lambda("NumberOfRetries", "-1")}, "between 0 and 300", "NumberOfRetries"},
		{"retries x", []Spec{lambda("NumberOfRetries", "x")}, "between 0 and 300", "NumberOfRetries"},
		{"size 0.2", []Spec{lambda("BufferSizeInMBs", "0.2")}, "", ""},
		{"size 3", []Spec{lambda("BufferSizeInMBs", "3")}, "", ""},
		{"size 0.1", []Spec{lambda("BufferSizeInMBs", "0.1")}, "BufferSizeInMBs must be a number between 0.2 and 3", "BufferSizeInMBs"},
		{"size 3.5", []Spec{lambda("BufferSizeInMBs", "3.5")}, "between 0.2 and 3", "BufferSizeInMBs"},
		{"interval 0", []Spec{lambda("BufferIntervalInSeconds", "0")}, "", ""},
		{"interval 900", []Spec{lambda("BufferIntervalInSeconds", "900")}, "", ""},
		{"interval 901", []Spec{lambda("BufferIntervalInSeconds", "901")}, "between 0 and 900", "BufferIntervalInSeconds"},
		{"subrecord bad", []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "XML"}}}, "SubRecordType must be one of [JSON, DELIMITED]", "SubRecordType"},
		{"subrecord missing", []Spec{{Type: TypeRecordDeAggregation}}, "Parameter SubRecordType is required", "SubRecordType"},
		{"delimited ok", []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED", "Delimiter": "IyMjIw=="}}}, "", ""},
		{"delimited without delimiter", []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED"}}}, "Delimiter is required", "Delimiter"},
		{"delimiter not base64", []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED", "Delimiter": "####"}}}, "base64", "Delimiter"},
		{"delimiter with JSON", []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "JSON", "Delimiter": "IyMjIw=="}}}, "only supported", "Delimiter"},
		{"compression GZIP", []Spec{{Type: TypeDecompression, Parameters: map[string]string{"CompressionFormat": "GZIP"}}}, "", ""},
		{"compression ZIP", []Spec{{Type: TypeDecompression, Parameters: map[string]string{"CompressionFormat": "ZIP"}}}, "CompressionFormat must be one of [GZIP]", "CompressionFormat"},
		{"cwl", []Spec{{Type: TypeDecompression}, {Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "true"}}}, "", ""},
		{"cwl bad bool", []Spec{{Type: TypeDecompression}, {Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "yes"}}}, "must be one of [true, false]", "DataMessageExtraction"},
		{"cwl without decompression", []Spec{{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "true"}}}, "requires processor Decompression", ""},
		{"jq ok", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": "{customer_id:.customer_id}", "JsonParsingEngine": "JQ-1.6"}}}, "", ""},
		{"jq syntax", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": "{customer_id:.customer_id", "JsonParsingEngine": "JQ-1.6"}}}, "not a valid JQ expression", "MetadataExtractionQuery"},
		{"jq unknown function", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": "{a: nosuch(.x)}"}}}, "not a valid JQ expression", "MetadataExtractionQuery"},
		{"jq engine", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": "{a:.a}", "JsonParsingEngine": "JQ-1.7"}}}, "JsonParsingEngine must be one of [JQ-1.6]", "JsonParsingEngine"},
		{"jq 51 keys", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": manyKeys(51)}}}, "51 partition keys", "MetadataExtractionQuery"},
		{"jq 50 keys", []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": manyKeys(50)}}}, "", ""},
		{"append with params", []Spec{{Type: TypeAppendDelimiterToRecord, Parameters: map[string]string{"Delimiter": "Cg=="}}}, "not supported for processor AppendDelimiterToRecord", "Delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.specs)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want a *ConfigError", err)
			}
			if !strings.Contains(ce.Message, tt.want) {
				t.Errorf("message %q does not contain %q", ce.Message, tt.want)
			}
			if ce.Parameter != tt.param {
				t.Errorf("Parameter = %q, want %q", ce.Parameter, tt.param)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("k")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(":.a")
	}
	b.WriteString("}")
	return b.String()
}
