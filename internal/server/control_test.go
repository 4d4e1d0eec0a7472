package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
)

// rawCall posts a JSON body with a target and returns the status, the decoded error (if any)
// and the raw body.
func rawCall(t testing.TB, url, op, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if op != "" {
		req.Header.Set("X-Amz-Target", "Firehose_20150804."+op)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

const s3Dest = `"ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b"}`

func TestCreateValidation(t *testing.T) {
	ts := startServer(t, "")
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, body, code, message string
	}{
		{"name too long", `{"DeliveryStreamName":"` + long + `",` + s3Dest + `}`, "ValidationException",
			"1 validation error detected: Value '" + long + "' at 'deliveryStreamName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"name pattern", `{"DeliveryStreamName":"bad name!",` + s3Dest + `}`, "ValidationException",
			"1 validation error detected: Value 'bad name!' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"no destination", `{"DeliveryStreamName":"s"}`, "InvalidArgumentException", "Exactly one destination configuration is supported for a Firehose"},
		{"two destinations", `{"DeliveryStreamName":"s",` + s3Dest + `,"S3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b"}}`,
			"InvalidArgumentException", "Exactly one destination configuration is supported for a Firehose"},
		{"missing bucket", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r"}}`, "ValidationException",
			"1 validation error detected: Value null at 'extendedS3DestinationConfiguration.bucketARN' failed to satisfy constraint: Member must not be null"},
		{"hints half given", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","BufferingHints":{"SizeInMBs":5}}}`,
			"InvalidArgumentException", "BufferingHints must specify both SizeInMBs and IntervalInSeconds, or neither."},
		{"size out of range", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","BufferingHints":{"SizeInMBs":129,"IntervalInSeconds":60}}}`,
			"ValidationException", "1 validation error detected: Value '129' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128"},
		{"bad compression", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","CompressionFormat":"SNAPPY"}}`,
			"ValidationException", ""},
		{"kinesis source on DirectPut", `{"DeliveryStreamName":"s","KinesisStreamSourceConfiguration":{"KinesisStreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/k","RoleARN":"arn:aws:iam::000000000000:role/r"},` + s3Dest + `}`,
			"InvalidArgumentException", ""},
		{"kinesis type without source", `{"DeliveryStreamName":"s","DeliveryStreamType":"KinesisStreamAsSource",` + s3Dest + `}`, "InvalidArgumentException", ""},
		{"SSE on kinesis source", `{"DeliveryStreamName":"s","DeliveryStreamType":"KinesisStreamAsSource","KinesisStreamSourceConfiguration":{"KinesisStreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/k","RoleARN":"arn:aws:iam::000000000000:role/r"},"DeliveryStreamEncryptionConfigurationInput":{"KeyType":"AWS_OWNED_CMK"},` + s3Dest + `}`,
			"InvalidArgumentException", ""},
		{"CMK without key", `{"DeliveryStreamName":"s","DeliveryStreamEncryptionConfigurationInput":{"KeyType":"CUSTOMER_MANAGED_CMK"},` + s3Dest + `}`, "InvalidArgumentException", "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK."},
		{"expression prefix without error prefix", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","Prefix":"!{timestamp:yyyy}/"}}`,
			"InvalidArgumentException", ""},
		{"dynamic partitioning small buffer", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":60},"Prefix":"!{partitionKeyFromQuery:k}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}/","DynamicPartitioningConfiguration":{"Enabled":true}}}`,
			"InvalidArgumentException", "BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is enabled."},
		{"evaluated prefix too long", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","Prefix":"` + strings.Repeat("p", 500) + `/"}}`,
			"InvalidArgumentException", ""},
		{"bad time zone", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b","CustomTimeZone":"Mars/Olympus"}}`,
			"InvalidArgumentException", ""},
		{"aws: tag", `{"DeliveryStreamName":"s","Tags":[{"Key":"aws:x","Value":"v"}],` + s3Dest + `}`, "ValidationException", ""},
		{"not JSON", `{"DeliveryStreamName":`, "SerializationException", ""},
		{"wrong type", `{"DeliveryStreamName":5,` + s3Dest + `}`, "SerializationException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, got, hdr := rawCall(t, ts.url, "CreateDeliveryStream", tc.body)
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", status)
			}
			if hdr.Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if got["__type"] != tc.code {
				t.Errorf("__type = %v, want %s (message %v)", got["__type"], tc.code, got["message"])
			}
			if tc.message != "" {
				if diff := cmp.Diff(tc.message, got["message"]); diff != "" {
					t.Errorf("message (-want +got):\n%s", diff)
				}
			} else if msg, _ := got["message"].(string); msg == "" {
				t.Error("empty message")
			}
		})
	}
	out, err := ts.client.ListDeliveryStreams(context.Background(), &firehose.ListDeliveryStreamsInput{})
	if err != nil || len(out.DeliveryStreamNames) != 0 {
		t.Errorf("bad creates left streams behind: %v %v", out.DeliveryStreamNames, err)
	}
}

