package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPut(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "p", "pb")
	file := filepath.Join(t.TempDir(), "rec")
	if err := os.WriteFile(file, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--data", `{"msg":"hello"}`, "--newline"},
		{"--file", file},
	} {
		out := mustRun(t, append([]string{"put", "--endpoint-url", h.url, "--delivery-stream-name", "p"}, args...)...)
		if id := strings.TrimSpace(out); id == "" || strings.Contains(id, "\n") {
			t.Errorf("put %v printed %q: want one RecordId", args, out)
		}
	}
	if diff := cmp.Diff([]string{"{\"msg\":\"hello\"}\n", "from a file\n"}, h.delivered(t, "pb")); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	_, errOut, code := run(t, "put", "--endpoint-url", h.url, "--delivery-stream-name", "missing", "--data", "x")
	if code == 0 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("put to a missing stream: exit %d, stderr %q", code, errOut)
	}
}

// writeMockData writes n mock records to a file and returns its path.
func writeMockData(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "traffic.jsonl")
	out := mustRun(t, "mock-data", "--count", strconv.Itoa(n), "--seed", "1", "--end", "2024-05-01T12:00:00Z")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var summary = regexp.MustCompile(`^sent (\d+)  retried (\d+)  failed (\d+)  \(`)

// parseSummary returns the sent, retried and failed counts of put-batch's output.
func parseSummary(t *testing.T, out string) (sent, retried, failed int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	sent, _ = strconv.Atoi(m[1])
	retried, _ = strconv.Atoi(m[2])
	failed, _ = strconv.Atoi(m[3])
	return sent, retried, failed
}

func TestPutBatchDeliversMockData(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "web", "web")
	path := writeMockData(t, 2550)
	out, errOut, code := run(t, "put-batch", "--endpoint-url", h.url, "--delivery-stream-name", "web", "--file", path, "--progress", "lines")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if sent, retried, failed := parseSummary(t, out); sent != 2550 || retried != 0 || failed != 0 {
		t.Errorf("summary %q", out)
	}
	if !strings.Contains(errOut, "progress: 2550 records") || !strings.Contains(errOut, "records/s") {
		t.Errorf("progress lines: %q", errOut)
	}
	got := h.delivered(t, "web")
	want, _ := os.ReadFile(path)
	slices.Sort(got)
	wantLines := slices.Sorted(strings.Lines(string(want)))
	if diff := cmp.Diff(wantLines, got); diff != "" {
		t.Errorf("delivered records (-want +got):\n%s", diff)
	}
}

func TestPutBatchRetriesInjectedFailures(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "flaky", "flaky")
	h.do(t, http.MethodPut, "/_hydrant/streams/flaky/faults", `{"failFraction":0.3}`)
	path := writeMockData(t, 2550)
	out, errOut, code := run(t, "put-batch", "--endpoint-url", h.url, "--delivery-stream-name", "flaky", "--file", path,
		"--max-trials", "20", "--progress", "off")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	sent, retried, failed := parseSummary(t, out)
	if sent != 2550 || failed != 0 || retried < 500 {
		t.Errorf("summary %q: want 2550 sent, none failed, hundreds retried", out)
	}
	if n := len(h.delivered(t, "flaky")); n != 2550 {
		t.Errorf("delivered %d records, want 2550", n)
	}
}

func TestPutBatchWritesFailedRecords(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "down", "down")
	h.do(t, http.MethodPut, "/_hydrant/streams/down/faults", `{"succeedPerCall":1}`)
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte("a\nb\n\nc"), 0o644); err != nil {
		t.Fatal(err)
	}
	failedFile := filepath.Join(t.TempDir(), "failed.txt")
	out, errOut, code := run(t, "put-batch", "--endpoint-url", h.url, "--delivery-stream-name", "down", "--file", input,
		"--max-trials", "1", "--concurrency", "1", "--failed-file", failedFile, "--progress", "off")
	if code == 0 || !strings.Contains(errOut, "2 of 3: records not delivered") || !strings.Contains(errOut, "ServiceUnavailableException: 2") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if sent, _, failed := parseSummary(t, out); sent != 1 || failed != 2 {
		t.Errorf("summary %q", out)
	}
	b, err := os.ReadFile(failedFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("b\nc\n", string(b)); diff != "" {
		t.Errorf("failed file (-want +got):\n%s", diff)
	}
}

