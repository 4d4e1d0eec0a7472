package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// objectName is the name Firehose gives an object under its (evaluated) prefix:
// STREAM-VERSION-YYYY-MM-DD-HH-MM-SS-UUID.
const objectName = `(by-customer|by-lambda)-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

var (
	customerKey = regexp.MustCompile(`^customer_id=([^/]+)/` + objectName + `$`)
	lambdaKey   = regexp.MustCompile(`^region=([^/]+)/device=([^/]+)/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/` + objectName + `$`)
	errorKey    = regexp.MustCompile(`^errors/processing-failed/` + objectName + `$`)
)

// TestDynamicPartitioningBoto3 creates a JQ-partitioned and a Lambda-partitioned stream with
// boto3 (testdata/partitioning.py), delivers to MinIO through the built binary, and checks
// that every object holds only its partition's records and that failing records reach the
// error prefix unchanged.
func TestDynamicPartitioningBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	start := time.Now()
	py := requireTool(t, "python3")
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "lake")

	emu, err := emulator.NewServer(map[string]any{"MetadataExtractor": extractor.Handle}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lambdaSrv := httptest.NewServer(emu)
	t.Cleanup(lambdaSrv.Close)

	conf := filepath.Join(t.TempDir(), "hydrant.yaml")
	yaml := fmt.Sprintf("lambda:\n  endpoint: %s\n  anonymous: true\n", lambdaSrv.URL)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServerArgs(t, "", []string{"--config", conf}, m.Env()...)

	sent := runPartitioningScript(t, py, srv.URL, "lake")
	srv.Flush("")

	// Sort every object of the bucket into delivered records and error documents per stream.
	delivered := map[string][]string{} // stream → records (with their newline)
	failed := map[string][]string{}    // stream → rawData of the error documents
	objs := m.Objects(t, "lake")
	for key, body := range objs {
		switch {
		case customerKey.MatchString(key):
			sm := customerKey.FindStringSubmatch(key)
			for _, line := range splitLines(t, key, body) {
				var rec struct {
					CustomerID any `json:"customer_id"`
				} // a string or a json.Number
				decodeJSON(t, key, line, &rec)
				if fmt.Sprint(rec.CustomerID) != sm[1] {
					t.Errorf("%s holds a record of customer_id %v: %s", key, rec.CustomerID, line)
				}
				delivered[sm[2]] = append(delivered[sm[2]], line)
			}
		case lambdaKey.MatchString(key):
			sm := lambdaKey.FindStringSubmatch(key)
			want := strings.Join(sm[1:7], "/")
			for _, line := range splitLines(t, key, body) {
				keys, err := extractor.PartitionKeys([]byte(line))
				if err != nil {
					t.Errorf("%s holds a record without partition keys: %v: %s", key, err, line)
					continue
				}
				got := strings.Join([]string{keys["region"], keys["device"], keys["year"], keys["month"], keys["day"], keys["hour"]}, "/")
				if got != want {
					t.Errorf("%s holds a record of partition %s: %s", key, got, line)
				}
				delivered[sm[7]] = append(delivered[sm[7]], line)
			}
		case errorKey.MatchString(key):
			stream := errorKey.FindStringSubmatch(key)[1]
			for _, line := range splitLines(t, key, body) {
				var doc struct {
					AttemptsMade     int    `json:"attemptsMade"`
					ArrivalTimestamp int64  `json:"arrivalTimestamp"`
					ErrorCode        string `json:"errorCode"`
					ErrorMessage     string `json:"errorMessage"`
					RawData          string `json:"rawData"`
					LambdaArn        string `json:"lambdaArn"`
				}
				decodeJSON(t, key, line, &doc)
				raw, err := base64.StdEncoding.DecodeString(doc.RawData)
				if err != nil {
					t.Errorf("%s: rawData is not base64: %v", key, err)
				}
				wantCode, wantArn := "DynamicPartitioning.MetadataExtractionFailed", ""
				if stream == "by-lambda" {
					wantCode, wantArn = "Lambda.ProcessingFailedStatus", "arn:aws:lambda:us-east-1:000000000000:function:MetadataExtractor"
				}
				if doc.ErrorCode != wantCode || doc.LambdaArn != wantArn || doc.ArrivalTimestamp < start.UnixMilli() || doc.AttemptsMade < 1 {
					t.Errorf("%s: error document %s: want errorCode %s, lambdaArn %q, arrivalTimestamp after the test started and attemptsMade ≥ 1", key, line, wantCode, wantArn)
				}
				failed[stream] = append(failed[stream], string(raw))
			}
		default:
			t.Errorf("unexpected object %s: %q", key, body)
		}
	}

	// Every record exactly once: delivered (with the delimiter where the stream appends it)
	// or, for the failing ones, as the rawData of an error document.
	for stream, s := range sent {
		var wantOK, wantFailed []string
		for i, r := range s.Records {
			switch {
			case slices.Contains(s.Failing, i):
				wantFailed = append(wantFailed, r)
			case stream == "by-customer":
				wantOK = append(wantOK, r+"\n")
			default:
				wantOK = append(wantOK, r)
			}
		}
		if diff := cmp.Diff(sorted(wantOK), sorted(delivered[stream])); diff != "" {
			t.Errorf("%s: delivered records (-want +got):\n%s", stream, diff)
		}
		if diff := cmp.Diff(sorted(wantFailed), sorted(failed[stream])); diff != "" {
			t.Errorf("%s: rawData under errors/processing-failed/ (-want +got):\n%s", stream, diff)
		}
	}
	partitions := map[string]bool{}
	for key := range objs {
		partitions[key[:strings.LastIndexByte(key, '/')]] = true
	}
	wantPartitions := []string{
		"customer_id=300", "customer_id=alice", "customer_id=bob",
		"errors/processing-failed",
		"region=eu-west-1/device=desktop/year=2026/month=11/day=20/hour=07",
		"region=eu-west-1/device=desktop/year=2026/month=11/day=20/hour=09",
		"region=eu-west-1/device=desktop/year=2026/month=11/day=20/hour=23",
		"region=us-east-1/device=mobile/year=2026/month=11/day=20/hour=07",
		"region=us-east-1/device=mobile/year=2026/month=11/day=20/hour=08",
	}
	if diff := cmp.Diff(wantPartitions, sortedKeys(partitions)); diff != "" {
		t.Errorf("partitions in MinIO (-want +got):\n%s", diff)
	}

	// The AWS CLI sees the configuration as boto3 gave it.
	cli := newAWSCLI(t, srv.URL)
	var d struct {
		DeliveryStreamDescription struct {
			Destinations []struct {
				ExtendedS3DestinationDescription struct {
					Prefix, ErrorOutputPrefix        string
					DynamicPartitioningConfiguration struct {
						Enabled      bool
						RetryOptions struct{ DurationInSeconds int }
					}
					ProcessingConfiguration struct {
						Enabled    bool
						Processors []struct {
							Type       string
							Parameters []struct{ ParameterName, ParameterValue string }
						}
					}
				}
			}
		}
	}
	cli.ok(&d, "describe-delivery-stream", "--delivery-stream-name", "by-customer")
	if n := len(d.DeliveryStreamDescription.Destinations); n != 1 {
		t.Fatalf("describe-delivery-stream by-customer: %d destinations", n)
	}
	got := d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription
	type param = struct{ ParameterName, ParameterValue string }
	want := got
	want.Prefix = "customer_id=!{partitionKeyFromQuery:customer_id}/"
	want.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/"
	want.DynamicPartitioningConfiguration.Enabled = true
	want.DynamicPartitioningConfiguration.RetryOptions.DurationInSeconds = 300
	want.ProcessingConfiguration.Enabled = true
	want.ProcessingConfiguration.Processors = []struct {
		Type       string
		Parameters []struct{ ParameterName, ParameterValue string }
	}{
		{"MetadataExtraction", []param{{"MetadataExtractionQuery", "{customer_id:.customer_id}"}, {"JsonParsingEngine", "JQ-1.6"}}},
		{"AppendDelimiterToRecord", nil},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []param) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
		t.Errorf("describe-delivery-stream by-customer (-want +got):\n%s", diff)
	}
	t.Logf("%d objects in MinIO, checked in %v", len(objs), time.Since(start).Round(time.Millisecond))
}

// sentRecords is what testdata/partitioning.py put into one stream.
type sentRecords struct {
	Records []string `json:"records"`
	Failing []int    `json:"failing"` // indexes of the records that must fail processing
}

// runPartitioningScript runs testdata/partitioning.py against url and returns what it sent,
// by stream. A missing boto3 skips the test, except under CI=true.
func runPartitioningScript(t testing.TB, py, url, bucket string) map[string]sentRecords {
	t.Helper()
	cmd := exec.Command(py, filepath.Join("testdata", "partitioning.py"), url, bucket)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("python3 partitioning.py: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("python3 partitioning.py: no exit within 90s\n%s", stderr.Bytes())
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && strings.Contains(stderr.String(), "No module named 'boto3'") && os.Getenv("CI") != "true" {
			t.Skip("boto3 not installed")
		}
		t.Fatalf("python3 partitioning.py: %v\n%s", err, stderr.Bytes())
	}
	var sent map[string]sentRecords
	if err := json.Unmarshal(stdout.Bytes(), &sent); err != nil {
		t.Fatalf("partitioning.py output: %v: %s", err, stdout.Bytes())
	}
	if len(sent) != 2 {
		t.Fatalf("partitioning.py reported %d streams, want 2: %s", len(sent), stdout.Bytes())
	}
	return sent
}

// splitLines returns the newline-terminated lines of an object, each with its newline.
func splitLines(t testing.TB, key string, body []byte) []string {
	t.Helper()
	if len(body) == 0 || body[len(body)-1] != '\n' {
		t.Errorf("%s does not end in a newline: %q", key, body)
		return nil
	}
	lines := strings.SplitAfter(string(body), "\n")
	return lines[:len(lines)-1]
}

func decodeJSON(t testing.TB, key, line string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s: line is not JSON: %v: %q", key, err, line)
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
