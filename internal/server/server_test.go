package server

import (
	"bytes"
	"compress/gzip"
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

func TestPutRecordBatchIsDeliveredByteForByte(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String("web"),
		ExtendedS3DestinationConfiguration: s3Config("logs"),
	})
	records := [][]byte{[]byte("abc"), {}, []byte("def\n"), {0, 1, 2, 255}}
	var want []byte
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("web")}
	for _, r := range records {
		in.Records = append(in.Records, types.Record{Data: r})
		want = append(want, r...)
	}
	out, err := ts.client.PutRecordBatch(ctx, in)
	if err != nil {
		t.Fatalf("PutRecordBatch: %v", err)
	}
	if got := aws.ToInt32(out.FailedPutCount); got != 0 {
		t.Fatalf("FailedPutCount = %d, want 0", got)
	}
	ids := map[string]bool{}
	for i, e := range out.RequestResponses {
		if aws.ToString(e.RecordId) == "" || e.ErrorCode != nil {
			t.Fatalf("entry %d = %+v, want a record id", i, e)
		}
		ids[*e.RecordId] = true
	}
	if len(ids) != len(records) {
		t.Fatalf("record ids not unique: %v", ids)
	}
	one, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("web"), Record: &types.Record{Data: []byte("ghi")}})
	if err != nil || aws.ToString(one.RecordId) == "" {
		t.Fatalf("PutRecord = %+v, %v", one, err)
	}
	want = append(want, "ghi"...)
	ts.flush(t)

	objs := ts.objects(t, "logs")
	if len(objs) != 1 {
		t.Fatalf("got %d objects, want 1: %v", len(objs), sortedKeys(objs))
	}
	key := sortedKeys(objs)[0]
	if diff := cmp.Diff(want, objs[key]); diff != "" {
		t.Errorf("object bytes (-want +got):\n%s", diff)
	}
	now := time.Now().UTC()
	// yyyy/MM/dd/HH/web-1-yyyy-MM-dd-HH-mm-ss-<uuid>
	wantPrefix := now.Format("2006/01/02/15/") + "web-1-" + now.Format("2006-01-02-15-")
	if !strings.HasPrefix(key, wantPrefix) || len(key) != len(wantPrefix)+len("04-05-")+36 {
		t.Errorf("key %q does not match %q<mm>-<ss>-<uuid>", key, wantPrefix)
	}
}

func TestIntervalFlushAndGzip(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	cfg := s3Config("gz")
	cfg.CompressionFormat = types.CompressionFormatGzip
	cfg.Prefix = aws.String("raw/")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("z"), ExtendedS3DestinationConfiguration: cfg})
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("z"), Record: &types.Record{Data: []byte("hello\n")}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var objs map[string][]byte
	for time.Now().Before(deadline) {
		if objs = ts.objects(t, "gz"); len(objs) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(objs) != 1 {
		t.Fatalf("no object delivered by the 1 s interval: %v", sortedKeys(objs))
	}
	key := sortedKeys(objs)[0]
	if !strings.HasPrefix(key, "raw/"+time.Now().UTC().Format("2006/01/02/")) || !strings.HasSuffix(key, ".gz") {
		t.Errorf("key %q: want raw<yyyy/MM/dd/HH/>...gz (the default date path appended without a slash)", key)
	}
	zr, err := gzip.NewReader(bytes.NewReader(objs[key]))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != "hello\n" {
		t.Errorf("decompressed %q, want %q", got, "hello\n")
	}
}

func TestSizeThresholdSplitsObjects(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	cfg := s3Config("big")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(900)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("big"), ExtendedS3DestinationConfiguration: cfg})
	rec := bytes.Repeat([]byte("x"), 100_000)
	for i := 0; i < 3; i++ {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("big")}
		for j := 0; j < 8; j++ {
			in.Records = append(in.Records, types.Record{Data: rec})
		}
		if _, err := ts.client.PutRecordBatch(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// 2.4 MB in 800 KB puts and a 1 MiB threshold: two objects by size, the rest on flush.
	deadline := time.Now().Add(10 * time.Second)
	for len(ts.objects(t, "big")) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ts.flush(t)
	objs := ts.objects(t, "big")
	total := 0
	for _, b := range objs {
		total += len(b)
	}
	if total != 24*len(rec) || len(objs) < 2 {
		t.Errorf("got %d objects with %d bytes, want >= 2 objects with %d bytes", len(objs), total, 24*len(rec))
	}
}