func TestReadWindows(t *testing.T) {
	tests := []struct {
		name, format, in string
		keep             bool
		want             []string
		wantErr          string
	}{
		{"lines keep newlines", formatLines, "a\nb\r\n\n  \nc", true, []string{"a\n", "b\r\n", "c\n"}, ""},
		{"lines without newlines", formatLines, "a\nb\r\nc", false, []string{"a", "b", "c"}, ""},
		{"auto picks jsonl", formatAuto, "{\"a\":1}\n{\"a\":2}\n", true, []string{"{\"a\":1}\n", "{\"a\":2}\n"}, ""},
		{"auto jsonl stops at a non-JSON line", formatAuto, "{\"a\":1}\nnope\n{}\n", true, []string{"{\"a\":1}\n"}, "line 2, column 2: not JSON: invalid character 'o' in literal null (expecting 'u')"},
		{"auto picks lines", formatAuto, "plain\n{\"a\":1}\n", true, []string{"plain\n", "{\"a\":1}\n"}, ""},
		{"jsonl rejects text", formatJSONL, "\nplain\n", true, nil, "line 2, column 1: not JSON: invalid character 'p' looking for beginning of value"},
		{"long line", formatLines, strings.Repeat("x", 3<<20) + "\n", true, []string{strings.Repeat("x", 3<<20) + "\n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make(chan window, 100)
			err := readWindows(context.Background(), strings.NewReader(tt.in), tt.format, tt.keep, out)
			close(out)
			var got []string
			var input int64
			for w := range out {
				input += w.input
				for _, r := range w.records {
					got = append(got, string(r))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
			if err == nil && input != int64(len(tt.in)) {
				t.Errorf("input bytes %d, want %d", input, len(tt.in))
			}
		})
	}
}

func TestReadWindowsSplitsAtTheLimits(t *testing.T) {
	out := make(chan window, 100)
	in := strings.Repeat("{}\n", windowRecords*2+1)
	if err := readWindows(context.Background(), strings.NewReader(in), formatJSONL, true, out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var sizes []int
	for w := range out {
		sizes = append(sizes, len(w.records))
	}
	if diff := cmp.Diff([]int{windowRecords, windowRecords, 1}, sizes); diff != "" {
		t.Errorf("window sizes (-want +got):\n%s", diff)
	}
}

func TestMockData(t *testing.T) {
	isolateAWS(t)
	gen := func(seed string) string {
		return mustRun(t, "mock-data", "--count", "500", "--seed", seed, "--end", "2024-05-01T12:00:00Z")
	}
	a, b, c := gen("42"), gen("42"), gen("43")
	if a != b {
		t.Error("same seed, different output")
	}
	if a == c {
		t.Error("different seeds, same output")
	}
	lines := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	if len(lines) != 500 {
		t.Fatalf("%d lines, want 500", len(lines))
	}
	wantKeys := []string{"bytes", "ip", "method", "path", "referrer", "session", "status", "timestamp", "user_agent"}
	end := mustParseTime(t, "2024-05-01T12:00:00Z")
	prev := ""
	statuses := map[float64]bool{}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if diff := cmp.Diff(wantKeys, keys); diff != "" {
			t.Fatalf("line %d keys (-want +got):\n%s", i+1, diff)
		}
		ts := m["timestamp"].(string)
		tm := mustParseTime(t, ts)
		if tm.After(end) || tm.Before(end.Add(-time.Hour)) || ts < prev {
			t.Errorf("line %d: timestamp %s not rising within the hour before %s", i+1, ts, end)
		}
		prev = ts
		statuses[m["status"].(float64)] = true
	}
	if !statuses[200] || len(statuses) < 4 {
		t.Errorf("statuses %v: want a realistic mix", statuses)
	}
}

func TestMetricsShowsIncomingRecords(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "m", "m")
	path := writeMockData(t, 120)
	mustRun(t, "put-batch", "--endpoint-url", h.url, "--delivery-stream-name", "m", "--file", path, "--progress", "off")
	for range 3 {
		mustRun(t, "put", "--endpoint-url", h.url, "--delivery-stream-name", "m", "--data", "x", "--newline")
	}
	out := mustRun(t, "metrics", "--endpoint-url", h.url, "--delivery-stream-name", "m", "--minutes", "10")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Fields(lines[0])
	if diff := cmp.Diff([]string{"TIME", "IncomingBytes", "IncomingRecords", "DeliveryToS3.Bytes", "DeliveryToS3.Records", "DeliveryToS3.DataFreshness", "(max)"}, header); diff != "" {
		t.Fatalf("header (-want +got):\n%s\n%s", diff, out)
	}
	total := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l) // date, time, then one field per metric
		n, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		total += n
	}
	if total != 123 {
		t.Errorf("IncomingRecords sum %d, want 123:\n%s", total, out)
	}
	_, errOut, code := run(t, "metrics", "--endpoint-url", h.url, "--delivery-stream-name", "m", "--period", "61")
	if code == 0 || !strings.Contains(errOut, "--period 61") {
		t.Errorf("bad period: exit %d, stderr %q", code, errOut)
	}
}

