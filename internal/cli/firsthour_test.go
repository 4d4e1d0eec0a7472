package cli

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/server"
)

func TestVersion(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "devel"},
		{"source tree without VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "devel"},
		{"go install of a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "v1.2.3"},
		{"source tree with VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "c648275abc", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "false")},
			true, "devel (c648275abc, 2026-12-01T10:00:00Z)"},
		{"modified tree", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261201100000-c648275abc12+dirty"},
			Settings: settings("vcs.revision", "c648275abc", "vcs.modified", "true")},
			true, "v1.2.4-0.20261201100000-c648275abc12+dirty (c648275abc-dirty)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, version(tt.info, tt.ok)); diff != "" {
				t.Errorf("version (-want +got):\n%s", diff)
			}
		})
	}
	out, errOut, code := run(t, "--version")
	if want := "hydrant " + version(debug.ReadBuildInfo()) + "\n"; code != 0 || out != want {
		t.Errorf("hydrant --version: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
}

func TestStreamGivenAsArgument(t *testing.T) {
	isolateAWS(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"put", "mystream", "--data", "x"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"put-batch", "mystream", "--file", "x"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"errors", "mystream"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"metrics", "mystream"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"bench", "mystream"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"streams", "describe", "mystream"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"streams", "delete", "mystream"}, `unexpected argument "mystream": give the stream with --delivery-stream-name mystream`},
		{[]string{"put", "--delivery-stream-name", "a", "b"}, `unexpected argument "b": "hydrant put" takes no arguments (see hydrant put --help)`},
		{[]string{"put", "a", "b"}, `unexpected argument "a": "hydrant put" takes no arguments (see hydrant put --help)`},
		{[]string{"mock-data", "x"}, `unexpected argument "x": "hydrant mock-data" takes no arguments (see hydrant mock-data --help)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if diff := cmp.Diff("hydrant: "+tt.want+"\n", errOut); diff != "" || code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; stderr (-want +got):\n%s", code, out, diff)
			}
		})
	}
}

func TestMissingStream(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "present", "pb")
	want := "hydrant: DescribeDeliveryStream: ResourceNotFoundException: Firehose nope under account " + server.DefaultAccountID + " not found.\n"
	tests := []struct {
		name string
		args []string
	}{
		{"metrics", []string{"metrics", "--endpoint-url", h.url, "--delivery-stream-name", "nope"}},
		{"errors", []string{"errors", "--endpoint-url", h.url, "--delivery-stream-name", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if diff := cmp.Diff(want, errOut); diff != "" || code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; stderr (-want +got):\n%s", code, out, diff)
			}
		})
	}
	// A stream that exists but has no data yet is not an error.
	if diff := cmp.Diff("no datapoints\n", mustRun(t, "metrics", "--endpoint-url", h.url, "--delivery-stream-name", "present")); diff != "" {
		t.Errorf("metrics of an idle stream (-want +got):\n%s", diff)
	}
}

func TestJSONErrorPosition(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"syntax on line 1", `{"DeliveryStreamName": x}`, "invalid JSON at line 1, column 24: invalid character 'x' looking for beginning of value"},
		{"syntax on line 3", "{\n  \"DeliveryStreamName\": \"a\",\n  \"DeliveryStreamType\" \"DirectPut\"\n}", "invalid JSON at line 3, column 24: invalid character '\"' after object key"},
		{"column counts characters", "{\"Tags\": [{\"Key\": \"é\", }]}", "invalid JSON at line 1, column 24: invalid character '}' looking for beginning of object key string"},
		{"truncated", "{\n  \"DeliveryStreamName\": \"a\"", "invalid JSON at line 2, column 27: unexpected end of JSON input"},
		{"empty", "  \n", "invalid JSON: empty input"},
		{"trailing data", "{}\n\n  {}", "invalid JSON at line 3, column 3: data after the top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in struct{ DeliveryStreamName, DeliveryStreamType *string }
			err := decodeInput([]byte(tt.in), &in)
			got := "<nil>"
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 records", 1: "1 record", 2: "2 records"} {
		if diff := cmp.Diff(want, count(n, "record", "records")); diff != "" {
			t.Errorf("count(%d) (-want +got):\n%s", n, diff)
		}
	}
}
