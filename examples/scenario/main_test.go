package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/servertest"
)

func TestScenarioAgainstHydrant(t *testing.T) {
	h := servertest.Start(t)
	url := h.URL
	var logs bytes.Buffer
	o := Options{EndpointURL: url, Stream: "scenario", Region: "us-east-1", Records: 2550, Single: 50, MetricsWait: 10 * time.Second}
	o.Retry.MaxTrials = 5
	o.Retry.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sum, err := Run(context.Background(), o, o.Retry.Logger)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	records := MockRecords(2550, 1)
	wantBytes := 0
	for _, r := range records {
		wantBytes += len(r)
	}
	want := Summary{Sent: 2550, SentBytes: wantBytes, MetricRecords: 2550, MetricBytes: float64(wantBytes)}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}

	// Every record is delivered once.
	got := h.Lines(t, "scenario")
	wantLines := map[string]int{}
	for _, r := range records {
		wantLines[string(r)]++
	}
	if diff := cmp.Diff(wantLines, got); diff != "" {
		t.Errorf("delivered lines (-want +got):\n%s", diff)
	}
	for _, msg := range []string{`msg="put record"`, `msg="put record batch"`, `msg=metrics`} {
		if !bytes.Contains(logs.Bytes(), []byte(msg)) {
			t.Errorf("logs lack %s", msg)
		}
	}
}

func TestMockRecordsDeterministic(t *testing.T) {
	a, b := MockRecords(100, 1), MockRecords(100, 1)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different records:\n%s", diff)
	}
	seen := map[string]bool{}
	for _, r := range a {
		if seen[string(r)] || r[len(r)-1] != '\n' {
			t.Fatalf("record %q duplicated or not a line", r)
		}
		seen[string(r)] = true
	}
}
