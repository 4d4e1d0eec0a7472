package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/mockdata"
	"github.com/hydrant-dev/hydrant/internal/servertest"
)

var testEnd = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// testOptions are the options of a run against url with logs to logs.
func testOptions(url, stream string, logs *bytes.Buffer, level slog.Level) Options {
	o := Options{EndpointURL: url, Stream: stream, Region: "us-east-1", Records: DefaultRecords, Seed: 1, End: testEnd,
		Single: DefaultSingle, BatchSize: DefaultBatchSize, MetricsWait: 10 * time.Second, MetricsPoll: 50 * time.Millisecond}
	o.Retry.MaxTrials = 5
	o.Retry.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	return o
}

// wantSummary is the summary of a run that delivered every record once.
func wantSummary(records [][]byte) Summary {
	n := 0
	for _, r := range records {
		n += len(r)
	}
	return Summary{Sent: len(records), SentBytes: n, MetricRecords: float64(len(records)), MetricBytes: float64(n)}
}

// TestScenarioTwiceOnOneStream runs the scenario twice in a row on one stream, the
// second time from a mock-data file with a batch size of 120: each run passes, and its
// metric check counts its own records only.
func TestScenarioTwiceOnOneStream(t *testing.T) {
	h := servertest.Start(t)
	generated, err := mockdata.Records(1, DefaultRecords, testEnd)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := mockdata.Records(7, 1000, testEnd)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "traffic.jsonl")
	if err := os.WriteFile(file, bytes.Join(fromFile, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		name    string
		mutate  func(*Options)
		records [][]byte
	}{
		{"generated", func(*Options) {}, generated},
		{"file in batches of 120", func(o *Options) { o.File, o.BatchSize = file, 120 }, fromFile},
	}
	wantLines := map[string]int{}
	for _, run := range runs {
		var logs bytes.Buffer
		o := testOptions(h.URL, "scenario", &logs, slog.LevelInfo)
		run.mutate(&o)
		sum, err := Run(context.Background(), o, o.Retry.Logger)
		if err != nil {
			t.Fatalf("%s: Run: %v\n%s", run.name, err, logs.String())
		}
		if diff := cmp.Diff(wantSummary(run.records), sum); diff != "" {
			t.Errorf("%s: Summary (-want +got):\n%s", run.name, diff)
		}
		for _, msg := range []string{`msg="put record"`, `msg="put record batch"`, `msg="metrics before"`, `msg=metrics`} {
			if !bytes.Contains(logs.Bytes(), []byte(msg)) {
				t.Errorf("%s: logs lack %s", run.name, msg)
			}
		}
		for _, r := range run.records {
			wantLines[string(r)]++
		}
	}
	// Every record of both runs is delivered once.
	if diff := cmp.Diff(wantLines, h.Lines(t, "scenario")); diff != "" {
		t.Errorf("delivered lines (-want +got):\n%s", diff)
	}
}

// TestScenarioLogsFailedRecords lets only 100 records of each call succeed: at debug
// level every failed record's error message is logged at every attempt, and the run
// fails with ErrNotDelivered naming what was not delivered.
func TestScenarioLogsFailedRecords(t *testing.T) {
	h := servertest.Start(t)
	h.CreateStream(t, "faulty", "faulty")
	h.Faults(t, "faulty", `{"succeedPerCall":100}`)
	var logs bytes.Buffer
	o := testOptions(h.URL, "faulty", &logs, slog.LevelDebug)
	o.Records, o.Single, o.BatchSize, o.Retry.MaxTrials = 150, 0, 150, 1
	sum, err := Run(context.Background(), o, o.Retry.Logger)
	if !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("Run: %v, want ErrNotDelivered\n%s", err, logs.String())
	}
	if sum.Sent != 100 || sum.Failed != 50 || sum.MetricRecords != 100 {
		t.Errorf("Summary %+v: want 100 sent, 50 failed, 100 counted", sum)
	}
	if got := strings.Count(logs.String(), `level=DEBUG msg="record failed" stream=faulty`); got != 50 {
		t.Errorf("%d debug lines for failed records, want 50:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), `err="Slow down."`) {
		t.Errorf("logs lack the records' error message:\n%s", logs.String())
	}
}

