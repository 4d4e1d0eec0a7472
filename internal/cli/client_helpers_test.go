package cli

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrant-dev/hydrant/internal/server"
)

// hydrant is an in-process server of one test.
type hydrant struct {
	url, dir string
}

// isolateAWS points the AWS configuration at nothing, so that tests see neither the
// developer's profiles nor configured endpoints, and gives static credentials.
func isolateAWS(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_FIREHOSE", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "") // restores the value after the test
		os.Unsetenv(k)
	}
}

// startHydrant runs a server on a random port with its data in a temp dir until the test ends.
func startHydrant(t *testing.T) *hydrant {
	t.Helper()
	isolateAWS(t)
	dir := t.TempDir()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return &hydrant{url: "http://" + srv.Addr(), dir: dir}
}

// run executes the hydrant command line and returns its stdout, stderr and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustRun executes the command line and fails the test on a non-zero exit.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("hydrant %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// createStream creates a direct-put stream delivering to bucket and waits until it is ACTIVE.
func (h *hydrant) createStream(t *testing.T, name, bucket string) {
	t.Helper()
	mustRun(t, "streams", "create", "--endpoint-url", h.url, "--wait", "--delivery-stream-name", name, "--cli-input-json",
		`{"ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::`+bucket+`",
		"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":900}}}`)
}

// do sends a request to the server's control API and fails the test unless it answers 2xx.
func (h *hydrant) do(t *testing.T, method, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
}

// delivered flushes the server and returns the records written under the bucket, as lines.
func (h *hydrant) delivered(t *testing.T, bucket string) []string {
	t.Helper()
	h.do(t, http.MethodPost, "/_hydrant/flush", "")
	var lines []string
	root := filepath.Join(h.dir, "s3", bucket)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for l := range strings.Lines(string(b)) {
			lines = append(lines, l)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return lines
}
