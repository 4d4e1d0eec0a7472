package lambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

// startRunner serves the sample functions the way examples/lambda/runner does, in-process on
// a random 127.0.0.1 port, and returns its base URL.
func startRunner(t testing.TB) string {
	t.Helper()
	srv, err := emulator.NewServer(map[string]any{
		"MetadataExtractor": extractor.Handle,
		"AlwaysFails":       emulator.AlwaysFails,
		"Garbage":           emulator.Garbage,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("runner: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// firehosePayload builds an invocation payload as Firehose sends it (docs §6.2): base64 data,
// epoch-millisecond arrival timestamps.
func firehosePayload(t testing.TB, records ...string) []byte {
	t.Helper()
	type record struct {
		RecordID                    string `json:"recordId"`
		ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
		Data                        string `json:"data"`
	}
	p := struct {
		InvocationID      string   `json:"invocationId"`
		DeliveryStreamArn string   `json:"deliveryStreamArn"`
		Region            string   `json:"region"`
		Records           []record `json:"records"`
	}{
		InvocationID:      "6e2a7d8e-3c5a-4a84-9b0e-2f6c3f1d2a11",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/PUT-S3-lambda",
		Region:            "us-east-1",
	}
	for n, data := range records {
		p.Records = append(p.Records, record{
			RecordID:                    fmt.Sprintf("4954698668313554428650745793632162567570019247115678515%d", n),
			ApproximateArrivalTimestamp: 1565382030000 + int64(n),
			Data:                        base64.StdEncoding.EncodeToString([]byte(data)),
		})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// responseRecord is a record of a transformation response as Firehose reads it.
type responseRecord struct {
	RecordID string `json:"recordId"`
	Result   string `json:"result"`
	Data     []byte `json:"data"`
	Metadata struct {
		PartitionKeys map[string]string `json:"partitionKeys"`
	} `json:"metadata"`
}

// TestEndToEndMetadataExtractor invokes the sample function through the Invoker, signed with
// dummy credentials, by the LambdaArn of the seed's stream.
func TestEndToEndMetadataExtractor(t *testing.T) {
	inv := newInvoker(t, lambda.Config{Endpoint: startRunner(t), AccessKeyID: "AKIDDUMMY", SecretAccessKey: "dummy"})
	records := []string{
		`{"type":{"device":"mobile","event":"view"},"customer_id":"123456789012","event_timestamp":1565382027,"region":"us-east-1"}`,
		`{"type":{"device":"pc","event":"click"},"customer_id":"210987654321","event_timestamp":"2024-02-29T23:59:59Z","region":"eu-west-1"}` + "\n",
		`not json at all`,
	}
	out, err := inv.Invoke(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:MetadataExtractor:1", firehosePayload(t, records...))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp struct {
		Records []responseRecord `json:"records"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode response %s: %v", out, err)
	}
	type outcome struct {
		RecordID, Result, Data string
		Keys                   map[string]string
	}
	var got []outcome
	for _, r := range resp.Records {
		got = append(got, outcome{r.RecordID, r.Result, string(r.Data), r.Metadata.PartitionKeys})
	}
	want := []outcome{
		{"49546986683135544286507457936321625675700192471156785150", "Ok", records[0],
			map[string]string{"region": "us-east-1", "device": "mobile", "year": "2019", "month": "08", "day": "09", "hour": "20"}},
		{"49546986683135544286507457936321625675700192471156785151", "Ok", records[1],
			map[string]string{"region": "eu-west-1", "device": "pc", "year": "2024", "month": "02", "day": "29", "hour": "23"}},
		{"49546986683135544286507457936321625675700192471156785152", "ProcessingFailed", records[2], nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response mismatch (-want +got):\n%s", diff)
	}
}

func TestEndToEndFailures(t *testing.T) {
	inv := newInvoker(t, lambda.Config{Endpoint: startRunner(t), Anonymous: true})
	payload := firehosePayload(t, `{}`)

	t.Run("function error", func(t *testing.T) {
		_, err := inv.Invoke(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails", payload)
		var fe *lambda.FunctionError
		if !errors.As(err, &fe) {
			t.Fatalf("Invoke error = %v, want *FunctionError", err)
		}
		want := &lambda.FunctionError{Function: "arn:aws:lambda:us-east-1:123456789012:function:AlwaysFails", Type: lambda.FunctionErrorUnhandled,
			ErrorType: "errorString", Message: "AlwaysFails: this function always fails",
			Payload: []byte(`{"errorMessage":"AlwaysFails: this function always fails","errorType":"errorString"}`)}
		if diff := cmp.Diff(want, fe); diff != "" {
			t.Errorf("FunctionError mismatch (-want +got):\n%s", diff)
		}
		if !lambda.Retryable(err) {
			t.Error("function error not retryable")
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		_, err := inv.Invoke(context.Background(), "arn:aws:lambda:us-east-1:123456789012:function:Missing:3", payload)
		var ie *lambda.InvokeError
		if !errors.As(err, &ie) || ie.Status != http.StatusNotFound || ie.Code != "ResourceNotFoundException" || lambda.Retryable(err) {
			t.Errorf("Invoke error = %v, want a non-retryable 404 ResourceNotFoundException", err)
		}
	})
	t.Run("garbage result is returned for the caller to reject", func(t *testing.T) {
		out, err := inv.Invoke(context.Background(), "Garbage", payload)
		if err != nil || string(out) != "this is not a Firehose response" || json.Valid(out) {
			t.Errorf("Invoke = %q, %v", out, err)
		}
	})
}