func TestProtocolErrors(t *testing.T) {
	ts := startServer(t, "")
	for _, tc := range []struct {
		name, op, body, code string
		status               int
	}{
		{"unknown target", "Nope", `{}`, "UnknownOperationException", 400},
		{"no target", "", `{}`, "UnknownOperationException", 400},
		{"unknown stream put", "PutRecord", `{"DeliveryStreamName":"nope","Record":{"Data":"YQ=="}}`, "ResourceNotFoundException", 400},
		{"bad base64", "PutRecordBatch", `{"DeliveryStreamName":"nope","Records":[{"Data":"!!!"}]}`, "SerializationException", 400},
		{"empty batch", "PutRecordBatch", `{"DeliveryStreamName":"nope","Records":[]}`, "ValidationException", 400},
		{"describe missing", "DescribeDeliveryStream", `{"DeliveryStreamName":"nope"}`, "ResourceNotFoundException", 400},
		{"list limit", "ListDeliveryStreams", `{"Limit":0}`, "ValidationException", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got, hdr := rawCall(t, ts.url, tc.op, tc.body)
			if status != tc.status || got["__type"] != tc.code {
				t.Errorf("got %d %v %v, want %d %s", status, got["__type"], got["message"], tc.status, tc.code)
			}
			if hdr.Get("x-amzn-RequestId") == "" || hdr.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("headers %v", hdr)
			}
		})
	}
	_, got, _ := rawCall(t, ts.url, "DescribeDeliveryStream", `{"DeliveryStreamName":"nope"}`)
	if diff := cmp.Diff("Firehose nope under account 000000000000 not found.", got["message"]); diff != "" {
		t.Error(diff)
	}
}

