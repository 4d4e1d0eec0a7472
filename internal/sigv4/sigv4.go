// Package sigv4 verifies AWS Signature Version 4 signatures of HTTP requests, server side, as
// docs/design/auth.md ("SigV4 verification") specifies: header authentication only, checked in
// two phases so that a large body is hashed as it streams to the handler and its last byte is
// withheld unless the signature matches.
//
// The canonical request is built as aws-sdk-go-v2's signer and botocore build it for non-S3
// services, and the tests prove it against both. Where the two differ, the verifier accepts
// what either produces: the canonical URI is the path as sent, each segment URI-encoded once
// more (both SDKs), or, when the path has "." or ".." segments or empty ones ("//"), botocore's
// normalised form (dot segments removed, repeated slashes merged), which is what AWS computes.
// Header values are trimmed and their runs of spaces collapsed as aws-sdk-go-v2 does; botocore
// collapses tabs too, so a value with inner tabs verifies only from the Go SDK.
//
// Benchmark (BenchmarkVerify: Verify, then io.Copy of the body to io.Discard, for a PutRecord
// signed by aws-sdk-go-v2; go1.26.8 linux/amd64, nproc 2, "AMD EPYC", 2026-12-03):
//
//	BenchmarkVerify/1KiB-2       4737 ns/op   216 MB/s   2065 B/op   5 allocs/op
//	BenchmarkVerify/5120KiB-2 3462761 ns/op  1514 MB/s   2076 B/op   5 allocs/op
//
// The five allocations are the verification's state, its canonical-request buffer, two
// SHA-256 states and the signed-header list; the body is hashed as it passes, never copied.
package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Error codes of the refusals, as AWS spells them.
const (
	// CodeMissingToken: no Authorization header (HTTP 403).
	CodeMissingToken = "MissingAuthenticationTokenException"
	// CodeIncomplete: a malformed Authorization header or no date (HTTP 400).
	CodeIncomplete = "IncompleteSignatureException"
	// CodeUnrecognizedClient: an unknown key id or a wrong session token (HTTP 400).
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature: a wrong scope, unsigned required header, stale date or a signature
	// that does not match (HTTP 400).
	CodeInvalidSignature = "InvalidSignatureException"
)

// Error is a refusal with AWS's error code, message and HTTP status. Its message never holds a
// secret, a session token, the Authorization header or the body.
type Error struct {
	Code    string
	Message string
	Status  int
}

// Error returns "<code>: <message>".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &sigv4.Error{Code: sigv4.CodeInvalidSignature}) branches on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func incomplete(msg string) *Error {
	return &Error{Code: CodeIncomplete, Message: msg, Status: http.StatusBadRequest}
}

func invalid(msg string) *Error {
	return &Error{Code: CodeInvalidSignature, Message: msg, Status: http.StatusBadRequest}
}

// Messages of the table in docs/design/auth.md, verbatim (AWS ends some with a space).
const (
	msgMissingToken = "Missing Authentication Token"
	msgNoDate       = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
	msgBadDate      = "Date must be in ISO-8601 'basic format' (X-Amz-Date: yyyyMMdd'T'HHmmss'Z') or RFC 1123 (Date)."
	msgUnrecognized = "The security token included in the request is invalid."
	msgRegion       = "Credential should be scoped to a valid region. "
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgHostUnsigned    = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgAmzDateUnsigned = "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
	msgDateUnsigned    = "'Date' must be a 'SignedHeader' in the AWS Authorization."
	msgTokenUnsigned   = "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."
	// The texts below are Hydrant's: AWS answers neither case for these APIs.
	msgOnce            = "Authorization header must appear once."
	msgUnsignedPayload = "The payload must be signed: 'X-Amz-Content-Sha256' must be the hex SHA-256 of the body, not UNSIGNED-PAYLOAD."
	msgContentSHA      = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgBodyTooLong     = "The request body is longer than its Content-Length."
)

// amzDateFormat is X-Amz-Date's layout, ISO 8601 basic format.
const amzDateFormat = "20060102T150405Z"

// DefaultSkew is the clock difference accepted between a request's date and the server's.
const DefaultSkew = 5 * time.Minute

