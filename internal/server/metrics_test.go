package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

func sumOf(t testing.TB, ts *testServer, stream, name string) float64 {
	t.Helper()
	now := time.Now()
	dps, err := ts.srv.metrics.Statistics(metrics.Query{
		Namespace: metrics.Namespace, MetricName: name, Dimensions: map[string]string{"DeliveryStreamName": stream},
		Start: now.Add(-time.Hour), End: now.Add(time.Minute), Period: 2 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, d := range dps {
		total += d.Sum
	}
	return total
}

func TestMetricSumsAreExactAndSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("m"), ExtendedS3DestinationConfiguration: s3Config("m")})
	wantRecords, wantBytes := 0, 0
	for i := 0; i < 7; i++ {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("m")}
		for j := 0; j <= i; j++ {
			rec := []byte(fmt.Sprintf("record %d/%d\n", i, j))
			in.Records = append(in.Records, types.Record{Data: rec})
			wantRecords++
			wantBytes += len(rec)
		}
		if _, err := ts.client.PutRecordBatch(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("m"), Record: &types.Record{Data: []byte("one")}}); err != nil {
		t.Fatal(err)
	}
	wantRecords, wantBytes = wantRecords+1, wantBytes+3
	ts.flush(t)
	check := func(ts *testServer) {
		t.Helper()
		got := map[string]float64{}
		for _, name := range []string{"IncomingRecords", "IncomingBytes", "IncomingPutRequests", "PutRecordBatch.Records", "PutRecord.Requests", "DeliveryToS3.Records", "DeliveryToS3.Bytes", "DeliveryToS3.ObjectCount"} {
			got[name] = sumOf(t, ts, "m", name)
		}
		want := map[string]float64{
			"IncomingRecords": float64(wantRecords), "IncomingBytes": float64(wantBytes), "IncomingPutRequests": 8,
			"PutRecordBatch.Records": float64(wantRecords - 1), "PutRecord.Requests": 1,
			"DeliveryToS3.Records": float64(wantRecords), "DeliveryToS3.Bytes": float64(wantBytes), "DeliveryToS3.ObjectCount": 1,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("metric sums (-want +got):\n%s", diff)
		}
	}
	check(ts)
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), fmt.Sprintf(`hydrant_firehose_incoming_records_total{stream="m"} %d`, wantRecords)) {
		t.Errorf("/metrics lacks the IncomingRecords counter:\n%s", body)
	}
	ts.stop()
	check(startServer(t, dir))
}

// TestGrafanaDashboardNamesExist keeps docs/grafana/hydrant-dashboard.json true: every metric it
// queries is one the server exposes (those that need throttling or partitioning aside).
func TestGrafanaDashboardNamesExist(t *testing.T) {
	b, err := os.ReadFile("../../docs/grafana/hydrant-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "")
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("g"), ExtendedS3DestinationConfiguration: s3Config("g")})
	if _, err := ts.client.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("g"),
		Records: []types.Record{{Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	ts.flush(t)
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	needsEvents := map[string]bool{"hydrant_firehose_throttled_records_total": true, "hydrant_firehose_partition_count": true,
		"hydrant_firehose_delivery_to_s3_data_freshness_seconds": true}
	names := regexp.MustCompile(`\b(hydrant_[a-z0-9_]+|process_[a-z_]+|go_[a-z_]+)`).FindAllString(string(b), -1)
	if len(names) < 10 {
		t.Fatalf("found only %v in the dashboard", names)
	}
	for _, n := range names {
		if !needsEvents[n] && !strings.Contains(string(exposed), "\n"+n) {
			t.Errorf("the dashboard queries %s, which /metrics does not expose", n)
		}
	}
}