func TestPutLimits(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("lim"), ExtendedS3DestinationConfiguration: s3Config("lim")})
	put := func(sizes ...int) error {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("lim")}
		for _, n := range sizes {
			in.Records = append(in.Records, types.Record{Data: make([]byte, n)})
		}
		_, err := ts.client.PutRecordBatch(ctx, in)
		return err
	}
	many := func(n, size int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = size
		}
		return s
	}
	tests := []struct {
		name  string
		sizes []int
		want  string
	}{
		{"500 records", many(500, 1), ""},
		{"501 records", many(501, 1), "ValidationException"},
		{"record at limit", []int{1_024_000}, ""},
		{"record over limit", append(many(96, 1), 1_024_001), "ValidationException: 1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.97.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000"},
		{"4 MiB exactly", []int{1_024_000, 1_024_000, 1_024_000, 1_024_000, 4<<20 - 4*1_024_000}, ""},
		{"4 MiB + 1", []int{1_024_000, 1_024_000, 1_024_000, 1_024_000, 4<<20 - 4*1_024_000 + 1}, "InvalidArgumentException: Records size exceeds 4 MB limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := errString(put(tc.sizes...))
			if !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
				t.Errorf("got %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func TestDescribeFillsDefaults(t *testing.T) {
	ts := startServer(t, "")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String("desc"),
		ExtendedS3DestinationConfiguration: s3Config("b"),
		Tags:                               []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	})
	_, body, _ := rawCall(t, ts.url, "DescribeDeliveryStream", `{"DeliveryStreamName":"desc"}`)
	d := body["DeliveryStreamDescription"].(map[string]any)
	for _, k := range []string{"CreateTimestamp"} {
		if _, ok := d[k].(float64); !ok {
			t.Errorf("%s = %v, want epoch seconds", k, d[k])
		}
		delete(d, k)
	}
	ext := map[string]any{
		"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::b", "Prefix": "",
		"BufferingHints":           map[string]any{"SizeInMBs": 5.0, "IntervalInSeconds": 300.0},
		"CompressionFormat":        "UNCOMPRESSED",
		"EncryptionConfiguration":  map[string]any{"NoEncryptionConfig": "NoEncryption"},
		"CloudWatchLoggingOptions": map[string]any{"Enabled": false},
	}
	legacy := map[string]any{}
	for k, v := range ext {
		legacy[k] = v
	}
	ext["S3BackupMode"] = "Disabled"
	ext["DataFormatConversionConfiguration"] = map[string]any{"Enabled": false}
	want := map[string]any{
		"DeliveryStreamName":                    "desc",
		"DeliveryStreamARN":                     "arn:aws:firehose:us-east-1:000000000000:deliverystream/desc",
		"DeliveryStreamStatus":                  "ACTIVE",
		"DeliveryStreamType":                    "DirectPut",
		"DeliveryStreamEncryptionConfiguration": map[string]any{"Status": "DISABLED"},
		"VersionId":                             "1",
		"HasMoreDestinations":                   false,
		"Destinations": []any{map[string]any{
			"DestinationId":                    "destinationId-000000000001",
			"ExtendedS3DestinationDescription": ext,
			"S3DestinationDescription":         legacy,
		}},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
}

func TestUpdateDestination(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	cfg := s3Config("u")
	cfg.Prefix = aws.String("p/")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("u"), ExtendedS3DestinationConfiguration: cfg})
	update := func(version, destID string, u *types.ExtendedS3DestinationUpdate) error {
		_, err := ts.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("u"), CurrentDeliveryStreamVersionId: aws.String(version),
			DestinationId: aws.String(destID), ExtendedS3DestinationUpdate: u,
		})
		return err
	}
	if got := errString(update("7", "destinationId-000000000001", &types.ExtendedS3DestinationUpdate{})); got != "ConcurrentModificationException: Cannot update firehose: u since the current version id: 1 and specified version id: 7 do not match" {
		t.Errorf("wrong version: %q", got)
	}
	if got := errString(update("1", "destinationId-000000000009", &types.ExtendedS3DestinationUpdate{})); got != "InvalidArgumentException: Destination Id destinationId-000000000009 not found" {
		t.Errorf("wrong destination: %q", got)
	}
	if err := update("1", "destinationId-000000000001", &types.ExtendedS3DestinationUpdate{CompressionFormat: types.CompressionFormatGzip}); err != nil {
		t.Fatal(err)
	}
	out, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.DeliveryStreamDescription
	ext := d.Destinations[0].ExtendedS3DestinationDescription
	if aws.ToString(d.VersionId) != "2" || ext.CompressionFormat != types.CompressionFormatGzip || aws.ToString(ext.Prefix) != "p/" || d.LastUpdateTimestamp == nil {
		t.Errorf("after merge: version %s, compression %s, prefix %q (kept), updated %v", aws.ToString(d.VersionId), ext.CompressionFormat, aws.ToString(ext.Prefix), d.LastUpdateTimestamp)
	}
	dp := &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	if got := errString(update("2", "destinationId-000000000001", &types.ExtendedS3DestinationUpdate{DynamicPartitioningConfiguration: dp})); !strings.HasPrefix(got, "InvalidArgumentException") {
		t.Errorf("enabling dynamic partitioning later: %q", got)
	}
	// The next object carries the new version in its name, compressed.
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("u"), Record: &types.Record{Data: []byte("v2")}}); err != nil {
		t.Fatal(err)
	}
	ts.flush(t)
	keys := sortedKeys(ts.objects(t, "u"))
	if len(keys) != 1 || !strings.Contains(keys[0], "/u-2-") || !strings.HasSuffix(keys[0], ".gz") {
		t.Errorf("keys %v, want one p/.../u-2-...gz", keys)
	}
	// A different destination type replaces the configuration.
	_, err = ts.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("u"), CurrentDeliveryStreamVersionId: aws.String("2"),
		DestinationId: aws.String("destinationId-000000000001"),
		HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
			EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String("https://example.invalid/ingest"), AccessKey: aws.String("secret")},
			S3Update:              &types.S3DestinationUpdate{RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), BucketARN: aws.String("arn:aws:s3:::u")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err = ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	dst := out.DeliveryStreamDescription.Destinations[0]
	if dst.ExtendedS3DestinationDescription != nil || dst.HttpEndpointDestinationDescription == nil ||
		aws.ToString(dst.HttpEndpointDestinationDescription.EndpointConfiguration.Url) != "https://example.invalid/ingest" ||
		dst.HttpEndpointDestinationDescription.S3DestinationDescription == nil {
		t.Errorf("after replace: %+v", dst)
	}
	_, raw, _ := rawCall(t, ts.url, "DescribeDeliveryStream", `{"DeliveryStreamName":"u"}`)
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "secret") {
		t.Errorf("the access key is echoed: %s", b)
	}
}

