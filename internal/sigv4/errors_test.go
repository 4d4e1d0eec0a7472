package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

// sig64 is a well-formed signature that matches nothing.
const sig64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestRefusals covers every refusal of the design's error table, each with its code, message
// and status, on requests signed by aws-sdk-go-v2 and then altered.
func TestRefusals(t *testing.T) {
	setAuth := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	withScope := func(scope, signedHeaders string) func(*http.Request) {
		return setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + sig64)
	}
	unrecognized := &Error{Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid.", Status: 400}
	incompleteErr := func(msg string) *Error { return &Error{Code: CodeIncomplete, Message: msg, Status: 400} }
	invalidErr := func(msg string) *Error { return &Error{Code: CodeInvalidSignature, Message: msg, Status: 400} }

	cases := []struct {
		name     string
		s        signed              // signed by aws-sdk-go-v2, then
		alter    func(*http.Request) // altered
		verifier func(v *Verifier)   // and verified by testVerifier altered so
		want     *Error
	}{
		{
			name:  "no Authorization",
			alter: func(r *http.Request) { r.Header.Del("Authorization") },
			want:  &Error{Code: CodeMissingToken, Message: "Missing Authentication Token", Status: 403},
		},
		{
			name:  "empty Authorization",
			alter: setAuth(""),
			want:  &Error{Code: CodeMissingToken, Message: "Missing Authentication Token", Status: 403},
		},
		{
			name: "presigned URL",
			alter: func(r *http.Request) {
				req, _ := http.NewRequest("GET", "http://"+testHost+"/", nil)
				u, _, err := v4.NewSigner().PresignHTTP(context.Background(), testCreds(), req, emptyHash, testService, testRegion, at0())
				if err != nil {
					panic(err)
				}
				r.Header.Del("Authorization")
				r.Header.Del("X-Amz-Date")
				r.URL.RawQuery = u[strings.IndexByte(u, '?')+1:]
			},
			want: &Error{Code: CodeMissingToken, Message: "Missing Authentication Token", Status: 403},
		},
		{
			name:  "two Authorization headers",
			alter: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			want:  incompleteErr("Authorization header must appear once."),
		},
		{
			name:  "other algorithm",
			alter: setAuth("AWS4-HMAC-SHA512 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host, Signature=" + sig64),
			want:  incompleteErr("Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted."),
		},
		{
			name:  "bearer token",
			alter: setAuth("Bearer secret-token-not-to-echo"),
			want:  incompleteErr("Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted."),
		},
		{
			name:  "no Credential",
			alter: setAuth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + sig64),
			want:  incompleteErr("Authorization header requires 'Credential' parameter."),
		},
		{
			name:  "no Signature",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host;x-amz-date"),
			want:  incompleteErr("Authorization header requires 'Signature' parameter."),
		},
		{
			name:  "no SignedHeaders",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request,Signature=" + sig64),
			want:  incompleteErr("Authorization header requires 'SignedHeaders' parameter."),
		},
		{
			name:  "empty SignedHeaders",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=, Signature=" + sig64),
			want:  incompleteErr("Authorization header requires 'SignedHeaders' parameter."),
		},
		{
			name:  "nothing but the algorithm",
			alter: setAuth("AWS4-HMAC-SHA256"),
			want: incompleteErr("Authorization header requires 'Credential' parameter. " +
				"Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter."),
		},
		{
			name:  "component without =",
			alter: setAuth("AWS4-HMAC-SHA256 Credential " + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host, Signature=" + sig64),
			want:  incompleteErr("Authorization header has a component that is not a valid key=value pair (missing equal-sign)."),
		},
		{
			name:  "unknown component",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host, Signature=" + sig64 + ", Extra=1"),
			want:  incompleteErr("Authorization header has a component other than 'Credential', 'SignedHeaders' and 'Signature'."),
		},
		{
			name:  "repeated component",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host, Signature=" + sig64 + ", Signature=" + sig64),
			want:  incompleteErr("Authorization header has a component more than once."),
		},
		{
			name:  "scope of four parts",
			alter: withScope("20260505/eu-west-1/aws4_request", "host;x-amz-date"),
			want:  incompleteErr("Credential should be scoped as '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'."),
		},
		{
			name:  "scope of six parts",
			alter: withScope("20260505/eu-west-1/firehose/aws4_request/x", "host;x-amz-date"),
			want:  incompleteErr("Credential should be scoped as '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'."),
		},
		{
			name:  "scope terminator",
			alter: withScope("20260505/eu-west-1/firehose/aws4_reques", "host;x-amz-date"),
			want:  incompleteErr("Credential should be scoped with a valid terminator: 'aws4_request'."),
		},
		{
			name:  "no date",
			alter: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			want:  incompleteErr("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
		},
		{
			name:  "X-Amz-Date in extended format",
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-05-05T12:00:00Z") },
			want:  incompleteErr(msgBadDate),
		},
		{
			name:  "X-Amz-Date with fractional seconds",
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260505T120000.5Z") },
			want:  incompleteErr(msgBadDate),
		},
		{
			name:  "X-Amz-Date 31 February",
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260231T120000Z") },
			want:  incompleteErr(msgBadDate),
		},
		{
			name: "Date with a zone name",
			alter: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", "Tue, 05 May 2026 12:00:00 PST")
			},
			want: incompleteErr(msgBadDate),
		},
		{
			name: "scope region",
			s:    signed{region: "us-east-1"},
			want: invalidErr("Credential should be scoped to a valid region. "),
		},
		{
			name: "scope service",
			s:    signed{service: "monitoring"},
			want: invalidErr("Credential should be scoped to correct service: 'firehose'. "),
		},
		{
			name:  "scope date",
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260506T000100Z") },
			want: invalidErr("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
				"'20260505' != '20260506', from '20260506T000100Z'."),
		},
		{
			name:  "host unsigned",
			alter: withScope("20260505/eu-west-1/firehose/aws4_request", "x-amz-date"),
			want:  invalidErr("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
		},
		{
			name:  "X-Amz-Date unsigned",
			alter: withScope("20260505/eu-west-1/firehose/aws4_request", "host"),
			want:  invalidErr("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
		},
		{
			name: "Date unsigned",
			alter: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", "Tue, 05 May 2026 12:00:00 GMT")
				withScope("20260505/eu-west-1/firehose/aws4_request", "host")(r)
			},
			want: invalidErr("'Date' must be a 'SignedHeader' in the AWS Authorization."),
		},
		{
			name: "X-Amz-Security-Token unsigned",
			s:    signed{creds: tokenCreds()},
			alter: func(r *http.Request) {
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+tokenKeyID+"/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature="+sig64)
			},
			want: invalidErr("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."),
		},
		{
			name: "expired",
			s:    signed{at: at0().Add(-time.Hour)},
			want: invalidErr("Signature expired: 20260505T110000Z is now earlier than 20260505T115500Z (20260505T120000Z - 5 min.)"),
		},
		{
			name: "not yet current",
			s:    signed{at: at0().Add(time.Hour)},
			want: invalidErr("Signature not yet current: 20260505T130000Z is still later than 20260505T120500Z (20260505T120000Z + 5 min.)"),
		},
		{
			name: "unknown key id",
			s:    signed{creds: func() (c awsCreds) { c = testCreds(); c.AccessKeyID = "AKIAUNKNOWN"; return }()},
			want: unrecognized,
		},
		{
			name:     "no Lookup",
			verifier: func(v *Verifier) { v.Lookup = nil },
			want:     unrecognized,
		},
		{
			name: "session token missing",
			s:    signed{creds: func() (c awsCreds) { c = tokenCreds(); c.SessionToken = ""; return }()},
			want: unrecognized,
		},
		{
			name: "session token wrong",
			s:    signed{creds: func() (c awsCreds) { c = tokenCreds(); c.SessionToken = testToken[:len(testToken)-1] + "x"; return }()},
			want: unrecognized,
		},
		{
			name: "session token not expected",
			s:    signed{creds: func() (c awsCreds) { c = testCreds(); c.SessionToken = testToken; return }()},
			want: unrecognized,
		},
		{
			name: "UNSIGNED-PAYLOAD",
			s:    signed{header: http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, body: []byte("{}")},
			want: invalidErr(msgUnsignedPayload),
		},
		{
			name: "streaming payload",
			s:    signed{header: http.Header{"X-Amz-Content-Sha256": {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}}, body: []byte("{}")},
			want: invalidErr(msgUnsignedPayload),
		},
		{
			name: "X-Amz-Content-Sha256 of another body",
			s:    signed{method: "GET", header: http.Header{"X-Amz-Content-Sha256": {sig64}}},
			want: invalidErr("The provided 'x-amz-content-sha256' header does not match what was computed."),
		},
		{
			name:  "signature not hex",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("z", 64)),
			want:  mismatch(),
		},
		{
			name:  "signature short",
			alter: setAuth("AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"),
			want:  mismatch(),
		},
		{
			name: "wrong secret",
			s:    signed{creds: func() (c awsCreds) { c = testCreds(); c.SecretAccessKey += "x"; return }()},
			want: mismatch(),
		},
		{
			name: "wrong secret with a body",
			s:    signed{body: bodyOf(3000), creds: func() (c awsCreds) { c = testCreds(); c.SecretAccessKey = "other"; return }()},
			want: mismatch(),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			if s.method == "" && s.body == nil {
				s.method = "GET"
			}
			r := signGo(t, s)
			if c.alter != nil {
				c.alter(r)
			}
			v := testVerifier(at0())
			if c.verifier != nil {
				c.verifier(v)
			}
			_, err := verifyAll(v, r, testService)
			got := asError(t, err)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got != nil {
				for _, secret := range []string{testSecret, testToken, "secret-token-not-to-echo", sig64} {
					if strings.Contains(got.Error(), secret) {
						t.Errorf("error %q holds %q", got, secret)
					}
				}
			}
		})
	}
}

