package cloudwatch

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// requireTool skips the test when a client is missing, or fails it under CI=true or
// HYDRANT_REQUIRE_TOOLS=1.
func requireTool(tb testing.TB, ok bool, reason string) {
	tb.Helper()
	if ok {
		return
	}
	if testenv.RequireTools() {
		tb.Fatalf("%s (required because CI=true or HYDRANT_REQUIRE_TOOLS=1)", reason)
	}
	tb.Skipf("%s; set HYDRANT_REQUIRE_TOOLS=1 to make this a failure", reason)
}

// startServer serves the handler over newFakeSource on 127.0.0.1 and checks that Is
// accepts every request.
func startServer(tb testing.TB) string {
	tb.Helper()
	h := newTestHandler(tb, newFakeSource())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Is(r) {
			tb.Errorf("Is = false for %s %s %v", r.Method, r.URL, r.Header)
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv.URL
}

func cliEnv() []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}

// TestClientsBoto3 runs boto3 in JSON 1.0, query and RPC v2 CBOR (testdata/clients.py) and
// checks what it parsed: every protocol must give the same, expected, results.
func TestClientsBoto3(t *testing.T) {
	py, err := exec.LookPath("python3")
	requireTool(t, err == nil, "python3 not found")
	requireTool(t, exec.Command(py, "-c", "import boto3").Run() == nil, "boto3 not importable")
	url := startServer(t)
	cmd := exec.Command(py, "testdata/clients.py", url)
	cmd.Env = cliEnv()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("clients.py: %v\n%s", err, stderr)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("clients.py output: %v\n%s", err, out)
	}
	s1 := []any{map[string]any{"Name": "DeliveryStreamName", "Value": "s1"}}
	want := map[string]any{
		"get_metric_statistics": map[string]any{"Label": "IncomingRecords", "Datapoints": []any{
			map[string]any{"Timestamp": "2024-01-01T00:00:00Z", "Sum": 5.0, "Unit": "Count"},
			map[string]any{"Timestamp": "2024-01-01T00:01:00Z", "Sum": 7.0, "Unit": "Count"},
			map[string]any{"Timestamp": "2024-01-01T00:05:00Z", "Sum": 11.0, "Unit": "Count"},
		}},
		"get_metric_statistics_all": map[string]any{"Label": "IncomingRecords", "Datapoints": []any{
			map[string]any{"Timestamp": "2024-01-01T00:00:00Z", "SampleCount": 3.0, "Average": 4.0, "Sum": 12.0, "Minimum": 3.0, "Maximum": 5.0, "Unit": "Count"},
			map[string]any{"Timestamp": "2024-01-01T00:05:00Z", "SampleCount": 4.0, "Average": 2.75, "Sum": 11.0, "Minimum": 1.0, "Maximum": 5.0, "Unit": "Count"},
		}},
		"get_metric_statistics_p99": map[string]any{"Label": "IncomingRecords", "Datapoints": []any{
			map[string]any{"Timestamp": "2024-01-01T00:00:00Z", "ExtendedStatistics": map[string]any{"p99": 5.0}, "Unit": "Count"},
		}},
		"get_metric_data": map[string]any{"MetricDataResults": []any{
			map[string]any{"Id": "records", "Label": "IncomingRecords", "StatusCode": "Complete",
				"Timestamps": []any{"2024-01-01T00:05:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:00:00Z"},
				"Values":     []any{11.0, 7.0, 5.0}},
			map[string]any{"Id": "bytes", "Label": "bytes s2", "StatusCode": "Complete",
				"Timestamps": []any{"2024-01-01T00:00:00Z"}, "Values": []any{150.0}},
		}},
		"list_metrics": map[string]any{"Metrics": []any{
			map[string]any{"Namespace": "AWS/Firehose", "MetricName": "IncomingBytes", "Dimensions": s1},
			map[string]any{"Namespace": "AWS/Firehose", "MetricName": "IncomingRecords", "Dimensions": s1},
		}},
		"too_many_datapoints": map[string]any{"Code": "InvalidParameterCombination", "HTTPStatusCode": 400.0,
			"Message": "You have requested up to 2880 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."},
	}
	for _, proto := range []string{"json", "query", "smithy-rpc-v2-cbor"} {
		t.Run(proto, func(t *testing.T) {
			if diff := cmp.Diff(want, got[proto]); diff != "" {
				t.Errorf("boto3 (%s) parsed (-want +got):\n%s", proto, diff)
			}
		})
	}
}

// TestClientsAWSCLI runs `aws cloudwatch get-metric-statistics` and `list-metrics`.
func TestClientsAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	requireTool(t, err == nil, "aws CLI not found")
	url := startServer(t)
	run := func(t *testing.T, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(aws, append([]string{"--endpoint-url", url, "--region", "us-east-1", "--output", "json", "cloudwatch"}, args...)...)
		cmd.Env = cliEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("aws output: %v\n%s", err, out)
		}
		return v
	}
	t.Run("get-metric-statistics", func(t *testing.T) {
		got := run(t, "get-metric-statistics", "--namespace", "AWS/Firehose", "--metric-name", "IncomingRecords",
			"--dimensions", "Name=DeliveryStreamName,Value=s1", "--start-time", "2024-01-01T00:00:00Z",
			"--end-time", "2024-01-01T01:00:00Z", "--period", "3600", "--statistics", "Sum", "Maximum")
		// CLI v1's default cli_timestamp_format (none) prints the wire value: JSON 1.0 epoch seconds.
		want := map[string]any{"Label": "IncomingRecords", "Datapoints": []any{
			map[string]any{"Timestamp": 1704067200.0, "Sum": 23.0, "Maximum": 5.0, "Unit": "Count"},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("aws printed (-want +got):\n%s", diff)
		}
	})
	t.Run("list-metrics", func(t *testing.T) {
		got := run(t, "list-metrics", "--namespace", "AWS/Usage")
		want := map[string]any{"Metrics": []any{map[string]any{"Namespace": "AWS/Usage", "MetricName": "ResourceCount", "Dimensions": []any{
			map[string]any{"Name": "Class", "Value": "None"}, map[string]any{"Name": "Resource", "Value": "DeliveryStreams"},
			map[string]any{"Name": "Service", "Value": "Firehose"}, map[string]any{"Name": "Type", "Value": "Resource"},
		}}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("aws printed (-want +got):\n%s", diff)
		}
	})
}