func TestBench(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "b", "b")
	out := mustRun(t, "bench", "--endpoint-url", h.url, "--delivery-stream-name", "b", "--concurrency", "4",
		"--record-bytes", "256", "--batch-records", "100", "--duration", "1s")
	for _, re := range []string{
		`calls +[1-9]\d* \(0 failed\)`, `records +[1-9]\d* sent, 0 failed`,
		`throughput +\d+\.\d records/s, \d+\.\d\d MB/s`, `latency +p50 \S+  p90 \S+  p99 \S+  max \S+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
	// --count bounds the run before the duration, and --rate paces it.
	out = mustRun(t, "bench", "--endpoint-url", h.url, "--delivery-stream-name", "b", "--count", "250", "--batch-records", "100",
		"--rate", "1000", "--duration", "10s")
	if !strings.Contains(out, "records     250 sent, 0 failed") {
		t.Errorf("--count 250:\n%s", out)
	}
	_, errOut, code := run(t, "bench", "--endpoint-url", h.url, "--delivery-stream-name", "missing", "--duration", "200ms")
	if code == 0 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("bench of a missing stream: exit %d, stderr %q", code, errOut)
	}
}

func TestPercentile(t *testing.T) {
	var d []int64
	for i := 1; i <= 100; i++ {
		d = append(d, int64(i))
	}
	got := []int64{}
	for _, q := range []float64{50, 90, 99, 100} {
		got = append(got, int64(percentile(durations(d), q)))
	}
	if diff := cmp.Diff([]int64{50, 90, 99, 100}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty: want 0")
	}
}

func TestPutBatchCanceled(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "c", "c")
	path := writeMockData(t, 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut strings.Builder
	code := Execute(ctx, []string{"put-batch", "--endpoint-url", h.url, "--delivery-stream-name", "c", "--file", path, "--progress", "off"}, &out, &errOut)
	if code == 0 {
		t.Errorf("canceled put-batch: exit 0: %s", out.String())
	}
	if errors.Is(ctx.Err(), context.Canceled) && !strings.Contains(errOut.String(), "canceled") {
		t.Errorf("stderr %q: want the cancellation", errOut.String())
	}
}

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func durations(n []int64) []time.Duration {
	d := make([]time.Duration, len(n))
	for i, v := range n {
		d[i] = time.Duration(v)
	}
	return d
}