// emptyHash is the hex SHA-256 of no bytes.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// TestTampering alters a signed request in each part the signature covers.
func TestTampering(t *testing.T) {
	body := bodyOf(2048)
	cases := []struct {
		name  string
		alter func(*http.Request)
	}{
		{"body byte", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(string(flip(body, 1000)))) }},
		{"last body byte", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(string(flip(body, len(body)-1)))) }},
		{"signed header", func(r *http.Request) { r.Header.Set("X-Amz-Target", "Firehose_20150804.DeleteDeliveryStream") }},
		{"repeated signed header", func(r *http.Request) { r.Header.Add("X-Amz-Target", "Firehose_20150804.PutRecord") }},
		{"host", func(r *http.Request) { r.Host = "other.test:4573" }},
		{"path", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/_hydrant/flush", "" }},
		{"path escaping", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/_hydrant/streams/a/b/faults", "" }},
		{"query", func(r *http.Request) { r.URL.RawQuery = "stream=other" }},
		{"query dropped", func(r *http.Request) { r.URL.RawQuery = "" }},
		{"method", func(r *http.Request) { r.Method = "PUT" }},
		{"content-length signed", func(r *http.Request) { r.Header.Set("Content-Length", "2049") }},
		{"date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260505T120001Z") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := signGo(t, signed{
				method: "POST",
				target: "/_hydrant/streams/a%2Fb/faults?stream=web",
				header: http.Header{"X-Amz-Target": {"Firehose_20150804.PutRecord"}},
				body:   body,
			})
			c.alter(r)
			got, err := verifyAll(testVerifier(at0()), r, testService)
			if diff := cmp.Diff(mismatch(), asError(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if len(got) >= len(body) {
				t.Errorf("handler read %d bytes of %d", len(got), len(body))
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = append([]byte(nil), b...)
	b[i] ^= 0x20
	return b
}

// TestWithheld reads bodies as handlers do, through readers that split the stream in the
// ways the network does: the whole body arrives exactly when the signature matches, the last
// chunk is withheld otherwise, and the error sticks.
func TestWithheld(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data with EOF", iotest.DataErrReader},
	}
	reads := []struct {
		name string
		read func(r io.Reader, n int) ([]byte, error)
	}{
		{"ReadAll", func(r io.Reader, n int) ([]byte, error) { return io.ReadAll(r) }},
		{"ReadFull", func(r io.Reader, n int) ([]byte, error) {
			b := make([]byte, n)
			m, err := io.ReadFull(r, b)
			return b[:m], err
		}},
		{"1-byte reads", func(r io.Reader, n int) ([]byte, error) {
			var out []byte
			var b [1]byte
			for {
				m, err := r.Read(b[:])
				out = append(out, b[:m]...)
				if err == io.EOF {
					return out, nil
				} else if err != nil {
					return out, err
				}
			}
		}},
	}
	for _, size := range []int{1, 2, 3000, 100 << 10} {
		for _, chunked := range []bool{false, true} {
			for _, good := range []bool{true, false} {
				for _, rd := range readers {
					for _, read := range reads {
						name := rd.name + "/" + read.name
						body := bodyOf(size)
						r := signGo(t, signed{body: body, chunked: chunked})
						sent := body
						if !good {
							sent = flip(body, size/2)
						}
						r.Body = io.NopCloser(rd.wrap(strings.NewReader(string(sent))))
						if _, err := testVerifier(at0()).Verify(r, testService); err != nil {
							t.Fatalf("%s: Verify: %v", name, err)
						}
						got, err := read.read(r.Body, len(body))
						if good {
							if err != nil || string(got) != string(body) {
								t.Errorf("size %d chunked %v %s: read %d bytes, %v", size, chunked, name, len(got), err)
							}
							continue
						}
						if diff := cmp.Diff(mismatch(), asError(t, err)); diff != "" {
							t.Errorf("size %d chunked %v %s: (-want +got):\n%s", size, chunked, name, diff)
						}
						if len(got) >= len(sent) {
							t.Errorf("size %d chunked %v %s: read %d bytes of %d", size, chunked, name, len(got), len(sent))
						}
						// The error sticks.
						if n, err := r.Body.Read(make([]byte, 10)); n != 0 || !errors.Is(err, &Error{Code: CodeInvalidSignature}) {
							t.Errorf("size %d chunked %v %s: read after the refusal: %d, %v", size, chunked, name, n, err)
						}
					}
				}
			}
		}
	}
}

// TestBodyLengths: a body shorter than its Content-Length ends in io.ErrUnexpectedEOF and a
// longer one (only a request built in process can have one) is refused.
func TestBodyLengths(t *testing.T) {
	body := bodyOf(100)
	t.Run("longer", func(t *testing.T) {
		r := signGo(t, signed{body: body})
		r.Body = io.NopCloser(strings.NewReader(string(body) + "extra"))
		_, err := verifyAll(testVerifier(at0()), r, testService)
		if diff := cmp.Diff(invalid("The request body is longer than its Content-Length."), asError(t, err)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("bytes without a length", func(t *testing.T) {
		r := signGo(t, signed{method: "GET"})
		r.Body = io.NopCloser(strings.NewReader("smuggled"))
		_, err := verifyAll(testVerifier(at0()), r, testService)
		if diff := cmp.Diff(invalid("The request body is longer than its Content-Length."), asError(t, err)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("shorter", func(t *testing.T) {
		r := signGo(t, signed{body: body})
		r.Body = io.NopCloser(strings.NewReader(string(body[:99])))
		if _, err := verifyAll(testVerifier(at0()), r, testService); err != io.ErrUnexpectedEOF {
			t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

// TestAllocs keeps verification cheap: a handful of allocations besides the handler's.
func TestAllocs(t *testing.T) {
	for _, c := range []struct {
		name string
		s    signed
		max  float64
	}{
		{"GET", signed{method: "GET"}, 6},
		{"POST 1 KiB", signed{header: http.Header{"X-Amz-Target": {"Firehose_20150804.PutRecord"}}, body: bodyOf(1 << 10)}, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := signGo(t, c.s)
			v := testVerifier(at0())
			rd := &resettable{}
			allocs := testing.AllocsPerRun(100, func() {
				rd.Reset(c.s.body)
				r.Body = rd
				if _, err := v.Verify(r, testService); err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > c.max {
				t.Errorf("%v allocations a request, want at most %v", allocs, c.max)
			}
		})
	}
}

// resettable is a request body that can be read again without allocating.
type resettable struct{ bytes.Reader }

func (r *resettable) Reset(b []byte) { r.Reader.Reset(b) }
func (r *resettable) Close() error   { return nil }
