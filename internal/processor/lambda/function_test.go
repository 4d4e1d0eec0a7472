package lambda

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFunction(t *testing.T) {
	tests := []struct {
		in      string
		want    function
		wantErr bool
	}{
		{in: "MetadataExtractor", want: function{name: "MetadataExtractor"}},
		{in: "MetadataExtractor:1", want: function{name: "MetadataExtractor", qualifier: "1"}},
		{in: "f:$LATEST", want: function{name: "f", qualifier: "$LATEST"}},
		{in: "123456789012:function:f", want: function{account: "123456789012", name: "f"}},
		{in: "123456789012:function:f:live", want: function{account: "123456789012", name: "f", qualifier: "live"}},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:MetadataExtractor:1",
			want: function{partition: "aws", region: "us-east-1", account: "123456789012", name: "MetadataExtractor", qualifier: "1"}},
		{in: "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
			want: function{partition: "aws-cn", region: "cn-north-1", account: "123456789012", name: "f"}},
		{in: "", wantErr: true},
		{in: "a b", wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "f:", wantErr: true},
		{in: "f:1:2", wantErr: true},
		{in: strings.Repeat("f", 65), wantErr: true},
		{in: "arn:aws:s3:us-east-1:123456789012:function:f", wantErr: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:f", wantErr: true},
		{in: "arn:aws:lambda::123456789012:function:f", wantErr: true},
		{in: "arn:aws:lambda:us-east-1:1234:function:f", wantErr: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:1:2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFunction(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidFunction) {
					t.Errorf("parseFunction(%q) = %+v, %v; want ErrInvalidFunction", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFunction(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(function{})); diff != "" {
				t.Errorf("parseFunction(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAWSEndpoint checks the endpoint derived from an ARN's partition and region, without
// leaving the process.
func TestAWSEndpoint(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	tests := []struct {
		fn, region, want string
	}{
		{"arn:aws:lambda:eu-west-1:123456789012:function:f:1", "",
			"https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Af%3A1/invocations"},
		{"arn:aws-cn:lambda:cn-north-1:123456789012:function:f", "us-east-1",
			"https://lambda.cn-north-1.amazonaws.com.cn/2015-03-31/functions/arn%3Aaws-cn%3Alambda%3Acn-north-1%3A123456789012%3Afunction%3Af/invocations"},
		{"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", "",
			"https://lambda.us-gov-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws-us-gov%3Alambda%3Aus-gov-west-1%3A123456789012%3Afunction%3Af/invocations"},
		{"f", "ap-northeast-1", "https://lambda.ap-northeast-1.amazonaws.com/2015-03-31/functions/f/invocations"},
		{"f", "", ""}, // no region anywhere: refused
	}
	for _, tt := range tests {
		t.Run(tt.fn+"@"+tt.region, func(t *testing.T) {
			inv, err := New(context.Background(), Config{Region: tt.region, AccessKeyID: "a", SecretAccessKey: "s"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			inv.client.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r.URL.String()
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
			})
			_, err = inv.Invoke(context.Background(), tt.fn, []byte(`{}`))
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "no region") {
					t.Errorf("Invoke error = %v, want no region", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("URL = %s\nwant  %s", got, tt.want)
			}
		})
	}
}

func FuzzParseFunction(f *testing.F) {
	for _, s := range []string{"f", "f:1", "123456789012:function:f:live", "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "arn:::::::", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := parseFunction(s)
		if err != nil {
			return
		}
		if fn.name == "" {
			t.Fatalf("parseFunction(%q) accepted an empty name", s)
		}
		if strings.ContainsAny(s, "/?#% ") {
			t.Fatalf("parseFunction(%q) accepted a character that needs escaping beyond ':' and '$'", s)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{`{"__type":"a#B","message":"m"}`, `{"Type":"User","message":"x","Reason":"r"}`, `{"errorMessage":"e","errorType":"t"}`, `<html>`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := parseErrorBody(body)
		_ = errorCode(b.Type)
		if len(snippet(body)) > 512+len("…") {
			t.Fatalf("snippet longer than its limit")
		}
	})
}
