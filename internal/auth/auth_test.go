package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		creds []Credential
		want  string // substring of the error; "" for none
	}{
		{"inline secret", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "s"}}, ""},
		{"secret file", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKeyFile: secretFile}}, ""},
		{"short key id", []Credential{{AccessKeyID: "AKIA", SecretAccessKey: "s"}}, "credentials[0]: accessKeyId \"AKIA\": must be 16 to 128"},
		{"no secret", []Credential{{AccessKeyID: "AKIAEXAMPLE00001"}}, "credentials[0]: accessKeyId AKIAEXAMPLE00001: needs a secretAccessKey"},
		{"both secrets", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "s", SecretAccessKeyFile: secretFile}}, "exclusive"},
		{"missing file", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKeyFile: filepath.Join(dir, "nope")}}, filepath.Join(dir, "nope")},
		{"duplicate", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "a"}, {AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "b"}}, "credentials[1]: accessKeyId AKIAEXAMPLE00001 appears twice"},
		{"class pattern", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "s", Streams: []string{"web-[ab]"}}}, "only * and ? are wildcards"},
		{"empty pattern", []Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "s", Actions: []string{""}}}, "empty pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.creds)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Compile: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Compile error %v, want one containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "file-secret"):
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
	s, err := Compile([]Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKeyFile: secretFile}})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := s.Lookup("AKIAEXAMPLE00001"); !ok || k.SecretAccessKey != "file-secret" || k.Name != "AKIAEXAMPLE00001" {
		t.Errorf("Lookup = %+v, %v; want the file's secret without its newline, named by the key id", k, ok)
	}
}

func TestAuthorize(t *testing.T) {
	s, err := Compile([]Credential{
		{AccessKeyID: "AKIAEVERYTHING01", SecretAccessKey: "a"},
		{AccessKeyID: "AKIAREADONLY0001", SecretAccessKey: "b", Name: "reader", Actions: []string{"firehose:Describe*", "firehose:List*"}},
		{AccessKeyID: "AKIAWEBWRITER001", SecretAccessKey: "c", Actions: []string{"firehose:Put*", "cloudwatch:GetMetric*"}, Streams: []string{"web-*", "exact"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(id string) *Principal {
		k, ok := s.Lookup(id)
		if !ok {
			t.Fatalf("no key %s", id)
		}
		return Signed(k, "eu-west-1", "123456789012")
	}
	tests := []struct {
		name           string
		p              *Principal
		action, stream string
		want           error
	}{
		{"everything", signed("AKIAEVERYTHING01"), "firehose:DeleteDeliveryStream", "x", nil},
		{"everything admin", signed("AKIAEVERYTHING01"), "hydrant:Flush", "", nil},
		{"describe", signed("AKIAREADONLY0001"), "firehose:DescribeDeliveryStream", "x", nil},
		{"action case-insensitive", signed("AKIAREADONLY0001"), "FIREHOSE:listdeliverystreams", "", nil},
		{"put refused", signed("AKIAREADONLY0001"), "firehose:PutRecord", "x", &Denied{
			User: "arn:aws:iam::123456789012:user/reader", Action: "firehose:PutRecord", Resource: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/x"}},
		{"stream matches", signed("AKIAWEBWRITER001"), "firehose:PutRecordBatch", "web-clicks", nil},
		{"stream exact", signed("AKIAWEBWRITER001"), "firehose:PutRecord", "exact", nil},
		{"stream case-sensitive", signed("AKIAWEBWRITER001"), "firehose:PutRecord", "Web-clicks", &Denied{
			User: "arn:aws:iam::123456789012:user/AKIAWEBWRITER001", Action: "firehose:PutRecord", Resource: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/Web-clicks"}},
		{"no stream resource", signed("AKIAWEBWRITER001"), "cloudwatch:GetMetricStatistics", "", nil},
		{"admin needs hydrant action", signed("AKIAWEBWRITER001"), "hydrant:Flush", "", &Denied{
			User: "arn:aws:iam::123456789012:user/AKIAWEBWRITER001", Action: "hydrant:Flush", Resource: "*"}},
		{"open", Open(), "firehose:DeleteDeliveryStream", "x", nil},
		{"loopback view", Loopback("hydrant:ViewConsole"), "hydrant:ViewConsole", "", nil},
		{"loopback view refuses more", Loopback("hydrant:ViewConsole"), "hydrant:Flush", "", &Denied{User: "anonymous", Action: "hydrant:Flush", Resource: "*"}},
		{"no principal", nil, "firehose:PutRecord", "x", ErrNoPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.p != nil {
				ctx = With(ctx, tt.p)
			}
			err := Authorize(ctx, tt.action, tt.stream)
			if errors.Is(tt.want, ErrNoPrincipal) {
				if !errors.Is(err, ErrNoPrincipal) {
					t.Fatalf("Authorize = %v, want ErrNoPrincipal", err)
				}
				return
			}
			var got *Denied
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("Authorize = %v, want a *Denied", err)
			}
			var want *Denied
			if tt.want != nil {
				want = tt.want.(*Denied)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Authorize (-want +got):\n%s", diff)
			}
		})
	}
	d := &Denied{User: "arn:aws:iam::1:user/u", Action: "firehose:PutRecord", Resource: "arn:aws:firehose:r:1:deliverystream/s"}
	if want := "User: arn:aws:iam::1:user/u is not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:r:1:deliverystream/s because no identity-based policy allows the firehose:PutRecord action"; d.Error() != want {
		t.Errorf("Denied text %q, want %q", d.Error(), want)
	}
}

func TestStoreSwap(t *testing.T) {
	a, _ := Compile([]Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "old"}})
	b, _ := Compile([]Credential{{AccessKeyID: "AKIAEXAMPLE00001", SecretAccessKey: "new"}})
	st := NewStore(a)
	st.Swap(b)
	if k, _ := st.Load().Lookup("AKIAEXAMPLE00001"); k.SecretAccessKey != "new" {
		t.Errorf("after Swap the secret is %q, want the new one", k.SecretAccessKey)
	}
	if !(&Set{}).Empty() || st.Load().Empty() {
		t.Error("Empty is wrong")
	}
}
