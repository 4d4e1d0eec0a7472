package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// awsCLI runs the real AWS CLI against one hydrant server.
type awsCLI struct {
	t        testing.TB
	bin      string
	endpoint string
	env      []string
	dir      string
}

func newAWSCLI(t testing.TB, endpoint string) *awsCLI {
	t.Helper()
	bin := requireTool(t, "aws")
	dir := t.TempDir()
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		// Keep the developer's own profiles out of the test.
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
	)
	return &awsCLI{t: t, bin: bin, endpoint: endpoint, env: env, dir: dir}
}

// run runs `aws --endpoint-url E firehose ARGS...` and returns stdout, stderr and the exit error.
func (c *awsCLI) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	full := append([]string{"--endpoint-url", c.endpoint, "firehose"}, args...)
	cmd := exec.Command(c.bin, full...)
	cmd.Env = c.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		c.t.Fatalf("aws %s: no answer within 60s", strings.Join(args, " "))
	}
	return o.String(), e.String(), err
}

// ok runs a command that must succeed and decodes its JSON output into out (when not nil).
func (c *awsCLI) ok(out any, args ...string) {
	c.t.Helper()
	stdout, stderr, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("aws firehose %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			c.t.Fatalf("aws firehose %s: output is not JSON: %v\n%s", args[0], err, stdout)
		}
	}
}

// file writes v as JSON into the CLI's temp dir and returns a file:// reference to it.
func (c *awsCLI) file(name string, v any) string {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return "file://" + p
}

type description struct {
	DeliveryStreamDescription struct {
		DeliveryStreamName   string
		DeliveryStreamStatus string
		VersionId            string
		Destinations         []struct {
			DestinationId                    string
			ExtendedS3DestinationDescription struct {
				CompressionFormat string
				BufferingHints    struct{ SizeInMBs, IntervalInSeconds int }
			}
		}
	}
}

func (c *awsCLI) describe(name string) description {
	c.t.Helper()
	var d description
	c.ok(&d, "describe-delivery-stream", "--delivery-stream-name", name)
	return d
}

