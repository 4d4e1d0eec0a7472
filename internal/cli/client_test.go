package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConnectResolvesEndpoints(t *testing.T) {
	type result struct {
		Firehose, CloudWatch, Region string
		AWS                          bool
	}
	tests := []struct {
		name    string
		env     map[string]string
		profile string // shared config file contents
		flags   awsFlags
		want    result
		wantErr error
	}{
		{"default is hydrant", nil, "", awsFlags{},
			result{defaultEndpoint, defaultEndpoint, "us-east-1", false}, nil},
		{"flag", nil, "", awsFlags{endpoint: "http://127.0.0.1:9999", region: "eu-west-1"},
			result{"http://127.0.0.1:9999", "http://127.0.0.1:9999", "eu-west-1", false}, nil},
		{"global env", map[string]string{"AWS_ENDPOINT_URL": "http://10.0.0.1:4573"}, "", awsFlags{},
			result{"http://10.0.0.1:4573", "http://10.0.0.1:4573", "us-east-1", false}, nil},
		{"service env wins over global", map[string]string{"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_FIREHOSE": "http://b:2", "AWS_ENDPOINT_URL_CLOUDWATCH": "http://c:3"}, "", awsFlags{},
			result{"http://b:2", "http://c:3", "us-east-1", false}, nil},
		{"flag wins over env", map[string]string{"AWS_ENDPOINT_URL_FIREHOSE": "http://b:2", "AWS_ENDPOINT_URL_CLOUDWATCH": "http://c:3"}, "", awsFlags{endpoint: "http://f:1"},
			result{"http://f:1", "http://f:1", "us-east-1", false}, nil},
		{"aws", map[string]string{"AWS_REGION": "eu-central-1", "AWS_ENDPOINT_URL_FIREHOSE": "http://b:2"}, "", awsFlags{endpoint: "aws"},
			result{"", "https://monitoring.eu-central-1.amazonaws.com", "eu-central-1", true}, nil},
		{"aws needs a region", nil, "", awsFlags{endpoint: "aws"}, result{}, errNoRegion},
		{"profile endpoint and region", nil, "[profile dev]\nregion = ap-south-1\nendpoint_url = http://d:4\n", awsFlags{profile: "dev"},
			result{"http://d:4", "http://d:4", "ap-south-1", false}, nil},
		{"ignore configured endpoints", map[string]string{"AWS_ENDPOINT_URL": "http://a:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", awsFlags{},
			result{defaultEndpoint, defaultEndpoint, "us-east-1", false}, nil},
		{"an AWS host in the environment", map[string]string{"AWS_REGION": "us-west-2", "AWS_ENDPOINT_URL_FIREHOSE": "https://firehose.us-west-2.amazonaws.com"}, "", awsFlags{},
			result{"https://firehose.us-west-2.amazonaws.com", "https://firehose.us-west-2.amazonaws.com", "us-west-2", true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWS(t)
			if tt.profile != "" {
				path := filepath.Join(t.TempDir(), "config")
				if err := os.WriteFile(path, []byte(tt.profile), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_CONFIG_FILE", path)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := tt.flags.connect(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("connect: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := result{c.endpoint, c.cloudWatchEndpoint(t.Context(), tt.flags.endpoint != ""), c.cfg.Region, c.aws()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if fe := c.firehose().Options().BaseEndpoint; (fe == nil) != (tt.want.Firehose == "") || fe != nil && *fe != tt.want.Firehose {
				t.Errorf("client BaseEndpoint %v, want %q", fe, tt.want.Firehose)
			}
		})
	}
}

func TestConnectSignsWithoutCredentials(t *testing.T) {
	isolateAWS(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	c, err := (&awsFlags{endpoint: "http://127.0.0.1:1"}).connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := c.cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "hydrant" {
		t.Errorf("credentials %+v, %v: want the placeholder", creds, err)
	}
	if _, err := (&awsFlags{endpoint: "ftp://x"}).connect(t.Context()); err == nil {
		t.Error("ftp endpoint accepted")
	}
}