// fakeMetrics answers every GetMetricStatistics with one datapoint of sum.
type fakeMetrics struct {
	sum   float64
	calls int
}

func (f *fakeMetrics) GetMetricStatistics(_ context.Context, in *cloudwatch.GetMetricStatisticsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error) {
	f.calls++
	return &cloudwatch.GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []cwtypes.Datapoint{{Sum: aws.Float64(f.sum)}}}, nil
}

// TestMetricCheckBound checks that await polls until its bound and then reports the
// growth it saw, and that growth beyond what was sent passes.
func TestMetricCheckBound(t *testing.T) {
	tests := []struct {
		name        string
		before, now float64
		wait        time.Duration
		wantErr     error
		wantGrowth  float64
		minCalls    int
	}{
		{"nothing arrived", 10, 10, 200 * time.Millisecond, ErrMetricsIncomplete, 0, 4},
		{"read once", 10, 10, 0, ErrMetricsIncomplete, 0, 2},
		{"exactly what was sent", 10, 15, time.Second, nil, 5, 2},
		{"other puts too", 10, 30, time.Second, nil, 20, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeMetrics{sum: tt.now}
			m := metricCheck{cw: f, stream: "s", from: time.Now(), log: slog.New(slog.DiscardHandler)}
			records, bytes, err := m.await(context.Background(), sums{tt.before, tt.before}, Summary{Sent: 5, SentBytes: 5}, tt.wait, 20*time.Millisecond)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("await: %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "IncomingRecords grew by 0 and IncomingBytes by 0; want 5 and 5") {
				t.Errorf("error %q does not report what arrived", err)
			}
			if records != tt.wantGrowth || bytes != tt.wantGrowth {
				t.Errorf("growth %v, %v; want %v", records, bytes, tt.wantGrowth)
			}
			if f.calls < tt.minCalls {
				t.Errorf("%d calls, want at least %d", f.calls, tt.minCalls)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	valid := testOptions("http://127.0.0.1:1", "s", &bytes.Buffer{}, slog.LevelInfo)
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string // empty: valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"no stream", func(o *Options) { o.Stream = "" }, "empty stream name"},
		{"batch size 0", func(o *Options) { o.BatchSize = 0 }, "batch size 0 must be between 1 and 500"},
		{"batch size 501", func(o *Options) { o.BatchSize = 501 }, "batch size 501 must be between 1 and 500"},
		{"negative records", func(o *Options) { o.Records = -1 }, "records -1 must not be negative"},
		{"negative records with a file", func(o *Options) { o.Records, o.File = -1, "x" }, ""},
		{"negative wait", func(o *Options) { o.MetricsWait = -time.Second }, "metrics wait -1s must not be negative"},
		{"zero poll", func(o *Options) { o.MetricsPoll = 0 }, "metrics poll 0s must be positive"},
		{"negative trials", func(o *Options) { o.Retry.MaxTrials = -1 }, "MaxTrials -1 must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want ErrInvalidOptions with %q", err, tt.want)
			}
		})
	}
}

// TestLoadRecordsFromFile reads a file without a final newline and with blank lines.
func TestLoadRecordsFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("{\"a\":1}\n\n  \n{\"b\":2}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadRecords(Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"{\"a\":1}\n", "{\"b\":2}\n"}, strings.SplitAfter(string(bytes.Join(got, nil)), "\n")[:2]); diff != "" || len(got) != 2 {
		t.Errorf("records %q (-want +got):\n%s", got, diff)
	}
	if _, err := loadRecords(Options{File: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("loadRecords of a missing file: no error")
	}
}
