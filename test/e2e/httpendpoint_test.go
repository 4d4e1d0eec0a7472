package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint/receivertest"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// TestHTTPEndpointDestination runs the binary against an HTTPS receiver whose self-signed
// certificate is given to Hydrant through SSL_CERT_FILE, with failed batches backed up to
// MinIO: headers and body, GZIP, retries under one request id, 413, mismatched ids, timeouts,
// the error documents, describe through the AWS CLI, and kill -9 while batches are at the
// receiver.
func TestHTTPEndpointDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "failed")
	var hang atomic.Bool
	hang.Store(true)
	rc := receivertest.Start(t, receivertest.Options{TLS: true, AccessKey: "e2e-key", Script: func(q *receivertest.Request) receivertest.Reply {
		switch path := strings.SplitN(q.Path, "?", 2)[0]; path {
		case "/flaky": // fails the first two attempts of each batch
			if q.Attempt <= 2 {
				return receivertest.Reply{Status: 503, ErrorMessage: "warming up"}
			}
		case "/toolarge":
			return receivertest.Reply{Status: 413}
		case "/mismatch":
			return receivertest.Reply{RequestID: "00000000-0000-0000-0000-000000000000"}
		case "/slow":
			return receivertest.Reply{Delay: 5 * time.Second}
		case "/hang":
			if hang.Load() {
				return receivertest.Reply{Delay: time.Hour}
			}
		}
		return receivertest.Reply{}
	}})
	dir := t.TempDir()
	certFile := rc.CAFile(t, dir)
	cfgPath := filepath.Join(dir, "hydrant.yaml")
	if err := os.WriteFile(cfgPath, []byte("httpEndpoint:\n  requestTimeout: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(m.Env(), "SSL_CERT_FILE="+certFile)
	dataDir := t.TempDir()
	s := startServerArgs(t, dataDir, []string{"--config", cfgPath}, env...)
	c := newFirehose(s.URL)
	create := func(name, path string, retry int32, mutate func(*types.HttpEndpointDestinationConfiguration)) {
		cfg := &types.HttpEndpointDestinationConfiguration{
			EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(rc.URL + path), Name: aws.String("e2e"), AccessKey: aws.String("e2e-key")},
			BufferingHints:        &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(60)},
			RetryOptions:          &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(retry)},
			S3Configuration: &types.S3DestinationConfiguration{RoleARN: aws.String("arn:aws:iam::000000000000:role/r"),
				BucketARN: aws.String("arn:aws:s3:::failed"), ErrorOutputPrefix: aws.String(name + "/!{firehose:error-output-type}/")},
		}
		if mutate != nil {
			mutate(cfg)
		}
		createStream(t, c, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), HttpEndpointDestinationConfiguration: cfg})
	}
	put := func(name string, recs ...string) {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name)}
		for _, r := range recs {
			in.Records = append(in.Records, types.Record{Data: []byte(r)})
		}
		out, err := c.PutRecordBatch(context.Background(), in)
		if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
			t.Fatalf("PutRecordBatch %s: %v", name, err)
		}
	}
	byPath := func(path string) []receivertest.Request {
		var out []receivertest.Request
		for _, q := range rc.Requests() {
			if strings.SplitN(q.Path, "?", 2)[0] == path {
				out = append(out, q)
			}
		}
		return out
	}
	errorDocs := func(name string) []map[string]any {
		var docs []map[string]any
		for k, v := range m.Objects(t, "failed") {
			if !strings.HasPrefix(k, name+"/http-endpoint-failed/") {
				continue
			}
			for _, line := range strings.Split(strings.TrimSpace(string(v)), "\n") {
				var d map[string]any
				if err := json.Unmarshal([]byte(line), &d); err != nil {
					t.Fatalf("%s: %q: %v", k, line, err)
				}
				docs = append(docs, d)
			}
		}
		return docs
	}

	t.Run("headers body gzip", func(t *testing.T) {
		create("ok", "/ok?source=hydrant&x=%2F", 60, func(c *types.HttpEndpointDestinationConfiguration) {
			c.RequestConfiguration = &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
				CommonAttributes: []types.HttpEndpointCommonAttribute{{AttributeName: aws.String("team"), AttributeValue: aws.String("data")}}}
		})
		put("ok", "first\n", "", "third\n")
		s.Flush("ok")
		reqs := byPath("/ok")
		if len(reqs) != 1 || reqs[0].Status != 200 || reqs[0].Problem != "" {
			t.Fatalf("requests %+v, want one accepted", reqs)
		}
		q := reqs[0]
		got := map[string]any{"path": q.Path, "records": q.Records, "gzip": q.Gzip, "attrs": q.CommonAttributes,
			"ct": q.Header.Get("Content-Type"), "ce": q.Header.Get("Content-Encoding"), "version": q.Header.Get("X-Amz-Firehose-Protocol-Version"),
			"arn": q.Header.Get("X-Amz-Firehose-Source-Arn"), "key": q.Header.Get("X-Amz-Firehose-Access-Key"), "idLen": len(q.RequestID)}
		want := map[string]any{"path": "/ok?source=hydrant&x=%2F", "records": [][]byte{[]byte("first\n"), {}, []byte("third\n")}, "gzip": true,
			"attrs": map[string]string{"team": "data"}, "ct": "application/json", "ce": "gzip", "version": "1.0",
			"arn": "arn:aws:firehose:us-east-1:000000000000:deliverystream/ok", "key": "e2e-key", "idLen": 36}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("request (-want +got):\n%s", d)
		}
		if ts := time.UnixMilli(q.Timestamp); time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("body timestamp %v is not now", ts)
		}
	})

	t.Run("retries under one request id", func(t *testing.T) {
		create("flaky", "/flaky", 60, nil)
		put("flaky", "r1", "r2")
		s.Flush("flaky")
		reqs := byPath("/flaky")
		var statuses []int
		for _, q := range reqs {
			statuses = append(statuses, q.Status)
			if q.RequestID != reqs[0].RequestID {
				t.Errorf("attempt %d under request id %s, the first under %s", q.N, q.RequestID, reqs[0].RequestID)
			}
		}
		if d := cmp.Diff([]int{503, 503, 200}, statuses); d != "" {
			t.Errorf("attempts (-want +got):\n%s", d)
		}
	})

	for _, tc := range []struct {
		name, path string
		retry      int32
		code       string
		attempts   int
	}{
		{"toolarge", "/toolarge", 60, "HttpEndpoint.DestinationException", 1},
		{"mismatch", "/mismatch", 1, "HttpEndpoint.InvalidResponseFromDestination", 2},
		{"slow", "/slow", 0, "HttpEndpoint.RequestTimeout", 1},
	} {
		t.Run(tc.name+" goes to the backup bucket", func(t *testing.T) {
			create(tc.name, tc.path, tc.retry, nil)
			put(tc.name, "f1", "f2")
			s.Flush(tc.name)
			// With 1 s of retries the waits are 1 s ±15 %, then what remains: 2 or 3 attempts.
			n := len(byPath(tc.path))
			if n < tc.attempts || (tc.retry == 0 || tc.code == "HttpEndpoint.DestinationException") && n != tc.attempts {
				t.Errorf("attempts = %d, want %d", n, tc.attempts)
			}
			docs := errorDocs(tc.name)
			var raw []string
			for _, d := range docs {
				b, _ := base64.StdEncoding.DecodeString(fmt.Sprint(d["rawData"]))
				raw = append(raw, string(b))
				if d["errorCode"] != tc.code || d["attemptsMade"] != float64(n) || d["dataId"] == "" || d["errorMessage"] == "" ||
					d["subsequenceNumber"] != 0.0 || d["arrivalTimestamp"] == nil || d["attemptEndingTimestamp"] == nil {
					t.Errorf("error document %v: want %s after %d attempts", d, tc.code, n)
				}
			}
			slices.Sort(raw)
			if d := cmp.Diff([]string{"f1", "f2"}, raw); d != "" {
				t.Errorf("error documents' records (-want +got):\n%s", d)
			}
		})
	}

	t.Run("describe", func(t *testing.T) {
		aws := requireTool(t, "aws")
		cmd := exec.Command(aws, "firehose", "describe-delivery-stream", "--delivery-stream-name", "ok", "--endpoint-url", s.URL, "--output", "json")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws firehose describe-delivery-stream: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "e2e-key") || strings.Contains(string(out), "AccessKey") {
			t.Errorf("describe shows the access key:\n%s", out)
		}
		var d struct {
			DeliveryStreamDescription struct {
				Destinations []struct {
					HttpEndpointDestinationDescription struct {
						EndpointConfiguration struct{ Url, Name string }
						RequestConfiguration  struct{ ContentEncoding string }
						S3BackupMode          string
					}
				}
			}
		}
		if err := json.Unmarshal(out, &d); err != nil || len(d.DeliveryStreamDescription.Destinations) != 1 {
			t.Fatalf("describe output %s: %v", out, err)
		}
		h := d.DeliveryStreamDescription.Destinations[0].HttpEndpointDestinationDescription
		got := []string{h.EndpointConfiguration.Url, h.EndpointConfiguration.Name, h.RequestConfiguration.ContentEncoding, h.S3BackupMode}
		if d := cmp.Diff([]string{rc.URL + "/ok?source=hydrant&x=%2F", "e2e", "GZIP", "FailedDataOnly"}, got); d != "" {
			t.Errorf("description (-want +got):\n%s", d)
		}
	})

	t.Run("kill -9 while batches are at the receiver", func(t *testing.T) {
		create("crash", "/hang", 60, func(c *types.HttpEndpointDestinationConfiguration) {
			c.BufferingHints = &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(0)}
		})
		var want []string
		for i := range 6 {
			var batch []string
			for j := range 50 {
				batch = append(batch, fmt.Sprintf("c%d-%02d", i, j))
			}
			put("crash", batch...)
			want = append(want, batch...)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(byPath("/hang")) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no batch reached the receiver")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		s.Kill()
		before := byPath("/hang")
		hang.Store(false)
		s = startServerArgs(t, dataDir, []string{"--config", cfgPath}, env...)
		s.Flush("crash")
		all := byPath("/hang")
		after := all[len(before):]
		again := map[string][]string{}
		for _, q := range after {
			again[q.RequestID] = strs(q.Records)
		}
		for _, q := range before {
			if q.Status == 200 {
				continue // answered before the kill
			}
			if d := cmp.Diff(strs(q.Records), again[q.RequestID]); d != "" {
				t.Errorf("batch %s sent again (-before +after):\n%s", q.RequestID, d)
			}
		}
		ids := map[string][]string{}
		for _, q := range all {
			if q.Status != 200 {
				continue
			}
			for _, r := range q.Records {
				if !slices.Contains(ids[string(r)], q.RequestID) {
					ids[string(r)] = append(ids[string(r)], q.RequestID)
				}
			}
		}
		dups := 0
		for _, r := range want {
			switch n := len(ids[r]); {
			case n == 0:
				t.Errorf("record %s never delivered", r)
			case n > 1:
				t.Errorf("record %s delivered under request ids %v", r, ids[r])
			}
		}
		for _, q := range before {
			if q.Status != 200 {
				dups += len(q.Records)
			}
		}
		t.Logf("%d requests before the kill (%d records unanswered, sent again under their ids), %d after", len(before), dups, len(after))
	})
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i, r := range b {
		out[i] = string(r)
	}
	return out
}