func TestRestartKeepsStreamsAndUndeliveredRecords(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ctx := context.Background()
	cfg := s3Config("keep")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(128), IntervalInSeconds: aws.Int32(900)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("keep.me-1"), ExtendedS3DestinationConfiguration: cfg})
	for i := 0; i < 10; i++ {
		if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("keep.me-1"), Record: &types.Record{Data: []byte(fmt.Sprintf("r%d,", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	ts.stop()
	if n := len(ts.objects(t, "keep")); n != 0 {
		t.Fatalf("%d objects delivered before restart, want 0 (900 s interval)", n)
	}

	ts2 := startServer(t, dir)
	out, err := ts2.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("keep.me-1")})
	if err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
	if got := out.DeliveryStreamDescription.DeliveryStreamStatus; got != types.DeliveryStreamStatusActive {
		t.Fatalf("status after restart %s", got)
	}
	ts2.flush(t)
	var got []byte
	for _, k := range sortedKeys(ts2.objects(t, "keep")) {
		got = append(got, ts2.objects(t, "keep")[k]...)
	}
	if want := "r0,r1,r2,r3,r4,r5,r6,r7,r8,r9,"; string(got) != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

func TestDeleteDiscardsBufferAndRecreateStartsFresh(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	cfg := s3Config("del")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(128), IntervalInSeconds: aws.Int32(900)}
	in := &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("d"), ExtendedS3DestinationConfiguration: cfg}
	ts.createStream(t, in)
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("d"), Record: &types.Record{Data: []byte("old")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := ts.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("d")})
		if err != nil {
			if code, _ := apiError(t, err); code != "ResourceNotFoundException" {
				t.Fatalf("describe after delete: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.createStream(t, in)
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("d"), Record: &types.Record{Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	ts.flush(t)
	var got []byte
	for _, b := range ts.objects(t, "del") {
		got = append(got, b...)
	}
	if string(got) != "new" {
		t.Errorf("delivered %q, want only %q (the deleted stream's buffer is discarded)", got, "new")
	}
}

func TestFlushOneStreamAndUnknownStream(t *testing.T) {
	ts := startServer(t, "")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("a"), ExtendedS3DestinationConfiguration: s3Config("a")})
	for _, tc := range []struct {
		query string
		want  int
	}{{"?stream=a", http.StatusOK}, {"?stream=nope", http.StatusNotFound}} {
		resp, err := http.Post(ts.url+"/_hydrant/flush"+tc.query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("flush%s = %d, want %d", tc.query, resp.StatusCode, tc.want)
		}
	}
}

func TestFullJournalRefusesPutsAndKeepsAcknowledgedRecords(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.MaxStreamBytes = 9 << 20 })
	ctx := context.Background()
	cfg := s3Config("full")
	cfg.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(128), IntervalInSeconds: aws.Int32(900)}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("full"), ExtendedS3DestinationConfiguration: cfg})
	noRetry := func(o *firehose.Options) { o.RetryMaxAttempts = 1 }
	var acked []byte
	var refusal error
	for i := 0; i < 5 && refusal == nil; i++ {
		rec := bytes.Repeat([]byte{byte('a' + i)}, 1_000_000)
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("full")}
		for j := 0; j < 4; j++ {
			in.Records = append(in.Records, types.Record{Data: rec})
		}
		if _, err := ts.client.PutRecordBatch(ctx, in, noRetry); err != nil {
			refusal = err
			break
		}
		for j := 0; j < 4; j++ {
			acked = append(acked, rec...)
		}
	}
	if refusal == nil {
		t.Fatal("20 MB into a 9 MiB journal were all accepted")
	}
	if code, msg := apiError(t, refusal); code != "ServiceUnavailableException" || msg != "Slow down." {
		t.Errorf("refusal %s: %s, want ServiceUnavailableException: Slow down.", code, msg)
	}
	ts.flush(t)
	var got []byte
	for _, k := range sortedKeys(ts.objects(t, "full")) {
		got = append(got, ts.objects(t, "full")[k]...)
	}
	if !bytes.Equal(got, acked) {
		t.Errorf("delivered %d bytes, want exactly the %d acknowledged", len(got), len(acked))
	}
	// Once delivery settled and trimmed the journal, puts are accepted again.
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("full"), Record: &types.Record{Data: []byte("again")}}, noRetry); err != nil {
		t.Errorf("put after delivery freed the journal: %v", err)
	}
}

func TestS3BackupDeliversSourceRecordsToTheBackupBucket(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	cfg := s3Config("main")
	cfg.CompressionFormat = types.CompressionFormatGzip
	cfg.S3BackupMode = types.S3BackupModeEnabled
	cfg.S3BackupConfiguration = &types.S3DestinationConfiguration{
		RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), BucketARN: aws.String("arn:aws:s3:::backup"),
		Prefix: aws.String("source/"),
	}
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("bk"), ExtendedS3DestinationConfiguration: cfg})
	if _, err := ts.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("bk"),
		Records: []types.Record{{Data: []byte("one,")}, {Data: []byte("two,")}}}); err != nil {
		t.Fatal(err)
	}
	ts.flush(t)
	backup := ts.objects(t, "backup")
	if len(backup) != 1 {
		t.Fatalf("backup objects %v, want 1", sortedKeys(backup))
	}
	key := sortedKeys(backup)[0]
	if !strings.HasPrefix(key, "source/") || strings.HasSuffix(key, ".gz") || string(backup[key]) != "one,two," {
		t.Errorf("backup object %s = %q, want source/... uncompressed \"one,two,\"", key, backup[key])
	}
	if main := ts.objects(t, "main"); len(main) != 1 || !strings.HasSuffix(sortedKeys(main)[0], ".gz") {
		t.Errorf("destination objects %v", sortedKeys(main))
	}
	resp, err := http.Get(ts.url + "/_hydrant/streams/bk/delivery")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var status struct {
		Legs []struct {
			Leg     string `json:"leg"`
			Bucket  string `json:"bucket"`
			Records int    `json:"records"`
		} `json:"legs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		Leg     string `json:"leg"`
		Bucket  string `json:"bucket"`
		Records int    `json:"records"`
	}{{"destination", "main", 2}, {"backup", "backup", 2}}
	if diff := cmp.Diff(want, status.Legs); diff != "" {
		t.Errorf("delivery status (-want +got):\n%s", diff)
	}
}
