package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

// validCases are requests every signer must get verified: they are signed by aws-sdk-go-v2 here
// and by botocore in botocore_test.go.
func validCases() []struct {
	name string
	s    signed
} {
	firehose := http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"Firehose_20150804.PutRecord"},
	}
	return []struct {
		name string
		s    signed
	}{
		{"GET root", signed{method: "GET"}},
		{"GET delivery status", signed{method: "GET", target: "/_hydrant/streams/my-stream/delivery"}},
		{"GET console", signed{method: "GET", target: "/console/streams"}},
		{"HEAD", signed{method: "HEAD", target: "/metrics"}},
		{"POST empty body", signed{header: firehose, body: []byte{}}},
		{"POST 1 byte", signed{header: firehose, body: []byte("{")}},
		{"POST 1 KiB", signed{header: firehose, body: bodyOf(1 << 10)}},
		{"POST 5 MiB", signed{header: firehose, body: bodyOf(5 << 20)}},
		{"chunked 1 byte", signed{header: firehose, body: []byte("x"), chunked: true}},
		{"chunked 1 KiB", signed{header: firehose, body: bodyOf(1 << 10), chunked: true}},
		{"chunked 5 MiB", signed{header: firehose, body: bodyOf(5 << 20), chunked: true}},
		{"session token", signed{header: firehose, body: bodyOf(100), creds: tokenCreds()}},
		{"CloudWatch CBOR", signed{
			target:  "/service/GraniteServiceVersion20100801/operation/GetMetricData",
			service: "monitoring",
			header: http.Header{
				"Content-Type":          {"application/cbor"},
				"Accept":                {"application/cbor"},
				"Smithy-Protocol":       {"rpc-v2-cbor"},
				"Amz-Sdk-Invocation-Id": {"9b0f2b8e-2c1e-4b8e-9e53-0d3d5f2c1a7e"},
			},
			body: []byte{0xbf, 0x69, 'S', 't', 'a', 'r', 't', 'T', 'i', 'm', 'e', 0xff},
		}},
		{"CloudWatch query", signed{
			service: "monitoring",
			header:  http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			body:    []byte("Action=GetMetricData&Version=2010-08-01&MetricDataQueries.member.1.Id=m1"),
		}},
		{"flush with query", signed{target: "/_hydrant/flush?stream=web-logs"}},
		{"query sorted and encoded", signed{method: "GET", target: "/?b=2&a=1&a=0&empty=&flag&k=%E2%9C%93&s=a%20b&t=x~y_z.-"}},
		{"path with space", signed{method: "GET", target: "/_hydrant/streams/my%20stream/delivery"}},
		{"path with %2F", signed{method: "GET", target: "/_hydrant/streams/a%2Fb/delivery"}},
		{"path with reserved bytes", signed{method: "GET", target: "/_hydrant/streams/a:b@c!$&'()*+,;=/faults"}},
		{"path non-ASCII", signed{method: "GET", target: "/_hydrant/streams/%C3%A9t%C3%A9/faults"}},
		{"path with dot segments", signed{method: "GET", target: "/_hydrant/./streams/x/../y/faults"}},
		{"path with double slash", signed{method: "GET", target: "//_hydrant//streams/y/"}},
		{"headers spaces, tabs and repeats", signed{method: "GET", header: http.Header{
			"X-Custom":   {"  a   b  c  "},
			"X-Repeated": {"one", " two  words ", "three"},
			"X-Tab":      {"a\t\tb"},
			"X-Empty":    {""},
		}}},
	}
}

// TestSDKSigned verifies requests signed by aws-sdk-go-v2's v4 signer, read by every handler
// pattern: the whole body must come through exactly.
func TestSDKSigned(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) {
			r := signGo(t, c.s)
			service := c.s.service
			if service == "" {
				service = testService
			}
			key, err := testVerifier(at0()).Verify(r, service)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantKey := c.s.creds.AccessKeyID
			if wantKey == "" {
				wantKey = testKeyID
			}
			if key.AccessKeyID != wantKey {
				t.Errorf("key %q, want %q", key.AccessKeyID, wantKey)
			}
			if err := iotest.TestReader(r.Body, c.s.body); err != nil {
				t.Errorf("body: %v", err)
			}
		})
	}
}