func TestListPagination(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	var want []string
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("s%02d", i)
		want = append(want, name)
		if _, err := ts.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Config("l")}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ts.client.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.DeliveryStreamNames) != 10 || !aws.ToBool(first.HasMoreDeliveryStreams) {
		t.Fatalf("first page %v more=%v, want 10 names and more", first.DeliveryStreamNames, aws.ToBool(first.HasMoreDeliveryStreams))
	}
	rest, err := ts.client.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{ExclusiveStartDeliveryStreamName: aws.String("s09"), Limit: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, append(first.DeliveryStreamNames, rest.DeliveryStreamNames...)); diff != "" || aws.ToBool(rest.HasMoreDeliveryStreams) {
		t.Errorf("pages (-want +got):\n%s more=%v", diff, aws.ToBool(rest.HasMoreDeliveryStreams))
	}
	kin, err := ts.client.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource})
	if err != nil || len(kin.DeliveryStreamNames) != 0 {
		t.Errorf("type filter: %v %v", kin.DeliveryStreamNames, err)
	}
	_, err = ts.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("s00"), ExtendedS3DestinationConfiguration: s3Config("l")})
	if got := errString(err); got != "ResourceInUseException: Firehose s00 under accountId 000000000000 already exists" {
		t.Errorf("duplicate create: %q", got)
	}
}

func TestTags(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("t"), ExtendedS3DestinationConfiguration: s3Config("t")})
	tag := func(n int) []types.Tag {
		var out []types.Tag
		for i := 0; i < n; i++ {
			out = append(out, types.Tag{Key: aws.String(fmt.Sprintf("k%02d", i)), Value: aws.String("v")})
		}
		return out
	}
	if _, err := ts.client.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), Tags: tag(50)}); err != nil {
		t.Fatal(err)
	}
	_, err := ts.client.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), Tags: []types.Tag{{Key: aws.String("one-more")}}})
	if code, _ := apiError(t, err); code != "LimitExceededException" {
		t.Errorf("51st tag: %v", err)
	}
	// Upsert of an existing key is not a new tag.
	if _, err := ts.client.TagDeliveryStream(ctx, &firehose.TagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), Tags: []types.Tag{{Key: aws.String("k00"), Value: aws.String("new")}}}); err != nil {
		t.Fatal(err)
	}
	page, err := ts.client.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("t"), Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tags) != 2 || !aws.ToBool(page.HasMoreTags) || aws.ToString(page.Tags[0].Value) != "new" {
		t.Errorf("page %+v more=%v", page.Tags, aws.ToBool(page.HasMoreTags))
	}
	if _, err := ts.client.UntagDeliveryStream(ctx, &firehose.UntagDeliveryStreamInput{DeliveryStreamName: aws.String("t"), TagKeys: []string{"k00", "missing"}}); err != nil {
		t.Fatal(err)
	}
	all, err := ts.client.ListTagsForDeliveryStream(ctx, &firehose.ListTagsForDeliveryStreamInput{DeliveryStreamName: aws.String("t"), ExclusiveStartTagKey: aws.String("k47")})
	if err != nil || len(all.Tags) != 2 || aws.ToBool(all.HasMoreTags) {
		t.Errorf("after k47: %+v %v", all.Tags, err)
	}
}

