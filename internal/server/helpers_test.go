package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
)

// testServer is an in-process Hydrant on a random port with a Firehose client pointed at it.
type testServer struct {
	srv    *Server
	client *firehose.Client
	url    string
	dir    string
	stop   func()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("HYDRANT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a server on dir (a fresh temp dir when empty) until the test ends.
func startServer(t testing.TB, dir string, mutate ...func(*Config)) *testServer {
	t.Helper()
	ts, ready := launchServer(t, dir, mutate...)
	if err := ready(); err != nil {
		t.Fatal(err)
	}
	return ts
}

// launchServer starts a server as startServer does and returns at once; ready waits until it
// serves. Several servers that wait for each other (a cluster) are launched first, then waited
// for.
func launchServer(t testing.TB, dir string, mutate ...func(*Config)) (ts *testServer, ready func() error) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	ts = &testServer{srv: srv, dir: dir, stop: stop}
	return ts, func() error {
		select {
		case <-srv.Ready():
		case err := <-done:
			stopped = true
			return fmt.Errorf("Run: %w", err)
		case <-time.After(60 * time.Second):
			return errors.New("server did not become ready")
		}
		ts.url = "http://" + srv.Addr()
		ts.client = firehose.New(firehose.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(ts.url),
			Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		})
		return nil
	}
}

func s3Config(bucket string) *types.ExtendedS3DestinationConfiguration {
	return &types.ExtendedS3DestinationConfiguration{
		RoleARN:   aws.String("arn:aws:iam::000000000000:role/r"),
		BucketARN: aws.String("arn:aws:s3:::" + bucket),
	}
}

// createStream creates a stream and waits until it is ACTIVE.
func (ts *testServer) createStream(t testing.TB, in *firehose.CreateDeliveryStreamInput) {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.client.CreateDeliveryStream(ctx, in); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	ts.waitStatus(t, *in.DeliveryStreamName, types.DeliveryStreamStatusActive)
}

func (ts *testServer) waitStatus(t testing.TB, name string, want types.DeliveryStreamStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := ts.client.DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream: %v", err)
		}
		if got := out.DeliveryStreamDescription.DeliveryStreamStatus; got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("stream %s status %s, want %s", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flush asks the server to deliver every buffered record now.
func (ts *testServer) flush(t testing.TB) {
	t.Helper()
	flushWithin(t, ts, 2*time.Minute)
}

// flushWithin posts a flush that must answer within d.
func flushWithin(t testing.TB, ts *testServer, d time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: d}
	resp, err := c.Post(ts.url+"/_hydrant/flush", "application/json", nil)
	if err != nil {
		t.Fatalf("flush did not answer within %v: %v", d, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("flush: %s %s", resp.Status, b)
	}
}

// objects returns the delivered objects of a bucket: key → content.
func (ts *testServer) objects(t testing.TB, bucket string) map[string][]byte {
	t.Helper()
	root := filepath.Join(ts.dir, "s3", bucket)
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// apiError returns the code and message of an AWS API error, or fails the test.
func apiError(t testing.TB, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