// Key is one credential: the secret and, optionally, the session token requests must carry.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when not empty, must be the request's X-Amz-Security-Token; when empty, a
	// request carrying a token is refused (it was signed with temporary credentials that this
	// server did not issue).
	SessionToken string
}

// Verifier verifies requests signed for Region. Its zero value refuses every request; it holds
// no state of its own, so one Verifier serves any number of requests at once.
type Verifier struct {
	// Region is the region requests must be scoped to.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Lookup returns the key of an access key id; nil refuses every key.
	Lookup func(accessKeyID string) (Key, bool)
	// Skew is the clock difference accepted either way; 0 means DefaultSkew.
	Skew time.Duration
}

// Verify checks r's signature for the signing service ("firehose", "monitoring", …).
//
// The headers are checked at once and any failure returned as *Error. A request without a body
// (ContentLength 0 and not chunked) has its signature compared at once too. Otherwise r.Body is
// replaced by a reader that hashes what passes and, on the read that would deliver the body's
// last byte (by r.ContentLength, or at the end of the stream when the length is unknown), first
// compares the signature, and on a mismatch returns (0, *Error with CodeInvalidSignature)
// instead of those bytes, and the same error on every later Read: a handler that reads the
// whole body before acting never acts on a request with a bad signature. A body longer than its
// ContentLength is refused the same way.
//
// On success Verify returns the Key that signed (its signature still to be confirmed by the
// body when there is one).
func (v *Verifier) Verify(r *http.Request, service string) (Key, error) {
	auth := r.Header["Authorization"]
	if len(auth) == 0 || (len(auth) == 1 && auth[0] == "") {
		// A presigned URL (X-Amz-Signature in the query) lands here too: query
		// authentication is not accepted (docs/design/auth.md).
		return Key{}, &Error{Code: CodeMissingToken, Message: msgMissingToken, Status: http.StatusForbidden}
	}
	if len(auth) > 1 {
		return Key{}, incomplete(msgOnce)
	}
	a, err := ParseAuthorization(auth[0])
	if err != nil {
		return Key{}, err
	}

	// The date: X-Amz-Date, or without it Date. The string to sign always holds the basic
	// ISO 8601 form (botocore writes it so when it signs with Date).
	var t time.Time
	var amzDate string
	amzHeader, hasAmzDate := first(r.Header, "X-Amz-Date")
	dateHeader, hasDate := first(r.Header, "Date")
	switch {
	case hasAmzDate:
		var ok bool
		if t, ok = parseAmzDate(amzHeader); !ok {
			return Key{}, incomplete(msgBadDate)
		}
		amzDate = amzHeader
	case hasDate:
		var ok bool
		if t, ok = parseHTTPDate(dateHeader); !ok {
			return Key{}, incomplete(msgBadDate)
		}
		amzDate = t.Format(amzDateFormat)
	default:
		return Key{}, incomplete(msgNoDate)
	}

	// The scope. These checks, the signed headers' and the clock's depend on the request
	// alone; the credential set is consulted only after them, so a client probing key ids
	// must first send a well-formed, current request.
	if a.Region != v.Region {
		return Key{}, invalid(msgRegion)
	}
	if a.Service != service {
		return Key{}, invalid("Credential should be scoped to correct service: '" + service + "'. ")
	}
	if a.Date != amzDate[:8] {
		return Key{}, invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			a.Date + "' != '" + amzDate[:8] + "', from '" + amzDate + "'.")
	}

	token, hasToken := first(r.Header, "X-Amz-Security-Token")
	switch {
	case !signs(a.SignedHeaders, "host"):
		return Key{}, invalid(msgHostUnsigned)
	case hasAmzDate && !signs(a.SignedHeaders, "x-amz-date"):
		return Key{}, invalid(msgAmzDateUnsigned)
	case !hasAmzDate && !signs(a.SignedHeaders, "date"):
		// (choice) Not in the design's table, but an unsigned Date would let anyone replay a
		// request all day long by refreshing it.
		return Key{}, invalid(msgDateUnsigned)
	case hasToken && !signs(a.SignedHeaders, "x-amz-security-token"):
		return Key{}, invalid(msgTokenUnsigned)
	}

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	if n := now(); t.Before(n.Add(-skew)) {
		return Key{}, invalid("Signature expired: " + amzDate + " is now earlier than " +
			n.Add(-skew).UTC().Format(amzDateFormat) + " (" + n.UTC().Format(amzDateFormat) + " - " + minutes(skew) + ".)")
	} else if t.After(n.Add(skew)) {
		return Key{}, invalid("Signature not yet current: " + amzDate + " is still later than " +
			n.Add(skew).UTC().Format(amzDateFormat) + " (" + n.UTC().Format(amzDateFormat) + " + " + minutes(skew) + ".)")
	}

	s := &verification{amzDate: amzDate, date: a.Date, region: a.Region, service: a.Service}
	if ch, ok := first(r.Header, "X-Amz-Content-Sha256"); ok {
		// UNSIGNED-PAYLOAD (and the streaming variants) leave the body unsigned: these JSON
		// APIs act on the body, so it must be signed.
		if len(ch) != 2*sha256.Size {
			return Key{}, invalid(msgUnsignedPayload)
		}
		if _, err := hex.Decode(s.claimed[:], []byte(ch)); err != nil {
			return Key{}, invalid(msgUnsignedPayload)
		}
		s.hasClaimed = true
	}
	// A signature that is not 64 hex digits cannot match: refuse it before reading the body.
	if len(a.Signature) != 2*sha256.Size {
		return Key{}, invalid(msgMismatch)
	}
	if _, err := hex.Decode(s.sig[:], []byte(a.Signature)); err != nil {
		return Key{}, invalid(msgMismatch)
	}

	var key Key
	var ok bool
	if v.Lookup != nil {
		key, ok = v.Lookup(a.AccessKeyID)
	}
	if !ok {
		return Key{}, &Error{Code: CodeUnrecognizedClient, Message: msgUnrecognized, Status: http.StatusBadRequest}
	}
	if key.SessionToken != "" && (!hasToken || !equal(token, key.SessionToken)) ||
		key.SessionToken == "" && hasToken {
		return Key{}, &Error{Code: CodeUnrecognizedClient, Message: msgUnrecognized, Status: http.StatusBadRequest}
	}
	s.secret = key.SecretAccessKey

	s.canonicalPrefix(r, a.SignedHeaders)

	chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
	if r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && !chunked) {
		if err := s.finish(sha256.Sum256(nil)); err != nil {
			return Key{}, err
		}
		if r.Body != nil && r.Body != http.NoBody {
			// A request built in process may claim no length and still have bytes: they
			// were not signed.
			s.rc, s.verified = r.Body, true
			r.Body = s
		}
		return key, nil
	}
	s.rc, s.remaining, s.payload = r.Body, r.ContentLength, sha256.New()
	if chunked {
		s.remaining = -1
	}
	r.Body = s
	return key, nil
}

