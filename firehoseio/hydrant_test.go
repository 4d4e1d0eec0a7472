package firehoseio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// binary is the hydrant binary that TestMain builds from the checkout (the module
// above this one), since this module cannot import its internal/server.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The write DoFns build their clients with the AWS default chain, in this process
	// (ptest runs on prism with a loopback worker). Static credentials keep the chain
	// away from shared files and the instance metadata service.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKID",
		"AWS_SECRET_ACCESS_KEY":       "SECRET",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		os.Setenv(k, v)
	}
	dir, err := os.MkdirTemp("", "firehoseio-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "firehoseio:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "hydrant")
	start := time.Now()
	// GOWORK=off: build with the main module's own go.mod and go.sum.
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/hydrant")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "firehoseio: go build ./cmd/hydrant: %v\n%s", err, out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "firehoseio: built hydrant in %v\n", time.Since(start).Round(time.Millisecond))
	return ptest.MainRet(m)
}

// hydrant is one hydrant process serving on a loopback port.
type hydrant struct {
	URL     string
	DataDir string
	client  *firehose.Client
}

// startHydrant runs the binary on a free loopback port with a new data directory and
// waits until /_hydrant/health answers. The process is stopped when the test ends.
func startHydrant(t testing.TB) *hydrant {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "hydrant.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--data-dir", dir, "--listen", addr, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start hydrant: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("hydrant log:\n%s", b)
		}
	})
	h := &hydrant{URL: "http://" + addr, DataDir: dir}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("hydrant exited before it was healthy:\n%s", b)
		default:
		}
		resp, err := http.Get(h.URL + "/_hydrant/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hydrant on %s not healthy after 20s: %v", addr, err)
		}
	}
	h.client = firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return h
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// createStream creates a DirectPut stream delivering to the bucket of the same name and
// waits until it is ACTIVE.
func (h *hydrant) createStream(t testing.TB, stream string) {
	t.Helper()
	ctx := context.Background()
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(stream),
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN:   aws.String("arn:aws:iam::000000000000:role/firehoseio"),
			BucketARN: aws.String("arn:aws:s3:::" + stream),
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream %s: %v", stream, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream %s: %v", stream, err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE after 10s", stream)
		}
	}
}

// do sends an admin request and fails the test unless it answers 200.
func (h *hydrant) do(t testing.TB, method, path, body string) {
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
}

// faults sets the faults injected into stream's puts.
func (h *hydrant) faults(t testing.TB, stream, faults string) {
	t.Helper()
	h.do(t, http.MethodPut, "/_hydrant/streams/"+stream+"/faults", faults)
}

// delivered flushes every stream and returns the contents of bucket's objects,
// concatenated in key order.
func (h *hydrant) delivered(t testing.TB, bucket string) string {
	t.Helper()
	h.do(t, http.MethodPost, "/_hydrant/flush", "")
	var keys []string
	root := filepath.Join(h.DataDir, "s3", bucket)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		keys = append(keys, path)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	slices.Sort(keys)
	var all bytes.Buffer
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}
