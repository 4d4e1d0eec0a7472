package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hydrant-dev/hydrant/internal/servertest"
)

func post(t *testing.T, url, op, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Firehose_20150804."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %s", op, resp.Status, b)
	}
}

func TestErrorsCommandShowsProcessingFailures(t *testing.T) {
	ctx := t.Context()
	url := servertest.Start(t).URL
	post(t, url, "CreateDeliveryStream", `{"DeliveryStreamName":"p","ExtendedS3DestinationConfiguration":{
		"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::p",
		"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},
		"DynamicPartitioningConfiguration":{"Enabled":true},
		"Prefix":"k=!{partitionKeyFromQuery:k}/","ErrorOutputPrefix":"e/!{firehose:error-output-type}/",
		"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[
			{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{k:.k}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]}}}`)
	for deadline := time.Now().Add(5 * time.Second); ; {
		req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(`{"DeliveryStreamName":"p","Record":{"Data":"bm90IGpzb24="}}`))
		req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecord")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream never accepted puts: %s", resp.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out, errOut strings.Builder
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out.Reset()
		if code := Execute(ctx, []string{"errors", "--endpoint-url", url, "--delivery-stream-name", "p"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if got = out.String(); strings.Contains(got, "MetadataExtraction") {
			break
		}
	}
	if !strings.Contains(got, "partitioning") || !strings.Contains(got, "DynamicPartitioning.MetadataExtractionFailed") {
		t.Errorf("errors output:\n%s", got)
	}
}
