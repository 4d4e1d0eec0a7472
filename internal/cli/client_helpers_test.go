package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrant-dev/hydrant/internal/servertest"
)

// hydrant is an in-process server of one test.
type hydrant struct {
	*servertest.Hydrant
	url string
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
	h := servertest.Start(t)
	return &hydrant{Hydrant: h, url: h.URL}
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

// do sends a request to the server's control API and fails the test unless it answers 200.
func (h *hydrant) do(t *testing.T, method, path, body string) { h.Do(t, method, path, body) }

// delivered flushes the server and returns the records written under the bucket, as lines.
func (h *hydrant) delivered(t *testing.T, bucket string) []string {
	t.Helper()
	h.Flush(t)
	var lines []string
	for _, b := range h.Objects(t, bucket) {
		for l := range strings.Lines(string(b)) {
			lines = append(lines, l)
		}
	}
	return lines
}