// first returns the first value of the header with canonical name k.
func first(h http.Header, k string) (string, bool) {
	if v := h[k]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// signs reports whether the signed header list holds name.
func signs(signed []string, name string) bool {
	for _, s := range signed {
		if s == name {
			return true
		}
	}
	return false
}

// equal compares two strings in time that depends on their lengths only, so that a session
// token cannot be guessed byte by byte from answer times.
func equal(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}

// minutes formats d as AWS does in its clock-skew texts ("5 min").
func minutes(d time.Duration) string {
	return strconv.FormatFloat(d.Minutes(), 'f', -1, 64) + " min"
}

// parseAmzDate parses exactly yyyyMMdd'T'HHmmss'Z' without allocating. time.Parse would accept
// fractional seconds the string to sign does not hold.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[4:6])
	d, ok3 := num(s[6:8])
	h, ok4 := num(s[9:11])
	mi, ok5 := num(s[11:13])
	sec, ok6 := num(s[13:15])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	// time.Date normalises 31 February into March: such a date is malformed.
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d || t.Hour() != h || t.Minute() != mi || t.Second() != sec {
		return time.Time{}, false
	}
	return t, true
}

// parseHTTPDate parses a Date header: RFC 1123 with GMT (http.TimeFormat) or with a numeric
// zone (botocore writes "-0000"). Other zone names are refused: time.Parse would read them as
// UTC.
func parseHTTPDate(s string) (time.Time, bool) {
	for _, layout := range []string{http.TimeFormat, time.RFC1123Z} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
