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
	"net/url"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

// FuzzParseAuthorization: ParseAuthorization never panics, refuses only with
// IncompleteSignatureException and texts of its own (never the input's bytes), and what it
// accepts formats back to a header that parses to the same value.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260505/eu-west-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig64)
	texts := []string{msgNeedCredential, msgNeedSignature, msgNeedSignedHeaders, msgAlgorithm, msgPair,
		msgUnknown, msgDuplicate, msgScopeParts, msgScopeTerminator}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIncomplete || e.Status != http.StatusBadRequest {
				t.Fatalf("error %#v, want an IncompleteSignatureException", err)
			}
			rest := e.Message
			for _, m := range texts {
				rest = strings.ReplaceAll(rest, m, "")
			}
			if strings.TrimSpace(rest) != "" {
				t.Fatalf("message %q holds more than known texts: %q", e.Message, rest)
			}
			return
		}
		b, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("%q parses as %#v, which formats as %q, which does not parse: %v", h, a, a.String(), err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", h, diff)
		}
	})
}

// FuzzVerify: any method, path, query, header and body that aws-sdk-go-v2 signs and Go's HTTP
// carries verifies, with the whole body; and any Authorization, X-Amz-Date and Date headers
// on such a request never panic and refuse only with *Error.
func FuzzVerify(f *testing.F) {
	f.Add("POST", "", "", "X-Amz-Target", "Firehose_20150804.PutRecord", []byte(`{"a":1}`), false, "", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, name, value string, body []byte, chunked bool, auth, amzDate, date string) {
		if !token(method) {
			method = "POST"
		}
		u, err := url.Parse("http://" + testHost + "/" + path)
		if err != nil {
			return
		}
		u.RawQuery = query // the signer rewrites it in canonical form, as it sends it
		req := &http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{}, ContentLength: int64(len(body))}
		if len(body) > 0 || chunked {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		if chunked {
			req.ContentLength = -1
		}
		if token(name) && fieldValue(value) && !special(name) {
			req.Header.Add(name, value)
		}
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), testCreds(), req, hex.EncodeToString(sum[:]), testService, testRegion, at0()); err != nil {
			t.Fatalf("SignHTTP: %v", err)
		}
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			return
		}
		raw := buf.Bytes()
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil || r.URL.EscapedPath() != u.EscapedPath() {
			return // not carried as sent: a property of net/http, not of the verifier
		}
		got, err := verifyAll(testVerifier(at0()), r, testService)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("%q: body %q, want %q", raw, got, body)
		}

		// The same request with arbitrary authentication headers.
		r, _ = http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		for k, v := range map[string]string{"Authorization": auth, "X-Amz-Date": amzDate, "Date": date} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		_, err = verifyAll(testVerifier(at0()), r, testService)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && err != io.ErrUnexpectedEOF {
				t.Fatalf("error %#v is not a *sigv4.Error", err)
			}
			if e != nil && strings.Contains(e.Message, testSecret) {
				t.Fatalf("error %q holds the secret", e.Message)
			}
		}
	})
}

func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// fieldValue reports whether HTTP/1.1 carries v as a header value: no control bytes but tab.
func fieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// special reports headers that net/http or the signer treat apart: what they do with them is
// tested elsewhere.
func special(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "te", "trailer", "upgrade",
		"expect", "authorization", "date", "x-amz-date", "x-amz-security-token",
		"x-amz-content-sha256", "keep-alive", "proxy-connection":
		return true
	}
	return false
}
