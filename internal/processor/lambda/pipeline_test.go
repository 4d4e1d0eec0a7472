package lambda_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/processor"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

// TestPipelineWithRunner runs processor.Pipeline's Lambda stage through the Invoker against
// the sample functions: the partition keys reach Record.Lambda and failures carry Firehose's
// error codes.
func TestPipelineWithRunner(t *testing.T) {
	inv := newInvoker(t, lambda.Config{Endpoint: startRunner(t), AccessKeyID: "AKIDDUMMY", SecretAccessKey: "dummy"})
	arrival := time.UnixMilli(1565382030000).UTC()
	in := []processor.Record{
		{ID: "r0", Arrival: arrival, Data: []byte(`{"type":{"device":"mobile"},"event_timestamp":1565382027,"region":"us-east-1"}`)},
		{ID: "r1", Arrival: arrival, Data: []byte(`{"device_id":"d-7","event_timestamp":"1704067199","region":"eu-west-1"}`)},
		{ID: "r2", Arrival: arrival, Data: []byte(`not json`)},
	}
	type failure struct {
		ID, Code, OutputType, LambdaARN string
		Attempts                        int
	}
	tests := []struct {
		name       string
		function   string
		wantKeys   map[string]map[string]string // record ID → partition keys
		wantFailed []failure
	}{
		{
			name:     "MetadataExtractor",
			function: "arn:aws:lambda:us-east-1:123456789012:function:MetadataExtractor:1",
			wantKeys: map[string]map[string]string{
				"r0": {"region": "us-east-1", "device": "mobile", "year": "2019", "month": "08", "day": "09", "hour": "20"},
				"r1": {"region": "eu-west-1", "device": "d-7", "year": "2023", "month": "12", "day": "31", "hour": "23"},
			},
			wantFailed: []failure{{"r2", processor.CodeLambdaProcessingFailed, processor.OutputProcessingFailed,
				"arn:aws:lambda:us-east-1:123456789012:function:MetadataExtractor:1", 1}},
		},
		{
			name:     "AlwaysFails",
			function: "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails",
			wantKeys: map[string]map[string]string{},
			wantFailed: []failure{
				{"r0", processor.CodeLambdaFunctionError, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails", 2},
				{"r1", processor.CodeLambdaFunctionError, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails", 2},
				{"r2", processor.CodeLambdaFunctionError, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails", 2},
			},
		},
		{
			name:     "Garbage",
			function: "arn:aws:lambda:us-east-1:123456789012:function:Garbage",
			wantKeys: map[string]map[string]string{},
			wantFailed: []failure{
				{"r0", processor.CodeLambdaJSONProcessing, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:Garbage", 1},
				{"r1", processor.CodeLambdaJSONProcessing, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:Garbage", 1},
				{"r2", processor.CodeLambdaJSONProcessing, processor.OutputProcessingFailed, "arn:aws:lambda:us-east-1:123456789012:function:Garbage", 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := processor.New(processor.Config{
				Processors: []processor.Spec{{Type: "Lambda", Parameters: map[string]string{
					"LambdaArn": tt.function, "NumberOfRetries": "1"}}},
				DeliveryStreamARN: "arn:aws:firehose:us-east-1:123456789012:deliverystream/PUT-S3-lambda",
				Region:            "us-east-1",
				Sleep:             func(context.Context, time.Duration) error { return nil },
			}, inv, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			out, failed, err := p.Process(context.Background(), in)
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			gotKeys := map[string]map[string]string{}
			for _, r := range out {
				gotKeys[r.ID] = r.Lambda
			}
			if diff := cmp.Diff(tt.wantKeys, gotKeys); diff != "" {
				t.Errorf("partition keys mismatch (-want +got):\n%s", diff)
			}
			var gotFailed []failure
			for _, f := range failed {
				gotFailed = append(gotFailed, failure{f.Raw.ID, f.Code, f.OutputType, f.LambdaARN, f.Attempts})
			}
			if diff := cmp.Diff(tt.wantFailed, gotFailed); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