func TestEncryptionStatusMachine(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("e"), ExtendedS3DestinationConfiguration: s3Config("e")})
	status := func() types.DeliveryStreamEncryptionStatus {
		out, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("e")})
		if err != nil {
			t.Fatal(err)
		}
		return out.DeliveryStreamDescription.DeliveryStreamEncryptionConfiguration.Status
	}
	wait := func(want types.DeliveryStreamEncryptionStatus) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); status() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("encryption status %s, want %s", status(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := ts.client.StartDeliveryStreamEncryption(ctx, &firehose.StartDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String("e"),
		DeliveryStreamEncryptionConfigurationInput: &types.DeliveryStreamEncryptionConfigurationInput{KeyType: types.KeyTypeAwsOwnedCmk}}); err != nil {
		t.Fatal(err)
	}
	wait(types.DeliveryStreamEncryptionStatusEnabled)
	out, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("e"), Record: &types.Record{Data: []byte("x")}})
	if err != nil || !aws.ToBool(out.Encrypted) {
		t.Errorf("put on encrypted stream: Encrypted=%v err=%v", out != nil && aws.ToBool(out.Encrypted), err)
	}
	calls := 1
	for ; calls < 25; calls++ {
		if _, err := ts.client.StopDeliveryStreamEncryption(ctx, &firehose.StopDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String("e")}); err != nil {
			t.Fatalf("call %d: %v", calls+1, err)
		}
	}
	wait(types.DeliveryStreamEncryptionStatusDisabled)
	_, err = ts.client.StopDeliveryStreamEncryption(ctx, &firehose.StopDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String("e")})
	if code, _ := apiError(t, err); code != "LimitExceededException" {
		t.Errorf("26th call in 24 h: %v", err)
	}
}

func TestStreamsFromConfigFile(t *testing.T) {
	in := json.RawMessage(`{"DeliveryStreamName":"declared","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::cfg","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":60}}}`)
	dir := t.TempDir()
	ts := startServer(t, dir, func(c *Config) { c.Streams = []json.RawMessage{in} })
	ts.waitStatus(t, "declared", types.DeliveryStreamStatusActive)
	ts.stop()
	// A second start with the same declaration keeps the existing stream.
	ts2 := startServer(t, dir, func(c *Config) { c.Streams = []json.RawMessage{in} })
	ts2.waitStatus(t, "declared", types.DeliveryStreamStatusActive)
}

func TestPutOnKinesisSourcedStreamIsRefused(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("k"), DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource,
		KinesisStreamSourceConfiguration: &types.KinesisStreamSourceConfiguration{
			KinesisStreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/src"), RoleARN: aws.String("arn:aws:iam::000000000000:role/r"),
		},
		ExtendedS3DestinationConfiguration: s3Config("k"),
	})
	_, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("k"), Record: &types.Record{Data: []byte("x")}})
	if got := errString(err); got != "InvalidArgumentException: This operation is not permitted on KinesisStreamAsSource delivery stream type." {
		t.Errorf("got %q", got)
	}
	out, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("k")})
	if err != nil || out.DeliveryStreamDescription.Source == nil || out.DeliveryStreamDescription.Source.KinesisStreamSourceDescription == nil {
		t.Errorf("kinesis source not described: %+v %v", out, err)
	}
}
