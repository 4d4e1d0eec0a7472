package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/server"
)

func startHydrant(t testing.TB) (url, dir string) {
	t.Helper()
	dir = t.TempDir()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not become ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + srv.Addr(), dir
}

func TestScenarioAgainstHydrant(t *testing.T) {
	url, dir := startHydrant(t)
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

	// Every record is delivered once, in order within the one object.
	resp, err := http.Post(url+"/_hydrant/flush", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	got := map[string]int{}
	err = filepath.WalkDir(filepath.Join(dir, "s3", "scenario"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for line := range bytes.Lines(b) {
			got[string(line)]++
		}
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
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
