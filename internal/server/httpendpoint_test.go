package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint/receivertest"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

func httpConfig(url, bucket string) *types.HttpEndpointDestinationConfiguration {
	return &types.HttpEndpointDestinationConfiguration{
		EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(url), Name: aws.String("receiver")},
		S3Configuration:       &types.S3DestinationConfiguration{RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), BucketARN: aws.String("arn:aws:s3:::" + bucket)},
		BufferingHints:        &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(60)},
	}
}

func putAll(t testing.TB, ts *testServer, stream string, recs ...string) {
	t.Helper()
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream)}
	for _, r := range recs {
		in.Records = append(in.Records, types.Record{Data: []byte(r)})
	}
	out, err := ts.client.PutRecordBatch(context.Background(), in)
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v", err)
	}
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i, r := range b {
		out[i] = string(r)
	}
	return out
}

// TestHTTPEndpointDeliveryAndDescribe delivers to a TLS receiver trusted through caFile, with
// GZIP, common attributes and an access key, and describes the stream without its key.
func TestHTTPEndpointDeliveryAndDescribe(t *testing.T) {
	rc := receivertest.Start(t, receivertest.Options{TLS: true, AccessKey: "k3y"})
	ca := rc.CAFile(t, t.TempDir())
	ts := startServer(t, "", func(c *Config) { c.HTTPEndpoint.CAFile = ca })
	cfg := httpConfig(rc.URL+"/ingest?api=1", "failed")
	cfg.EndpointConfiguration.AccessKey = aws.String("k3y")
	cfg.RequestConfiguration = &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
		CommonAttributes: []types.HttpEndpointCommonAttribute{{AttributeName: aws.String("env"), AttributeValue: aws.String("test")}}}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("web"), HttpEndpointDestinationConfiguration: cfg})
	putAll(t, ts, "web", "a\n", "b\n", "c\n")
	ts.flush(t)
	acc := rc.Accepted()
	if len(acc) != 1 {
		t.Fatalf("accepted requests %+v, want 1", rc.Requests())
	}
	q := acc[0]
	got := []any{strs(q.Records), q.Gzip, q.Path, q.CommonAttributes, q.Header.Get("X-Amz-Firehose-Source-Arn")}
	want := []any{[]string{"a\n", "b\n", "c\n"}, true, "/ingest?api=1", map[string]string{"env": "test"}, "arn:aws:firehose:us-east-1:000000000000:deliverystream/web"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
	if len(ts.objects(t, "failed")) != 0 {
		t.Errorf("error output written for a delivered batch: %v", sortedKeys(ts.objects(t, "failed")))
	}

	out, err := ts.client.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.DeliveryStreamDescription.Destinations[0].HttpEndpointDestinationDescription
	if d == nil {
		t.Fatal("no HttpEndpointDestinationDescription")
	}
	gotD := []any{aws.ToString(d.EndpointConfiguration.Url), aws.ToString(d.EndpointConfiguration.Name), d.RequestConfiguration.ContentEncoding,
		aws.ToInt32(d.RetryOptions.DurationInSeconds), d.S3BackupMode, aws.ToString(d.S3DestinationDescription.BucketARN),
		d.S3DestinationDescription.CompressionFormat, aws.ToInt32(d.BufferingHints.SizeInMBs)}
	wantD := []any{rc.URL + "/ingest?api=1", "receiver", types.ContentEncodingGzip, int32(300), types.HttpEndpointS3BackupModeFailedDataOnly,
		"arn:aws:s3:::failed", types.CompressionFormatUncompressed, int32(1)}
	if diff := cmp.Diff(wantD, gotD); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
	raw := describeRaw(t, ts, "web")
	if strings.Contains(raw, "k3y") || strings.Contains(raw, "AccessKey") {
		t.Errorf("describe shows the access key: %s", raw)
	}
}

// describeRaw returns DescribeDeliveryStream's response body as sent.
func describeRaw(t testing.TB, ts *testServer, name string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.url, strings.NewReader(fmt.Sprintf(`{"DeliveryStreamName":%q}`, name)))
	req.Header.Set("X-Amz-Target", "Firehose_20150804.DescribeDeliveryStream")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, mustRead(t, resp))
	return b.String()
}

