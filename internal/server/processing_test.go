package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
)

func processors(ps ...types.Processor) *types.ProcessingConfiguration {
	return &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: ps}
}

func proc(typ types.ProcessorType, kv ...string) types.Processor {
	p := types.Processor{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Parameters = append(p.Parameters, types.ProcessorParameter{ParameterName: types.ProcessorParameterName(kv[i]), ParameterValue: aws.String(kv[i+1])})
	}
	return p
}

func putLines(t testing.TB, ts *testServer, stream string, lines ...string) {
	t.Helper()
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream)}
	for _, l := range lines {
		in.Records = append(in.Records, types.Record{Data: []byte(l)})
	}
	out, err := ts.client.PutRecordBatch(context.Background(), in)
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v %+v", err, out)
	}
}

// byDir groups delivered objects by their directory, concatenating their contents.
func byDir(objs map[string][]byte) map[string]string {
	out := map[string]string{}
	for _, k := range sortedKeys(objs) {
		out[path.Dir(k)] += string(objs[k])
	}
	return out
}

// customerPartitioned is a destination that partitions JSON lines by .customer_id with JQ,
// 900 s buffers, and the error output under errors/.
func customerPartitioned(bucket string) *types.ExtendedS3DestinationConfiguration {
	cfg := s3Config(bucket)
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(900)}
	cfg.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	cfg.Prefix = aws.String("customer_id=!{partitionKeyFromQuery:customer_id}/")
	cfg.ErrorOutputPrefix = aws.String("errors/!{firehose:error-output-type}/")
	cfg.ProcessingConfiguration = processors(
		proc(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{customer_id:.customer_id}", "JsonParsingEngine", "JQ-1.6"),
		proc(types.ProcessorTypeAppendDelimiterToRecord),
	)
	return cfg
}

