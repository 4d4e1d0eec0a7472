package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScenarioMetricCheck runs the AWS SDK Firehose scenario's closing check with boto3 against
// the built binary: after known puts, the IncomingRecords and IncomingBytes sums equal what was
// put. Then the AWS CLI reads the same metric.
func TestScenarioMetricCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	py := requireTool(t, "python3")
	s := startServer(t, "")
	script, _ := filepath.Abs("testdata/scenario_metrics.py")
	out, err := exec.Command(py, script, s.URL, "scenario").CombinedOutput()
	if err != nil {
		t.Fatalf("scenario: %v\n%s", err, out)
	}
	var got map[string]float64
	if err := json.Unmarshal(out[strings.LastIndexByte(strings.TrimSpace(string(out)), '\n')+1:], &got); err != nil {
		t.Fatalf("scenario output %q: %v", out, err)
	}
	if got["IncomingRecords"] != got["put_records"] || got["IncomingBytes"] != got["put_bytes"] {
		t.Errorf("metric sums %v: want IncomingRecords = put_records and IncomingBytes = put_bytes", got)
	}

	aws := requireTool(t, "aws")
	now := time.Now().UTC()
	cli := exec.Command(aws, "--endpoint-url", s.URL, "cloudwatch", "get-metric-statistics",
		"--namespace", "AWS/Firehose", "--metric-name", "IncomingRecords",
		"--dimensions", "Name=DeliveryStreamName,Value=scenario",
		"--start-time", now.Add(-10*time.Minute).Format(time.RFC3339), "--end-time", now.Add(time.Minute).Format(time.RFC3339),
		"--period", "3600", "--statistics", "Sum", "--output", "json")
	cli.Env = append(cli.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1")
	cliOut, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("aws cloudwatch get-metric-statistics: %v\n%s", err, cliOut)
	}
	var resp struct {
		Datapoints []struct{ Sum float64 }
	}
	if err := json.Unmarshal(cliOut, &resp); err != nil {
		t.Fatalf("CLI output %s: %v", cliOut, err)
	}
	total := 0.0
	for _, d := range resp.Datapoints {
		total += d.Sum
	}
	if total != got["put_records"] {
		t.Errorf("AWS CLI reads IncomingRecords %v, want %v (%s)", total, got["put_records"], cliOut)
	}
}
