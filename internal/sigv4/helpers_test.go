package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

const (
	testRegion  = "eu-west-1"
	testService = "firehose"
	testKeyID   = "AKIAHYDRANTEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	// tokenKeyID's key requires testToken.
	tokenKeyID = "ASIAHYDRANTEXAMPLE"
	testToken  = "FwoGZXIvYXdzEHydrantSessionToken//////////wEaDH+example=="
	testHost   = "hydrant.test:4573"
)

// at0 is the time of the tests' server clock and, unless a test says otherwise, of signing.
func at0() time.Time { return time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC) }

// testVerifier knows testKeyID and tokenKeyID, and its clock stands at now.
func testVerifier(now time.Time) *Verifier {
	keys := map[string]Key{
		testKeyID:  {AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		tokenKeyID: {AccessKeyID: tokenKeyID, SecretAccessKey: testSecret + "2", SessionToken: testToken},
	}
	return &Verifier{
		Region: testRegion,
		Now:    func() time.Time { return now },
		Lookup: func(id string) (Key, bool) { k, ok := keys[id]; return k, ok },
	}
}

// awsCreds shortens the credentials type in tables.
type awsCreds = aws.Credentials

func testCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
}

func tokenCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: tokenKeyID, SecretAccessKey: testSecret + "2", SessionToken: testToken}
}

// signed describes a request to sign with aws-sdk-go-v2's signer.
type signed struct {
	method, target string // target: path and query, as a client's URL has them
	header         http.Header
	body           []byte
	chunked        bool // send the body with unknown length (Transfer-Encoding: chunked)
	creds          aws.Credentials
	region         string
	service        string
	at             time.Time
}

// signGo signs s with aws-sdk-go-v2's v4 signer and returns the request as Go's server reads
// it from the wire.
func signGo(t testing.TB, s signed) *http.Request {
	t.Helper()
	req := clientRequest(t, s)
	sum := sha256.Sum256(s.body)
	if s.creds.AccessKeyID == "" {
		s.creds = testCreds()
	}
	if s.region == "" {
		s.region = testRegion
	}
	if s.service == "" {
		s.service = testService
	}
	if s.at.IsZero() {
		s.at = at0()
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), s.creds, req, hex.EncodeToString(sum[:]), s.service, s.region, s.at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return wire(t, req)
}

// clientRequest builds s as a client would send it, before signing.
func clientRequest(t testing.TB, s signed) *http.Request {
	t.Helper()
	if s.method == "" {
		s.method = http.MethodPost
	}
	if s.target == "" {
		s.target = "/"
	}
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequest(s.method, "http://"+testHost+s.target, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, vs := range s.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if s.chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(s.body))
	}
	return req
}

// wire writes req as a client does and reads it back as Go's server does, so that Host,
// Content-Length and Transfer-Encoding reach Verify where they do in production.
func wire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	return r
}

// verifyAll runs Verify and reads the body as a handler does, returning the body read and the
// first error.
func verifyAll(v *Verifier, r *http.Request, service string) ([]byte, error) {
	if _, err := v.Verify(r, service); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// asError returns err as *Error, or reports that it is not one.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *sigv4.Error", err, err)
	}
	return e
}

// wantBody reports err, and a body that differs from want.
func wantBody(t testing.TB, got []byte, err error, want []byte) {
	t.Helper()
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("body: got %d bytes, want %d (diff: %s)", len(got), len(want), cmp.Diff(shorten(want), shorten(got)))
	}
}

func shorten(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// mismatch is the answer to a signature that does not match.
func mismatch() *Error { return invalid(msgMismatch) }

// bodyOf returns n bytes of JSON-ish text.
func bodyOf(n int) []byte {
	const chunk = `{"DeliveryStreamName":"web-logs","Record":{"Data":"aGVsbG8gd29ybGQK"}}`
	return []byte(strings.Repeat(chunk, n/len(chunk)+1)[:n])
}
