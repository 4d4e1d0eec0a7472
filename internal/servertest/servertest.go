// Package servertest runs an in-process Hydrant on a random loopback port for the tests of the
// packages that use it as a client (the producer, the CLI, the examples), and reads back what
// it delivered to its local-directory destination.
package servertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/internal/server"
)

// Hydrant is a running server and a Firehose client pointed at it.
type Hydrant struct {
	URL     string
	DataDir string
	Client  *firehose.Client
}

// Logger discards, or writes debug logs to stderr when HYDRANT_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("HYDRANT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Start runs a server with its data in a temporary directory until the test ends; mutate
// adjusts its configuration.
func Start(t testing.TB, mutate ...func(*server.Config)) *Hydrant {
	t.Helper()
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir()}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := server.New(cfg, Logger())
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
	url := "http://" + srv.Addr()
	return &Hydrant{URL: url, DataDir: cfg.DataDir, Client: firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})}
}

// CreateStream creates a DirectPut stream delivering to bucket and waits until it is ACTIVE.
func (h *Hydrant) CreateStream(t testing.TB, stream, bucket string) {
	t.Helper()
	ctx := context.Background()
	_, err := h.Client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(stream),
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN: aws.String("arn:aws:iam::000000000000:role/r"), BucketARN: aws.String("arn:aws:s3:::" + bucket),
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := h.Client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream: %v", err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE", stream)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Do sends an admin request (a path under /_hydrant/) and fails the test unless it is answered 200.
func (h *Hydrant) Do(t testing.TB, method, path, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return b
}

// Faults sets the injected faults of a stream (see server.Faults).
func (h *Hydrant) Faults(t testing.TB, stream, faults string) {
	t.Helper()
	h.Do(t, http.MethodPut, "/_hydrant/streams/"+stream+"/faults", faults)
}

// Flush makes the server write every buffered record.
func (h *Hydrant) Flush(t testing.TB) {
	t.Helper()
	h.Do(t, http.MethodPost, "/_hydrant/flush", "")
}

// Objects returns the contents of the objects delivered to bucket, in key order.
func (h *Hydrant) Objects(t testing.TB, bucket string) [][]byte {
	t.Helper()
	var out [][]byte
	err := filepath.WalkDir(filepath.Join(h.DataDir, "s3", bucket), func(p string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out = append(out, b)
		return err
	})
	if err != nil {
		t.Fatalf("read bucket %s: %v", bucket, err)
	}
	return out
}

// Lines flushes and counts how many times each line (with its newline) was delivered to bucket.
func (h *Hydrant) Lines(t testing.TB, bucket string) map[string]int {
	t.Helper()
	h.Flush(t)
	got := map[string]int{}
	for _, b := range h.Objects(t, bucket) {
		for line := range bytes.Lines(b) {
			got[string(line)]++
		}
	}
	return got
}
