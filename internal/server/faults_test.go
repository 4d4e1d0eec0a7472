package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

func setFaults(t testing.TB, url, stream, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/_hydrant/streams/"+stream+"/faults", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set faults %s: %s", body, resp.Status)
	}
}

func TestFaultInjection(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("f"), ExtendedS3DestinationConfiguration: s3Config("f")})
	noRetry := func(o *firehose.Options) { o.RetryMaxAttempts = 1 }
	batch := func(n int) *firehose.PutRecordBatchInput {
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("f")}
		for i := 0; i < n; i++ {
			in.Records = append(in.Records, types.Record{Data: []byte(fmt.Sprintf("%03d,", i))})
		}
		return in
	}
	var delivered strings.Builder

	setFaults(t, ts.url, "f", `{"succeedPerCall":1}`)
	out, err := ts.client.PutRecordBatch(ctx, batch(5), noRetry)
	if err != nil || aws.ToInt32(out.FailedPutCount) != 4 || out.RequestResponses[0].RecordId == nil ||
		aws.ToString(out.RequestResponses[1].ErrorCode) != "ServiceUnavailableException" || aws.ToString(out.RequestResponses[1].ErrorMessage) != "Slow down." {
		t.Fatalf("succeedPerCall 1: %+v %v", out, err)
	}
	delivered.WriteString("000,")

	setFaults(t, ts.url, "f", `{"failFraction":0.3}`)
	out, err = ts.client.PutRecordBatch(ctx, batch(500), noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt32(out.FailedPutCount); n < 90 || n > 210 {
		t.Errorf("failFraction 0.3 failed %d of 500", n)
	}
	for i, e := range out.RequestResponses {
		if e.ErrorCode == nil {
			delivered.WriteString(fmt.Sprintf("%03d,", i))
		}
	}

	setFaults(t, ts.url, "f", `{"throttleCalls":2}`)
	for i := 0; i < 2; i++ {
		_, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("f"), Record: &types.Record{Data: []byte("x")}}, noRetry)
		if code, msg := apiError(t, err); code != "ServiceUnavailableException" || msg != "Slow down." {
			t.Errorf("throttled call %d: %s %s", i, code, msg)
		}
	}
	if _, err := ts.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("f"), Record: &types.Record{Data: []byte("end")}}, noRetry); err != nil {
		t.Errorf("third call after throttleCalls 2: %v", err)
	}
	delivered.WriteString("end")

	ts.flush(t)
	var got strings.Builder
	for _, k := range sortedKeys(ts.objects(t, "f")) {
		got.Write(ts.objects(t, "f")[k])
	}
	if got.String() != delivered.String() {
		t.Errorf("delivered %q, want exactly the records that were acknowledged %q", got.String(), delivered.String())
	}
	if thr := sumOf(t, ts, "f", "ThrottledRecords"); thr < 94 {
		t.Errorf("ThrottledRecords %v", thr)
	}
}