func mustRead(t testing.TB, resp *http.Response) string {
	t.Helper()
	var v json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestHTTPEndpointValidation(t *testing.T) {
	strict := startServer(t, "")
	plain := startServer(t, "", func(c *Config) { c.HTTPEndpoint.AllowPlainHTTP = true })
	secretOn := &types.SecretsManagerConfiguration{Enabled: aws.Bool(true)}
	for _, tc := range []struct {
		name   string
		ts     *testServer
		mutate func(c *types.HttpEndpointDestinationConfiguration)
		want   string // "" for success
	}{
		{"https", strict, func(*types.HttpEndpointDestinationConfiguration) {}, ""},
		{"plain http refused", strict, func(c *types.HttpEndpointDestinationConfiguration) {
			c.EndpointConfiguration.Url = aws.String("http://127.0.0.1:9/")
		}, "ValidationException: 1 validation error detected: Value at 'httpEndpointDestinationConfiguration.endpointConfiguration.url' failed to satisfy constraint: Member must satisfy regular expression pattern: https://.*"},
		{"plain http allowed by the config", plain, func(c *types.HttpEndpointDestinationConfiguration) {
			c.EndpointConfiguration.Url = aws.String("http://127.0.0.1:9/")
		}, ""},
		{"size over 64", strict, func(c *types.HttpEndpointDestinationConfiguration) { c.BufferingHints.SizeInMBs = aws.Int32(65) },
			"ValidationException: 1 validation error detected: Value '65' at 'httpEndpointDestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 64"},
		{"interval over 900", strict, func(c *types.HttpEndpointDestinationConfiguration) {
			c.BufferingHints.IntervalInSeconds = aws.Int32(901)
		},
			"ValidationException: 1 validation error detected: Value '901' at 'httpEndpointDestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"retry over 7200", strict, func(c *types.HttpEndpointDestinationConfiguration) {
			c.RetryOptions = &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(7201)}
		}, "ValidationException: 1 validation error detected: Value '7201' at 'httpEndpointDestinationConfiguration.retryOptions.durationInSeconds' failed to satisfy constraint: Member must have value less than or equal to 7200"},
		{"secret without ARN", strict, func(c *types.HttpEndpointDestinationConfiguration) { c.SecretsManagerConfiguration = secretOn },
			"InvalidArgumentException: SecretARN must be specified when SecretsManagerConfiguration is enabled."},
		{"secret and access key", strict, func(c *types.HttpEndpointDestinationConfiguration) {
			c.SecretsManagerConfiguration = &types.SecretsManagerConfiguration{Enabled: aws.Bool(true), SecretARN: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:k")}
			c.EndpointConfiguration.AccessKey = aws.String("k")
		}, "InvalidArgumentException: AccessKey must not be specified when SecretsManagerConfiguration is enabled."},
		{"duplicate attribute", strict, func(c *types.HttpEndpointDestinationConfiguration) {
			a := types.HttpEndpointCommonAttribute{AttributeName: aws.String("a"), AttributeValue: aws.String("1")}
			c.RequestConfiguration = &types.HttpEndpointRequestConfiguration{CommonAttributes: []types.HttpEndpointCommonAttribute{a, a}}
		}, `InvalidArgumentException: Duplicate CommonAttributes AttributeName "a".`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := httpConfig("https://example.com:8443/in", "b")
			tc.mutate(cfg)
			name := strings.ReplaceAll(tc.name, " ", "-")
			_, err := tc.ts.client.CreateDeliveryStream(context.Background(), &firehose.CreateDeliveryStreamInput{
				DeliveryStreamName: aws.String(name), HttpEndpointDestinationConfiguration: cfg})
			if got := errString(err); got != tc.want {
				t.Errorf("CreateDeliveryStream error\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestHTTPEndpointFailuresGoToTheBackupBucket sends to a receiver that fails in each way and
// reads the error documents back from MinIO; AllData keeps every record there too.
func TestHTTPEndpointFailuresGoToTheBackupBucket(t *testing.T) {
	ts, m := startWithMinIO(t, func(c *Config) {
		c.HTTPEndpoint.AllowPlainHTTP = true
		c.HTTPEndpoint.RequestTimeout = Duration(300 * time.Millisecond)
	})
	for i, tc := range []struct {
		name     string
		reply    receivertest.Reply
		code     string
		attempts int // at least
	}{
		{"503", receivertest.Reply{Status: 503, ErrorMessage: "busy"}, "HttpEndpoint.DestinationException", 2},
		{"413", receivertest.Reply{Status: 413}, "HttpEndpoint.DestinationException", 1},
		{"mismatched requestId", receivertest.Reply{RequestID: "not-yours"}, "HttpEndpoint.InvalidResponseFromDestination", 2},
		{"timeout", receivertest.Reply{Delay: 2 * time.Second}, "HttpEndpoint.RequestTimeout", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := receivertest.Start(t, receivertest.Options{Script: func(*receivertest.Request) receivertest.Reply { return tc.reply }})
			bucket, name := fmt.Sprintf("failed-%d", i), fmt.Sprintf("fail-%d", i)
			m.CreateBucket(t, bucket)
			cfg := httpConfig(rc.URL, bucket)
			cfg.RetryOptions = &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(1)}
			cfg.S3BackupMode = types.HttpEndpointS3BackupModeAllData
			ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), HttpEndpointDestinationConfiguration: cfg})
			putAll(t, ts, name, "r1", "r2")
			ts.flush(t)
			reqs := rc.Requests()
			if len(reqs) < tc.attempts || (tc.code == "HttpEndpoint.DestinationException" && tc.attempts == 1 && len(reqs) != 1) {
				t.Errorf("attempts = %d, want %d", len(reqs), tc.attempts)
			}
			for _, q := range reqs {
				if q.RequestID != reqs[0].RequestID {
					t.Errorf("retry under request id %s, first was %s", q.RequestID, reqs[0].RequestID)
				}
			}
			objs := m.Objects(t, bucket)
			var docs []map[string]any
			var backup []string
			for k, v := range objs {
				switch {
				case strings.HasPrefix(k, "http-endpoint-failed/"):
					for _, line := range strings.Split(strings.TrimSpace(string(v)), "\n") {
						var d map[string]any
						if err := json.Unmarshal([]byte(line), &d); err != nil {
							t.Fatalf("%s: %q: %v", k, line, err)
						}
						docs = append(docs, d)
					}
				default:
					backup = append(backup, string(v))
				}
			}
			if slices.Sort(backup); !slices.Equal(backup, []string{"r1r2"}) {
				t.Errorf("AllData backup objects %q, want one with r1r2 (keys %v)", backup, slices.Sorted(mapsKeys(objs)))
			}
			if len(docs) != 2 {
				t.Fatalf("error documents %v, want 2", docs)
			}
			for i, d := range docs {
				raw, _ := base64.StdEncoding.DecodeString(fmt.Sprint(d["rawData"]))
				if d["errorCode"] != tc.code || int(d["attemptsMade"].(float64)) != len(reqs) || d["dataId"] == "" || d["subsequenceNumber"] != 0.0 ||
					!strings.HasPrefix(string(raw), "r") || d["errorMessage"] == "" || d["arrivalTimestamp"] == nil || d["attemptEndingTimestamp"] == nil {
					t.Errorf("error document %d: %v (want code %s, %d attempts)", i, d, tc.code, len(reqs))
				}
			}
			_, failures := ts.srv.deliveries.Recent(name, 20)
			found := false
			for _, f := range failures {
				found = found || f.Code == tc.code
			}
			if !found {
				t.Errorf("failures %+v: want one with %s", failures, tc.code)
			}
		})
	}
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestHTTPEndpointUpdateBetweenS3AndHTTP switches a stream from S3 to an endpoint and back.
func TestHTTPEndpointUpdateBetweenS3AndHTTP(t *testing.T) {
	rc := receivertest.Start(t, receivertest.Options{})
	ts := startServer(t, "", func(c *Config) { c.HTTPEndpoint.AllowPlainHTTP = true })
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("sw"), ExtendedS3DestinationConfiguration: s3Config("objs")})
	putAll(t, ts, "sw", "s3-1")
	ts.flush(t)
	update := func(version string, u *firehose.UpdateDestinationInput) {
		t.Helper()
		u.DeliveryStreamName, u.CurrentDeliveryStreamVersionId, u.DestinationId = aws.String("sw"), aws.String(version), aws.String("destinationId-000000000001")
		if _, err := ts.client.UpdateDestination(ctx, u); err != nil {
			t.Fatalf("UpdateDestination: %v", err)
		}
	}
	update("1", &firehose.UpdateDestinationInput{HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
		EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(rc.URL)},
		S3Update:              &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::objs"), RoleARN: aws.String("arn:aws:iam::000000000000:role/r")},
	}})
	out, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("sw")})
	if err != nil || out.DeliveryStreamDescription.Destinations[0].HttpEndpointDestinationDescription == nil {
		t.Fatalf("describe after the update: %v %+v", err, out)
	}
	putAll(t, ts, "sw", "http-1")
	ts.flush(t)
	if got := strs(rc.Records()); !slices.Equal(got, []string{"http-1"}) {
		t.Errorf("endpoint records %q, want http-1", got)
	}
	update("2", &firehose.UpdateDestinationInput{ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{
		BucketARN: aws.String("arn:aws:s3:::objs"), RoleARN: aws.String("arn:aws:iam::000000000000:role/r")}})
	putAll(t, ts, "sw", "s3-2")
	ts.flush(t)
	var bodies []string
	for _, v := range ts.objects(t, "objs") {
		bodies = append(bodies, string(v))
	}
	slices.Sort(bodies)
	if d := cmp.Diff([]string{"s3-1", "s3-2"}, bodies); d != "" {
		t.Errorf("S3 objects (-want +got):\n%s", d)
	}
	if got := len(rc.Records()); got != 1 {
		t.Errorf("endpoint got %d records after switching back, want 1", got)
	}
}

// TestHTTPEndpointSecretsManager reads the access key from moto's Secrets Manager.
func TestHTTPEndpointSecretsManager(t *testing.T) {
	moto := testenv.StartMotoKinesis(t) // moto's server serves every service at one endpoint
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	sec, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("receiver-key"), SecretString: aws.String(`{"api_key":"from-the-secret"}`)})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	rc := receivertest.Start(t, receivertest.Options{AccessKey: "from-the-secret"})
	ts := startServer(t, "", func(c *Config) { c.HTTPEndpoint.AllowPlainHTTP = true })
	cfg := httpConfig(rc.URL, "b")
	cfg.SecretsManagerConfiguration = &types.SecretsManagerConfiguration{Enabled: aws.Bool(true), SecretARN: sec.ARN}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("sec"), HttpEndpointDestinationConfiguration: cfg})
	putAll(t, ts, "sec", "x")
	ts.flush(t)
	if got := strs(rc.Records()); !slices.Equal(got, []string{"x"}) {
		t.Errorf("records %q (requests %+v), want x delivered with the secret's key", got, rc.Requests())
	}
}
