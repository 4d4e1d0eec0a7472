package sigv4

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// botoRequest is one request for testdata/botosign.py to sign.
type botoRequest struct {
	Method    string      `json:"method"`
	URL       string      `json:"url"`
	Headers   [][2]string `json:"headers"`
	Body      []byte      `json:"body"` // base64 in JSON
	AccessKey string      `json:"access_key"`
	SecretKey string      `json:"secret_key"`
	Token     string      `json:"token"`
	Region    string      `json:"region"`
	Service   string      `json:"service"`
	Time      string      `json:"time"`
}

// signBotocore signs reqs with botocore's SigV4Auth in one python3 process and returns the
// headers of each. Without python3 or botocore the test is skipped, unless CI is "true": there
// they must be installed.
func signBotocore(t *testing.T, reqs []botoRequest) [][][2]string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		unavailable("python3 is not installed: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import botocore.auth").CombinedOutput(); err != nil {
		unavailable("botocore is not installed: %v: %s", err, out)
	}
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/botosign.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botosign.py: %v: %s", err, stderr.Bytes())
	}
	var res struct {
		Version string        `json:"version"`
		Signed  [][][2]string `json:"signed"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("botosign.py output: %v", err)
	}
	t.Logf("signed by botocore %s", res.Version)
	return res.Signed
}

// TestBotocoreSigned verifies requests signed by botocore: the cases aws-sdk-go-v2 signs in
// TestSDKSigned, a session token, the Date header instead of X-Amz-Date, skew, and tampering.
func TestBotocoreSigned(t *testing.T) {
	type tc struct {
		name    string
		s       signed
		dateHdr bool          // sign with a Date header (botocore then sends no X-Amz-Date)
		offset  time.Duration // of the signing time from the server's clock
		tamper  func(*http.Request)
		want    *Error
	}
	var cases []tc
	for _, c := range validCases() {
		if _, ok := c.s.header["X-Tab"]; ok {
			// botocore collapses every run of white space in a value, aws-sdk-go-v2 (and
			// Hydrant) runs of spaces only: a value with inner tabs verifies from the Go SDK
			// alone. Drop the tab header and keep the rest of the case.
			h := c.s.header.Clone()
			delete(h, "X-Tab")
			c.s.header = h
		}
		cases = append(cases, tc{name: c.name, s: c.s})
	}
	cases = append(cases,
		tc{name: "Date header", s: signed{body: bodyOf(500)}, dateHdr: true},
		tc{name: "Date header GET", s: signed{method: "GET", target: "/metrics"}, dateHdr: true},
		tc{name: "4m59s behind", s: signed{body: bodyOf(10)}, offset: -4*time.Minute - 59*time.Second},
		tc{name: "4m59s ahead", s: signed{body: bodyOf(10)}, offset: 4*time.Minute + 59*time.Second},
		tc{name: "5m01s behind", s: signed{body: bodyOf(10)}, offset: -5*time.Minute - time.Second, want: invalid(
			"Signature expired: 20260505T115459Z is now earlier than 20260505T115500Z (20260505T120000Z - 5 min.)")},
		tc{name: "5m01s ahead Date", s: signed{body: bodyOf(10)}, dateHdr: true, offset: 5*time.Minute + time.Second, want: invalid(
			"Signature not yet current: 20260505T120501Z is still later than 20260505T120500Z (20260505T120000Z + 5 min.)")},
		tc{name: "tampered body", s: signed{body: bodyOf(4000)}, want: mismatch(), tamper: func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(flip(bodyOf(4000), 3999)))
		}},
		tc{name: "tampered path", s: signed{method: "GET", target: "/a/b"}, want: mismatch(), tamper: func(r *http.Request) {
			r.URL.Path = "/a/c"
		}},
		tc{name: "wrong secret", s: signed{method: "GET", creds: awsCreds{AccessKeyID: testKeyID, SecretAccessKey: "nope"}}, want: mismatch()},
	)

	var reqs []botoRequest
	for _, c := range cases {
		s := c.s
		if s.method == "" {
			s.method = "POST"
		}
		if s.target == "" {
			s.target = "/"
		}
		creds := s.creds
		if creds.AccessKeyID == "" {
			creds = testCreds()
		}
		b := botoRequest{
			Method: s.method, URL: "http://" + testHost + s.target, Body: s.body,
			AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey, Token: creds.SessionToken,
			Region: testRegion, Service: testService, Time: at0().Add(c.offset).Format(amzDateFormat),
			Headers: [][2]string{},
		}
		if s.service != "" {
			b.Service = s.service
		}
		for k, vs := range s.header {
			for _, v := range vs {
				b.Headers = append(b.Headers, [2]string{k, v})
			}
		}
		if c.dateHdr {
			b.Headers = append(b.Headers, [2]string{"Date", "replaced by botocore"})
		}
		reqs = append(reqs, b)
	}
	signedHeaders := signBotocore(t, reqs)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			s.header = http.Header{}
			for _, kv := range signedHeaders[i] {
				s.header.Add(kv[0], kv[1])
			}
			if c.dateHdr && (s.header.Get("X-Amz-Date") != "" || !strings.HasSuffix(s.header.Get("Date"), "-0000")) {
				t.Fatalf("botocore signed with the Date header %q and X-Amz-Date %q", s.header.Get("Date"), s.header.Get("X-Amz-Date"))
			}
			r := wire(t, clientRequest(t, s))
			if c.tamper != nil {
				c.tamper(r)
			}
			service := testService
			if c.s.service != "" {
				service = c.s.service
			}
			got, err := verifyAll(testVerifier(at0()), r, service)
			if c.want == nil {
				wantBody(t, got, err, c.s.body)
				return
			}
			if diff := cmp.Diff(c.want, asError(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
