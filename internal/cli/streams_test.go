package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/google/go-cmp/cmp"
)

func TestStreamsLifecycle(t *testing.T) {
	h := startHydrant(t)
	ep := []string{"--endpoint-url", h.url}
	file := filepath.Join(t.TempDir(), "stream.json")
	if err := os.WriteFile(file, []byte(`{"DeliveryStreamName":"from-file","DeliveryStreamType":"DirectPut",
		"ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b2"},
		"Tags":[{"Key":"team","Value":"data"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, append([]string{"streams", "create", "--wait", "--cli-input-json",
		`{"DeliveryStreamName":"from-text","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::b1"}}`}, ep...)...)
	if want := "{\n    \"DeliveryStreamARN\": \"arn:aws:firehose:us-east-1:000000000000:deliverystream/from-text\"\n}\n"; out != want {
		t.Errorf("create output:\n%s\nwant:\n%s", out, want)
	}
	mustRun(t, append([]string{"streams", "create", "--wait", "--cli-input-json", "file://" + file}, ep...)...)

	if diff := cmp.Diff("from-file\nfrom-text\n", mustRun(t, append([]string{"streams", "list"}, ep...)...)); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	// One page of one name, as the AWS CLI prints ListDeliveryStreams.
	if diff := cmp.Diff("{\n    \"DeliveryStreamNames\": [\n        \"from-file\"\n    ],\n    \"HasMoreDeliveryStreams\": true\n}\n",
		mustRun(t, append([]string{"streams", "list", "--output", "json", "--limit", "1"}, ep...)...)); diff != "" {
		t.Errorf("list --output json (-want +got):\n%s", diff)
	}

	desc := mustRun(t, append([]string{"streams", "describe", "--delivery-stream-name", "from-file"}, ep...)...)
	var d struct {
		DeliveryStreamDescription struct {
			DeliveryStreamName, DeliveryStreamStatus, CreateTimestamp string
			Destinations                                              []struct {
				ExtendedS3DestinationDescription struct{ BucketARN string }
			}
		}
	}
	if err := json.Unmarshal([]byte(desc), &d); err != nil {
		t.Fatalf("describe is not JSON: %v\n%s", err, desc)
	}
	dd := d.DeliveryStreamDescription
	if dd.DeliveryStreamName != "from-file" || dd.DeliveryStreamStatus != "ACTIVE" || len(dd.Destinations) != 1 ||
		dd.Destinations[0].ExtendedS3DestinationDescription.BucketARN != "arn:aws:s3:::b2" {
		t.Errorf("describe:\n%s", desc)
	}
	if _, err := time.Parse(time.RFC3339Nano, dd.CreateTimestamp); err != nil {
		t.Errorf("CreateTimestamp %q is not ISO 8601: %v", dd.CreateTimestamp, err)
	}
	if !strings.HasPrefix(desc, "{\n    \"DeliveryStreamDescription\": {\n        \"") {
		t.Errorf("describe is not indented by four spaces:\n%s", desc)
	}

	mustRun(t, append([]string{"streams", "delete", "--wait", "--delivery-stream-name", "from-text"}, ep...)...)
	if diff := cmp.Diff("from-file\n", mustRun(t, append([]string{"streams", "list"}, ep...)...)); diff != "" {
		t.Errorf("list after delete (-want +got):\n%s", diff)
	}
	_, errOut, code := run(t, append([]string{"streams", "describe", "--delivery-stream-name", "from-text"}, ep...)...)
	if code == 0 || !strings.Contains(errOut, "DescribeDeliveryStream: ResourceNotFoundException") {
		t.Errorf("describe of a deleted stream: exit %d, stderr %q", code, errOut)
	}
}

// TestCreateSendsTheInputJSON checks that a --cli-input-json request decoded into the SDK's
// input struct reaches the wire member for member.
func TestCreateSendsTheInputJSON(t *testing.T) {
	isolateAWS(t)
	var sent []byte
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"DeliveryStreamARN":"arn:aws:firehose:us-east-1:000000000000:deliverystream/full"}`))
	}))
	defer fake.Close()
	input, err := os.ReadFile("testdata/create-stream.json")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "streams", "create", "--endpoint-url", fake.URL, "--cli-input-json", "file://testdata/create-stream.json")
	var want, got any
	if err := json.Unmarshal(input, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sent, &got); err != nil {
		t.Fatalf("sent %q: %v", sent, err)
	}
	// The SDK sends timestamps as epoch seconds; the fixture gives one as RFC 3339.
	ts := want.(map[string]any)["MSKSourceConfiguration"].(map[string]any)
	ts["ReadFromTimestamp"] = float64(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Unix())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request body (-input +sent):\n%s", diff)
	}
}

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string // lines of the validation error; nil for success
	}{
		{"ok", `{"DeliveryStreamName":"s","Tags":[{"Key":"k","Value":"v"}]}`, nil},
		{"epoch timestamp", `{"DeliveryStreamName":"s","MSKSourceConfiguration":{"ReadFromTimestamp":1714564800.5}}`, nil},
		{"unknown top-level", `{"DeliveryStreamName":"s","Foo":1}`, []string{
			`Unknown parameter in input: "Foo", must be one of: `}},
		{"member names are case-sensitive", `{"deliveryStreamName":"s"}`, []string{
			`Unknown parameter in input: "deliveryStreamName", must be one of: `}},
		{"nested unknown and wrong types", `{"DeliveryStreamName":7,"ExtendedS3DestinationConfiguration":{"Bucket":"b","BufferingHints":{"SizeInMBs":"5"}},"Tags":[{"Key":true}]}`, []string{
			`Invalid type for parameter DeliveryStreamName, value: 7, type: number, valid types: string`,
			`Unknown parameter in ExtendedS3DestinationConfiguration: "Bucket", must be one of: `,
			`Invalid type for parameter ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs, value: 5, type: string, valid types: integer`,
			`Invalid type for parameter Tags[0].Key, value: true, type: boolean, valid types: string`}},
		{"not an object", `[1]`, []string{`Invalid type for parameter input, value: [1], type: list, valid types: object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in firehose.CreateDeliveryStreamInput
			err := decodeInput([]byte(tt.json), &in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if !errors.Is(err, errParamValidation) {
				t.Fatalf("err %v: want a parameter validation error", err)
			}
			lines := strings.Split(err.Error(), "\n")[1:]
			if len(lines) != len(tt.want) {
				t.Fatalf("error:\n%v\nwant %d problems", err, len(tt.want))
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, tt.want[i]) {
					t.Errorf("problem %d:\n%s\nwant prefix:\n%s", i, l, tt.want[i])
				}
			}
		})
	}
	var in firehose.CreateDeliveryStreamInput
	if err := decodeInput([]byte(`{"DeliveryStreamName":"s","MSKSourceConfiguration":{"ReadFromTimestamp":1714564800.5}}`), &in); err != nil {
		t.Fatal(err)
	}
	if got, want := *in.MSKSourceConfiguration.ReadFromTimestamp, time.Unix(1714564800, 5e8); !got.Equal(want) {
		t.Errorf("ReadFromTimestamp %v, want %v", got, want)
	}
}

func TestReadCLIInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.json")
	if err := os.WriteFile(path, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{`{"a":1}`, "file://" + path, "fileb://" + path} {
		got, err := readCLIInput(arg)
		if err != nil || string(got) != `{"a":1}` {
			t.Errorf("readCLIInput(%q) = %q, %v", arg, got, err)
		}
	}
	if _, err := readCLIInput("file://" + filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestWriteCLIJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty response", ``, "{}\n"},
		{"nesting and order", `{"b":[1,{"x":null}],"a":{},"c":[],"d":"<é>"}`,
			"{\n    \"b\": [\n        1,\n        {\n            \"x\": null\n        }\n    ],\n    \"a\": {},\n    \"c\": [],\n    \"d\": \"<é>\"\n}\n"},
		{"timestamps", `{"CreateTimestamp":1.714564800123E9,"LastUpdateTimestamp":1714564800,"SizeInMBs":5}`,
			"{\n    \"CreateTimestamp\": \"2024-05-01T12:00:00.123000+00:00\",\n    \"LastUpdateTimestamp\": \"2024-05-01T12:00:00+00:00\",\n    \"SizeInMBs\": 5\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeCLIJSON(&b, []byte(tt.in), time.UTC); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	var b bytes.Buffer
	if err := writeCLIJSON(&b, []byte(`{"T":1714564800}`), time.FixedZone("PDT", -7*3600)); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{\n    "T": 1714564800\n\}\n$`).MatchString(b.String()) {
		t.Errorf("a member not named *Timestamp changed: %q", b.String())
	}
	b.Reset()
	_ = writeCLIJSON(&b, []byte(`{"CreateTimestamp":1714564800}`), time.FixedZone("PDT", -7*3600))
	if !strings.Contains(b.String(), `"2024-05-01T05:00:00-07:00"`) {
		t.Errorf("local offset: %q", b.String())
	}
}