// TestSDKSkew accepts a date up to the skew away either way, and refuses one beyond it.
func TestSDKSkew(t *testing.T) {
	cases := []struct {
		name   string
		offset time.Duration // of the signing time from the server's clock
		want   *Error
	}{
		{"4m59s behind", -4*time.Minute - 59*time.Second, nil},
		{"4m59s ahead", 4*time.Minute + 59*time.Second, nil},
		{"exactly 5m behind", -5 * time.Minute, nil},
		{"exactly 5m ahead", 5 * time.Minute, nil},
		{"5m01s behind", -5*time.Minute - time.Second, invalid(
			"Signature expired: 20260505T115459Z is now earlier than 20260505T115500Z (20260505T120000Z - 5 min.)")},
		{"5m01s ahead", 5*time.Minute + time.Second, invalid(
			"Signature not yet current: 20260505T120501Z is still later than 20260505T120500Z (20260505T120000Z + 5 min.)")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, body := range [][]byte{nil, bodyOf(10)} {
				r := signGo(t, signed{body: body, at: at0().Add(c.offset)})
				got, err := verifyAll(testVerifier(at0()), r, testService)
				if c.want == nil {
					wantBody(t, got, err, body)
					continue
				}
				if diff := cmp.Diff(c.want, asError(t, err)); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestSkewSetting uses the configured skew in the refusal's text.
func TestSkewSetting(t *testing.T) {
	v := testVerifier(at0())
	v.Skew = 90 * time.Second
	r := signGo(t, signed{at: at0().Add(-91 * time.Second)})
	want := invalid("Signature expired: 20260505T115829Z is now earlier than 20260505T115830Z (20260505T120000Z - 1.5 min.)")
	_, err := v.Verify(r, testService)
	if diff := cmp.Diff(want, asError(t, err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

// TestRealServer sends SDK-signed requests through Go's HTTP client and server, known and
// unknown lengths, and checks what the handler reads.
func TestRealServer(t *testing.T) {
	v := testVerifier(at0())
	type result struct {
		body []byte
		err  *Error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := verifyAll(v, r, testService)
		var e *Error
		if err != nil {
			e = asError(t, err)
		}
		results <- result{body, e}
	}))
	defer srv.Close()

	for _, c := range []struct {
		name    string
		body    []byte
		chunked bool
		tamper  bool
	}{
		{"GET", nil, false, false},
		{"1 KiB", bodyOf(1 << 10), false, false},
		{"5 MiB chunked", bodyOf(5 << 20), true, false},
		{"5 MiB tampered", bodyOf(5 << 20), false, true},
		{"1 KiB chunked tampered", bodyOf(1 << 10), true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := http.MethodPost
			if c.body == nil {
				method = http.MethodGet
			}
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
			}
			req, err := http.NewRequest(method, srv.URL+"/", body)
			if err != nil {
				t.Fatal(err)
			}
			if c.chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(bytes.NewReader(c.body))
			}
			sum := sha256.Sum256(c.body)
			if err := v4.NewSigner().SignHTTP(context.Background(), testCreds(), req, hex.EncodeToString(sum[:]), testService, testRegion, at0()); err != nil {
				t.Fatal(err)
			}
			sent := c.body
			var want *Error
			if c.tamper {
				sent = bytes.Clone(c.body)
				sent[len(sent)/2] ^= 1
				req.Body = io.NopCloser(bytes.NewReader(sent))
				want = mismatch()
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := <-results
			if diff := cmp.Diff(want, got.err); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			// The handler holds the whole body exactly when the signature matched.
			if whole := len(sent) > 0 && bytes.Equal(got.body, sent); whole != (len(sent) > 0 && want == nil) {
				t.Errorf("handler read %d of %d bytes, whole body %v", len(got.body), len(sent), whole)
			}
		})
	}
}
