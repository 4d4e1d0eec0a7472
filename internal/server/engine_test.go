package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/dirlock"
)

// TestUnusableKeyGoesToTheErrorOutputAndTheStreamFlows puts a record whose partition key is a
// 300-byte path segment (the local directory cannot hold it; S3 could) between good ones: the
// good ones are delivered, the bad one is in the error output, and the stream keeps flowing.
func TestUnusableKeyGoesToTheErrorOutputAndTheStreamFlows(t *testing.T) {
	ts := startServer(t, "")
	cfg := customerPartitioned("dp")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("dp"), ExtendedS3DestinationConfiguration: cfg})
	long := strings.Repeat("x", 300)
	putLines(t, ts, "dp", `{"customer_id":"a","n":1}`, `{"customer_id":"`+long+`","n":2}`, `{"customer_id":"b","n":3}`)
	flushWithin(t, ts, 10*time.Second)
	putLines(t, ts, "dp", `{"customer_id":"a","n":4}`)
	flushWithin(t, ts, 10*time.Second)

	got := byDir(ts.objects(t, "dp"))
	errDoc := got["errors/processing-failed"]
	delete(got, "errors/processing-failed")
	for dir, s := range got { // objects of one second sort by their UUID: compare sorted lines
		ls := strings.SplitAfter(s, "\n")
		sort.Strings(ls)
		got[dir] = strings.Join(ls, "")
	}
	want := map[string]string{
		"customer_id=a": "{\"customer_id\":\"a\",\"n\":1}\n{\"customer_id\":\"a\",\"n\":4}\n",
		"customer_id=b": "{\"customer_id\":\"b\",\"n\":3}\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	var doc struct {
		ErrorCode string `json:"errorCode"`
		RawData   string `json:"rawData"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(errDoc)), &doc); err != nil {
		t.Fatalf("error output %q: %v", errDoc, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(doc.RawData)
	if doc.ErrorCode != "S3.InvalidObject" || !strings.Contains(string(raw), long) {
		t.Errorf("error document %+v (raw %q): want S3.InvalidObject with the record", doc, raw)
	}
}

// TestUpdateDestinationWhileTheStoreIsDown times UpdateDestination, Describe and the status
// with MinIO stopped, then checks that every record is delivered once MinIO is back.
func TestUpdateDestinationWhileTheStoreIsDown(t *testing.T) {
	ts, m := startWithMinIO(t)
	m.CreateBucket(t, "upd")
	ctx := context.Background()
	cfg := s3Config("upd")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("up"), ExtendedS3DestinationConfiguration: cfg})
	put := func(from, n int) {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("up")}
		for i := from; i < from+n; i++ {
			in.Records = append(in.Records, types.Record{Data: fmt.Appendf(nil, "rec-%d\n", i)})
		}
		if out, err := ts.client.PutRecordBatch(ctx, in); err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
			t.Fatalf("PutRecordBatch: %v", err)
		}
	}
	put(0, 50)
	m.Stop()
	put(50, 50)
	deadline := time.Now().Add(30 * time.Second) // the interval passes: writes fail and retry
	for {
		if _, code := deliveryStatus(t, ts.url, "up"); code != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed write 30 s after the store stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}

	timed := func(what string, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		took := time.Since(start)
		t.Logf("%s with the store down: %v", what, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s took %v with the store down, want ≤ 5 s", what, took)
		}
	}
	timed("UpdateDestination", func() error {
		_, err := ts.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("up"), CurrentDeliveryStreamVersionId: aws.String("1"),
			DestinationId:               aws.String("destinationId-000000000001"),
			ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("v2/")},
		})
		return err
	})
	timed("DescribeDeliveryStream", func() error {
		_, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("up")})
		return err
	})
	timed("delivery status", func() error {
		_, code := deliveryStatus(t, ts.url, "up")
		if code == "" {
			return fmt.Errorf("no last error while the store is down")
		}
		return nil
	})
	put(100, 50)
	m.Restart(t)
	flushWithin(t, ts, 60*time.Second)
	seen := map[string]int{}
	for key, body := range m.Objects(t, "upd") {
		for _, line := range strings.SplitAfter(string(body), "\n") {
			if line != "" {
				seen[line]++
			}
		}
		if !strings.HasPrefix(key, "v2/") && !strings.Contains(key, "/up-1-") {
			t.Errorf("object %s: want the old version's prefix or v2/", key)
		}
	}
	for i := range 150 {
		if c := seen[fmt.Sprintf("rec-%d\n", i)]; c != 1 {
			t.Errorf("rec-%d delivered %d times, want 1", i, c)
		}
	}
}

// TestStreamThatCannotBeCreatedIsCreatingFailed: a stream whose journal cannot be reserved
// (the per-stream bound exceeds the store) ends CREATING_FAILED with a FailureDescription.
func TestStreamThatCannotBeCreatedIsCreatingFailed(t *testing.T) {
	ts := startServer(t, "", func(c *Config) {
		c.MaxStreamBytes = 1 << 40
		c.Journal.MaxStoreBytes = 64 << 20
	})
	if _, err := ts.client.CreateDeliveryStream(context.Background(), &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("nope"), ExtendedS3DestinationConfiguration: s3Config("b"),
	}); err != nil {
		t.Fatal(err)
	}
	ts.waitStatus(t, "nope", types.DeliveryStreamStatusCreatingFailed)
	out, err := ts.client.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("nope")})
	if err != nil {
		t.Fatal(err)
	}
	f := out.DeliveryStreamDescription.FailureDescription
	if f == nil || f.Type != types.DeliveryStreamFailureTypeUnknownError || aws.ToString(f.Details) == "" {
		t.Errorf("FailureDescription %+v: want UNKNOWN_ERROR with details", f)
	}
}

// TestSecondServerOnADataDirectoryRefuses: a second server on a directory another one owns
// stops at once, naming the directory and the owner's pid, and touches nothing in it.
func TestSecondServerOnADataDirectoryRefuses(t *testing.T) {
	ts := startServer(t, "")
	srv, err := New(Config{Listen: "127.0.0.1:0", DataDir: ts.dir}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = srv.Run(context.Background())
	var held *dirlock.HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() || !strings.Contains(err.Error(), ts.dir) {
		t.Fatalf("second Run: %v, want the directory in use by pid %d", err, os.Getpid())
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %v", took)
	}
	// The first server goes on.
	if _, err := ts.client.ListDeliveryStreams(context.Background(), &firehose.ListDeliveryStreamsInput{}); err != nil {
		t.Errorf("first server after the refusal: %v", err)
	}
}

// TestUpdateDestinationThatCannotBeDeliveredIsRefused: an update adding a Lambda whose client
// cannot be configured (its profile does not exist) is refused with InvalidArgumentException,
// and the stream keeps its version and configuration.
func TestUpdateDestinationThatCannotBeDeliveredIsRefused(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.Lambda.Profile = "hydrant-no-such-profile" })
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("u"), ExtendedS3DestinationConfiguration: s3Config("u")})
	_, err := ts.client.UpdateDestination(context.Background(), &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("u"), CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId: aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{ProcessingConfiguration: processors(
			proc(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:000000000000:function:f"))},
	})
	code, msg := apiError(t, err)
	if code != "InvalidArgumentException" || !strings.Contains(msg, "cannot be delivered") {
		t.Errorf("UpdateDestination: %s %s, want InvalidArgumentException saying it cannot be delivered", code, msg)
	}
	out, err := ts.client.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(out.DeliveryStreamDescription.VersionId); v != "1" {
		t.Errorf("version %s after a refused update, want 1", v)
	}
}