func (c *awsCLI) waitActive(name string) description {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := c.describe(name)
		if d.DeliveryStreamDescription.DeliveryStreamStatus == "ACTIVE" {
			return d
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("stream %s not ACTIVE after 30s: %s", name, d.DeliveryStreamDescription.DeliveryStreamStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keyPattern is the Firehose object key for an expression-free empty prefix.
func keyPattern(stream string, version int, ext string) *regexp.Regexp {
	return regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/` + regexp.QuoteMeta(stream) + `-` +
		strconv.Itoa(version) +
		`-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}` +
		regexp.QuoteMeta(ext) + `$`)
}

// waitDelivered polls the data dir, without asking for a flush, until the objects of bucket
// whose key has prefix match hold want (decoded by decode, in write order), or the deadline.
func waitDelivered(t testing.TB, dataDir, bucket, keySub string, want []byte, decode func([]byte) ([]byte, error), within time.Duration) []object {
	t.Helper()
	deadline := time.Now().Add(within)
	var got []byte
	var objs []object
	for {
		got, objs = got[:0], objs[:0]
		for _, o := range listObjects(t, dataDir, bucket) {
			if !strings.Contains(o.Key, keySub) {
				continue
			}
			b := readFile(t, o.Path)
			d, err := decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", o.Key, err)
			}
			got = append(got, d...)
			objs = append(objs, o)
		}
		if bytes.Equal(got, want) {
			return objs
		}
		if len(got) > len(want) || time.Now().After(deadline) {
			t.Fatalf("objects %q of bucket %s after %v: content mismatch (-want +got):\n%s",
				keySub, bucket, within, cmp.Diff(string(want), string(got)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func identity(b []byte) ([]byte, error) { return b, nil }

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func TestAWSCLITour(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, "")
	cli := newAWSCLI(t, srv.URL)

	// Create exactly as a user would type it.
	var created struct{ DeliveryStreamARN string }
	cli.ok(&created, "create-delivery-stream", "--delivery-stream-name", "web",
		"--extended-s3-destination-configuration",
		"RoleARN=arn:aws:iam::000000000000:role/r,BucketARN=arn:aws:s3:::logs,BufferingHints={SizeInMBs=1,IntervalInSeconds=5}")
	if diff := cmp.Diff("arn:aws:firehose:us-east-1:000000000000:deliverystream/web", created.DeliveryStreamARN); diff != "" {
		t.Errorf("DeliveryStreamARN (-want +got):\n%s", diff)
	}
	d := cli.waitActive("web")
	if got := d.DeliveryStreamDescription.VersionId; got != "1" {
		t.Errorf("VersionId = %q, want \"1\"", got)
	}
	if len(d.DeliveryStreamDescription.Destinations) != 1 {
		t.Fatalf("Destinations = %+v, want one", d.DeliveryStreamDescription.Destinations)
	}
	destID := d.DeliveryStreamDescription.Destinations[0].DestinationId
	hints := d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.BufferingHints
	if hints.SizeInMBs != 1 || hints.IntervalInSeconds != 5 {
		t.Errorf("BufferingHints = %+v, want {1 5}", hints)
	}

	// Phase 1: records through put-record and put-record-batch, delivered by the 5 s interval.
	// The CLI v1 sends blob arguments raw and base64-encodes them itself.
	one := "put-record: caf\u00e9 \u2603\n"
	batch1 := []string{"batch-1 {\"a\":1}\n", "batch-1\ttab\n", "", "batch-1 last, no newline"}
	var putOut struct {
		RecordId  string
		Encrypted bool
	}
	cli.ok(&putOut, "put-record", "--cli-input-json", cli.file("put.json", map[string]any{
		"DeliveryStreamName": "web", "Record": map[string]string{"Data": one},
	}))
	firstAck := time.Now()
	if putOut.RecordId == "" {
		t.Error("put-record returned no RecordId")
	}
	var batchOut struct {
		FailedPutCount   int
		Encrypted        bool
		RequestResponses []struct{ RecordId, ErrorCode, ErrorMessage string }
	}
	cli.ok(&batchOut, "put-record-batch", "--delivery-stream-name", "web", "--records", cli.file("batch1.json", dataEntries(batch1)))
	if batchOut.FailedPutCount != 0 || len(batchOut.RequestResponses) != len(batch1) {
		t.Fatalf("put-record-batch: %+v", batchOut)
	}
	for i, r := range batchOut.RequestResponses {
		if r.RecordId == "" || r.ErrorCode != "" {
			t.Errorf("RequestResponses[%d] = %+v, want a RecordId and no error", i, r)
		}
	}
	want1 := one + strings.Join(batch1, "")

	// Control operations while the buffer waits.
	var list struct {
		DeliveryStreamNames    []string
		HasMoreDeliveryStreams bool
	}
	cli.ok(&list, "list-delivery-streams")
	if diff := cmp.Diff([]string{"web"}, list.DeliveryStreamNames); diff != "" || list.HasMoreDeliveryStreams {
		t.Errorf("list-delivery-streams (-want +got):\n%s HasMore=%v", diff, list.HasMoreDeliveryStreams)
	}
	type tag struct{ Key, Value string }
	var tags struct {
		Tags        []tag
		HasMoreTags bool
	}
	cli.ok(nil, "tag-delivery-stream", "--delivery-stream-name", "web", "--tags", "Key=env,Value=dev", "Key=team,Value=data")
	cli.ok(&tags, "list-tags-for-delivery-stream", "--delivery-stream-name", "web")
	if diff := cmp.Diff([]tag{{"env", "dev"}, {"team", "data"}}, tags.Tags); diff != "" {
		t.Errorf("tags after tag-delivery-stream (-want +got):\n%s", diff)
	}
	cli.ok(nil, "untag-delivery-stream", "--delivery-stream-name", "web", "--tag-keys", "team")
	tags.Tags = nil
	cli.ok(&tags, "list-tags-for-delivery-stream", "--delivery-stream-name", "web")
	if diff := cmp.Diff([]tag{{"env", "dev"}}, tags.Tags); diff != "" {
		t.Errorf("tags after untag-delivery-stream (-want +got):\n%s", diff)
	}

	// No flush: the interval alone must deliver.
	objs := waitDelivered(t, srv.DataDir, "logs", "web-1-", []byte(want1), identity, 15*time.Second)
	for _, o := range objs {
		if !keyPattern("web", 1, "").MatchString(o.Key) {
			t.Errorf("key %q does not have the Firehose form", o.Key)
		}
	}
	if wait := objs[0].ModTime.Sub(firstAck); wait < 3*time.Second {
		t.Errorf("first object written %v after the first put; a 5 s interval should buffer", wait)
	} else {
		t.Logf("interval delivery: first object %v after the first acknowledged put", wait.Round(time.Millisecond))
	}

	// Phase 2: update to GZIP; the version goes to 2 and later objects are .gz.
	cli.ok(nil, "update-destination", "--delivery-stream-name", "web",
		"--current-delivery-stream-version-id", "1", "--destination-id", destID,
		"--extended-s3-destination-update", "CompressionFormat=GZIP")
	d = cli.describe("web")
	if got := d.DeliveryStreamDescription.VersionId; got != "2" {
		t.Errorf("VersionId after update-destination = %q, want \"2\"", got)
	}
	if got := d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.CompressionFormat; got != "GZIP" {
		t.Errorf("CompressionFormat after update = %q, want GZIP", got)
	}
	batch2 := []string{"gz-1\n", "gz-2\n", "gz-3 \u00fcml\u00e4ut\n"}
	cli.ok(&batchOut, "put-record-batch", "--cli-input-json", cli.file("batch2.json", map[string]any{
		"DeliveryStreamName": "web", "Records": dataEntries(batch2),
	}))
	if batchOut.FailedPutCount != 0 {
		t.Fatalf("put-record-batch after update: %+v", batchOut)
	}

	// boto3 through python3: the same stream, three records.
	boto := []string{"boto-1\n", "boto-2\n", "boto-3\n"}
	botoPutRecordBatch(t, srv.URL, "web", boto)

	want2 := strings.Join(batch2, "") + strings.Join(boto, "")
	objs = waitDelivered(t, srv.DataDir, "logs", "web-2-", []byte(want2), gunzip, 15*time.Second)
	for _, o := range objs {
		if !keyPattern("web", 2, ".gz").MatchString(o.Key) {
			t.Errorf("key %q: want the Firehose form with version 2 and .gz", o.Key)
		}
	}
	// Nothing else was written: phase 1's object(s) and phase 2's.
	if n := len(srv.Objects("logs")); n == 0 {
		t.Error("no objects")
	}

	// Error paths: exit status non-zero and the exception name on stderr.
	long := strings.Repeat("a", 65)
	errCases := []struct {
		name string
		args []string
		want string
	}{
		{"describe missing stream", []string{"describe-delivery-stream", "--delivery-stream-name", "missing"}, "ResourceNotFoundException"},
		{"name of 65 characters", []string{"create-delivery-stream", "--delivery-stream-name", long,
			"--extended-s3-destination-configuration", "RoleARN=arn:aws:iam::000000000000:role/r,BucketARN=arn:aws:s3:::logs"}, "ValidationException"},
		{"create twice", []string{"create-delivery-stream", "--delivery-stream-name", "web",
			"--extended-s3-destination-configuration", "RoleARN=arn:aws:iam::000000000000:role/r,BucketARN=arn:aws:s3:::logs"}, "ResourceInUseException"},
		{"update with a stale version", []string{"update-destination", "--delivery-stream-name", "web",
			"--current-delivery-stream-version-id", "1", "--destination-id", destID,
			"--extended-s3-destination-update", "CompressionFormat=UNCOMPRESSED"}, "ConcurrentModificationException"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := cli.run(tc.args...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("exit error = %v, want a non-zero exit\nstdout: %s\nstderr: %s", err, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr = %q, want it to contain %s", stderr, tc.want)
			}
		})
	}
	if got := cli.describe("web").DeliveryStreamDescription.VersionId; got != "2" {
		t.Errorf("VersionId after refused update = %q, want \"2\"", got)
	}
}

func dataEntries(records []string) []map[string]string {
	out := make([]map[string]string, len(records))
	for i, r := range records {
		out[i] = map[string]string{"Data": r}
	}
	return out
}

const botoScript = `
import json, sys, boto3
url, stream, records = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = boto3.client("firehose", endpoint_url=url, region_name="us-east-1",
                 aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
r = c.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": x.encode()} for x in records])
print(json.dumps({"FailedPutCount": r["FailedPutCount"],
                  "RecordIds": [e.get("RecordId", "") for e in r["RequestResponses"]],
                  "RequestId": r["ResponseMetadata"]["RequestId"]}))
`

// botoPutRecordBatch sends records with boto3 and checks the answer.
func botoPutRecordBatch(t testing.TB, url, stream string, records []string) {
	t.Helper()
	py := requireTool(t, "python3")
	arg, _ := json.Marshal(records)
	cmd := exec.Command(py, "-c", botoScript, url, stream, string(arg))
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && strings.Contains(string(exit.Stderr), "No module named 'boto3'") && os.Getenv("CI") != "true" {
			t.Skip("boto3 not installed")
		}
		t.Fatalf("boto3 put_record_batch: %v\n%s", err, func() string {
			if errors.As(err, &exit) {
				return string(exit.Stderr)
			}
			return ""
		}())
	}
	var got struct {
		FailedPutCount int
		RecordIds      []string
		RequestId      string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output: %v: %s", err, out)
	}
	if got.FailedPutCount != 0 || len(got.RecordIds) != len(records) {
		t.Fatalf("boto3 put_record_batch = %+v, want FailedPutCount 0 and %d RecordIds", got, len(records))
	}
	seen := map[string]bool{}
	for i, id := range got.RecordIds {
		if id == "" || seen[id] {
			t.Errorf("boto3 RecordIds[%d] = %q: want a distinct non-empty id", i, id)
		}
		seen[id] = true
	}
	if got.RequestId == "" {
		t.Error("boto3 saw no RequestId (x-amzn-RequestId header)")
	}
}