func TestDynamicPartitioningByJQ(t *testing.T) {
	ts := startServer(t, "")
	cfg := customerPartitioned("dp")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("dp"), ExtendedS3DestinationConfiguration: cfg})
	putLines(t, ts, "dp", `{"customer_id":"a","n":1}`, `{"customer_id":"b","n":2}`, `{"customer_id":"a","n":3}`, `not json`,
		`{"customer_id":"x/../y"}`) // a key no object store can hold: to the error output, not a stuck stream
	ts.flush(t)
	objs := ts.objects(t, "dp")
	got := byDir(objs)
	errDoc := got["errors/processing-failed"]
	delete(got, "errors/processing-failed")
	want := map[string]string{
		"customer_id=a": "{\"customer_id\":\"a\",\"n\":1}\n{\"customer_id\":\"a\",\"n\":3}\n",
		"customer_id=b": "{\"customer_id\":\"b\",\"n\":2}\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	var raws []string
	for _, line := range strings.Split(strings.TrimSpace(errDoc), "\n") {
		var doc struct {
			ErrorCode string `json:"errorCode"`
			RawData   string `json:"rawData"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil || doc.ErrorCode == "" {
			t.Fatalf("error output line %q: %v", line, err)
		}
		raw, _ := base64.StdEncoding.DecodeString(doc.RawData)
		raws = append(raws, string(raw))
	}
	sort.Strings(raws)
	if diff := cmp.Diff([]string{"not json", `{"customer_id":"x/../y"}`}, raws); diff != "" {
		t.Errorf("records in the error output (-want +got):\n%s", diff)
	}
	for k := range objs {
		if strings.HasPrefix(k, "customer_id=") && !strings.Contains(k, "/dp-1-") {
			t.Errorf("key %q: want <prefix>dp-1-<time>-<uuid>", k)
		}
	}
}

func TestDynamicPartitioningCreateRules(t *testing.T) {
	ts := startServer(t, "")
	base := func() *types.ExtendedS3DestinationConfiguration {
		cfg := s3Config("r")
		cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)}
		cfg.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
		cfg.Prefix = aws.String("k=!{partitionKeyFromQuery:k}/")
		cfg.ErrorOutputPrefix = aws.String("e/!{firehose:error-output-type}/")
		cfg.ProcessingConfiguration = processors(proc(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{k:.k}", "JsonParsingEngine", "JQ-1.6"))
		return cfg
	}
	tests := []struct {
		name   string
		mutate func(*types.ExtendedS3DestinationConfiguration)
		want   string
	}{
		{"valid", func(*types.ExtendedS3DestinationConfiguration) {}, ""},
		{"no error prefix", func(c *types.ExtendedS3DestinationConfiguration) { c.ErrorOutputPrefix = nil }, "InvalidArgumentException"},
		{"query key unused", func(c *types.ExtendedS3DestinationConfiguration) {
			c.ProcessingConfiguration = processors(proc(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{k:.k,j:.j}", "JsonParsingEngine", "JQ-1.6"))
		}, "InvalidArgumentException"},
		{"no extraction", func(c *types.ExtendedS3DestinationConfiguration) { c.ProcessingConfiguration = nil }, "InvalidArgumentException"},
		{"lambda keys without lambda", func(c *types.ExtendedS3DestinationConfiguration) {
			c.Prefix = aws.String("k=!{partitionKeyFromLambda:k}/")
		}, "InvalidArgumentException"},
		{"small buffer", func(c *types.ExtendedS3DestinationConfiguration) {
			c.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(63), IntervalInSeconds: aws.Int32(60)}
		}, "InvalidArgumentException"},
		{"bad processor parameter", func(c *types.ExtendedS3DestinationConfiguration) {
			c.ProcessingConfiguration = processors(proc(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{k:", "JsonParsingEngine", "JQ-1.6"))
		}, "InvalidArgumentException"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(cfg)
			_, err := ts.client.CreateDeliveryStream(context.Background(), &firehose.CreateDeliveryStreamInput{
				DeliveryStreamName: aws.String(fmt.Sprintf("r%d", i)), ExtendedS3DestinationConfiguration: cfg})
			if got := errString(err); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLambdaTransformAndPartitionKeys(t *testing.T) {
	emu, err := emulator.NewServer(map[string]any{"MetadataExtractor": extractor.Handle, "AlwaysFails": emulator.AlwaysFails},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lambdaSrv := httptest.NewServer(emu)
	defer lambdaSrv.Close()
	ts := startServer(t, "", func(c *Config) {
		c.Lambda.Endpoint = lambdaSrv.URL
		c.Lambda.Anonymous = true
	})
	cfg := s3Config("lam")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(900)}
	cfg.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	cfg.Prefix = aws.String("region=!{partitionKeyFromLambda:region}/device=!{partitionKeyFromLambda:device}/year=!{partitionKeyFromLambda:year}/month=!{partitionKeyFromLambda:month}/day=!{partitionKeyFromLambda:day}/hour=!{partitionKeyFromLambda:hour}/")
	cfg.ErrorOutputPrefix = aws.String("error/!{firehose:error-output-type}/")
	cfg.ProcessingConfiguration = processors(
		proc(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:000000000000:function:MetadataExtractor:1", "NumberOfRetries", "1"),
		proc(types.ProcessorTypeAppendDelimiterToRecord),
	)
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("lam"), ExtendedS3DestinationConfiguration: cfg})
	late := time.Date(2026, 11, 20, 7, 30, 0, 0, time.UTC).Unix()
	putLines(t, ts, "lam",
		fmt.Sprintf(`{"region":"us-east-1","device_id":"d1","event_timestamp":%d}`, late),
		fmt.Sprintf(`{"region":"eu-west-1","device_id":"d2","event_timestamp":%d}`, late+3600),
		`garbage`,
	)
	ts.flush(t)
	got := byDir(ts.objects(t, "lam"))
	var dirs []string
	for d := range got {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	want := []string{
		"error/processing-failed",
		"region=eu-west-1/device=d2/year=2026/month=11/day=20/hour=08",
		"region=us-east-1/device=d1/year=2026/month=11/day=20/hour=07",
	}
	if diff := cmp.Diff(want, dirs); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	if s := got["region=us-east-1/device=d1/year=2026/month=11/day=20/hour=07"]; !strings.HasSuffix(s, "\n") || !strings.Contains(s, `"d1"`) {
		t.Errorf("partition content %q", s)
	}
	if s := got["error/processing-failed"]; !strings.Contains(s, "lambdaArn") || !strings.Contains(s, "Lambda.ProcessingFailed") {
		t.Errorf("error output %q", s)
	}
}
