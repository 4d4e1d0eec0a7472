package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/api/shape"
)

type echoIn struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
}

func newTestHandler() *Handler {
	h := NewHandler(ValidatorFunc(shape.Validate), slog.New(slog.NewTextHandler(io.Discard, nil)))
	Handle(h, "DescribeDeliveryStream", func(_ context.Context, in *echoIn) (*ListDeliveryStreamsOutput, error) {
		switch in.DeliveryStreamName {
		case "missing":
			return nil, Errorf(CodeResourceNotFound, "Firehose missing under account 000000000000 not found.")
		case "boom":
			return nil, io.ErrUnexpectedEOF
		}
		return &ListDeliveryStreamsOutput{DeliveryStreamNames: []string{in.DeliveryStreamName}}, nil
	})
	h.HandleBody("PutRecord", func(context.Context, []byte) (any, error) {
		return nil, Errorf(CodeServiceUnavailable, "Slow down.")
	})
	return h
}

func TestHandler(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name, method, target, body string
		status                     int
		want                       string
	}{
		{"success", "POST", "Firehose_20150804.DescribeDeliveryStream", `{"DeliveryStreamName":"s"}`, 200,
			`{"DeliveryStreamNames":["s"],"HasMoreDeliveryStreams":false}`},
		{"domain error", "POST", "Firehose_20150804.DescribeDeliveryStream", `{"DeliveryStreamName":"missing"}`, 400,
			`{"__type":"ResourceNotFoundException","message":"Firehose missing under account 000000000000 not found."}`},
		{"unexpected error hides details", "POST", "Firehose_20150804.DescribeDeliveryStream", `{"DeliveryStreamName":"boom"}`, 500,
			`{"__type":"InternalFailure","message":"We encountered an internal error. Please try again."}`},
		{"throttle is 503", "POST", "Firehose_20150804.PutRecord", `{}`, 503,
			`{"__type":"ServiceUnavailableException","message":"Slow down."}`},
		{"model violation", "POST", "Firehose_20150804.DescribeDeliveryStream", `{}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null"}`},
		{"bad json", "POST", "Firehose_20150804.DescribeDeliveryStream", `{`, 400, ""},
		{"unknown op", "POST", "Firehose_20150804.Nope", `{}`, 400,
			`{"__type":"UnknownOperationException","message":"Operation \"Firehose_20150804.Nope\" is not supported by this service."}`},
		{"other service", "POST", "Kinesis_20131202.PutRecord", `{}`, 400, ""},
		{"GET", "GET", "Firehose_20150804.DescribeDeliveryStream", ``, 400, ""},
		{"body too large", "POST", "Firehose_20150804.DescribeDeliveryStream", strings.Repeat(" ", MaxBodyBytes+1), 400, ""},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", tc.target)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if id := rec.Header().Get("x-amzn-RequestId"); !uuid.MatchString(id) {
				t.Errorf("x-amzn-RequestId %q is not a UUID", id)
			}
			if ct := rec.Header().Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.want != "" {
				if diff := cmp.Diff(tc.want, rec.Body.String()); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			} else if !strings.Contains(rec.Body.String(), `"__type"`) {
				t.Errorf("body %s has no __type", rec.Body)
			}
		})
	}
}

func TestStatusTable(t *testing.T) {
	for code, want := range map[Code]int{
		CodeValidation: http.StatusBadRequest, CodeResourceNotFound: http.StatusBadRequest,
		CodeServiceUnavailable: http.StatusServiceUnavailable, CodeInternalFailure: http.StatusInternalServerError,
	} {
		if got := code.Status(); got != want {
			t.Errorf("%s: status %d, want %d", code, got, want)
		}
	}
}

// countingBudget is a Budget of limit bytes that records what its holders did.
type countingBudget struct {
	limit, used, peak int64
}

func (b *countingBudget) TryAcquire(n int64) bool {
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

func (b *countingBudget) Release(n int64) { b.used -= n }

// unreadBody fails the test if the handler reads it.
type unreadBody struct{ t *testing.T }

func (u unreadBody) Read([]byte) (int, error) {
	u.t.Error("body of a refused request was read")
	return 0, io.EOF
}

func TestHandlerAdmission(t *testing.T) {
	body := `{"DeliveryStreamName":"s"}`
	tests := []struct {
		name          string
		limit         int64
		contentLength int64 // -1: unknown
		status        int
		want          string
		wantPeak      int64
	}{
		{"fits", 2 * int64(len(body)), int64(len(body)), 200, `{"DeliveryStreamNames":["s"],"HasMoreDeliveryStreams":false}`, 2 * int64(len(body))},
		{"does not fit", 2*int64(len(body)) - 1, int64(len(body)), 503, `{"__type":"ServiceUnavailableException","message":"Slow down."}`, 0},
		// A control-plane operation's bound is MaxControlBodyBytes, not the puts' MaxBodyBytes.
		{"unknown length takes the largest body", 2 * MaxControlBodyBytes, -1, 200, `{"DeliveryStreamNames":["s"],"HasMoreDeliveryStreams":false}`, 2 * MaxControlBodyBytes},
		{"unknown length that does not fit", 2*MaxControlBodyBytes - 1, -1, 503, `{"__type":"ServiceUnavailableException","message":"Slow down."}`, 0},
		{"too large is not a throttle", 1 << 40, MaxControlBodyBytes + 1, 400, `{"__type":"SerializationException","message":"request body is larger than 1048576 bytes"}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &countingBudget{limit: tc.limit}
			h := newTestHandler()
			WithBudget(b)(h)
			var r io.Reader = strings.NewReader(body)
			if tc.status != 200 {
				r = unreadBody{t}
			}
			req := httptest.NewRequest("POST", "/", r)
			req.ContentLength = tc.contentLength
			req.Header.Set("X-Amz-Target", "Firehose_20150804.DescribeDeliveryStream")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if diff := cmp.Diff(tc.want, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if b.used != 0 || b.peak != tc.wantPeak {
				t.Errorf("budget used %d, peak %d after the answer; want 0 and %d", b.used, b.peak, tc.wantPeak)
			}
			wantRefused := int64(0)
			if tc.status == 503 {
				wantRefused = 1
			}
			if got := h.Refused(); got != wantRefused {
				t.Errorf("Refused() = %d, want %d", got, wantRefused)
			}
		})
	}
}

// TestHandlerBodyBounds: the record-carrying operations take bodies up to MaxBodyBytes, every
// other one up to MaxControlBodyBytes, each refused by its Content-Length before reading.
func TestHandlerBodyBounds(t *testing.T) {
	tests := []struct {
		name, op string
		length   int64
		want     string
	}{
		{"put over the control bound", "PutRecord", MaxControlBodyBytes + 1, `{"__type":"ServiceUnavailableException","message":"Slow down."}`},
		{"put over its bound", "PutRecord", MaxBodyBytes + 1, `{"__type":"SerializationException","message":"request body is larger than 16777216 bytes"}`},
		{"describe over the control bound", "DescribeDeliveryStream", MaxControlBodyBytes + 1, `{"__type":"SerializationException","message":"request body is larger than 1048576 bytes"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = unreadBody{t}
			if tc.length <= MaxBodyBytes && tc.op == "PutRecord" {
				r = strings.NewReader(strings.Repeat(" ", int(tc.length)))
			}
			req := httptest.NewRequest("POST", "/", r)
			req.ContentLength = tc.length
			req.Header.Set("X-Amz-Target", "Firehose_20150804."+tc.op)
			rec := httptest.NewRecorder()
			newTestHandler().ServeHTTP(rec, req)
			if diff := cmp.Diff(tc.want, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// wireErr is an authentication refusal as a body reader reports it.
type wireErr struct{}

func (wireErr) Error() string        { return "InvalidSignatureException: no" }
func (wireErr) ErrorCode() string    { return "InvalidSignatureException" }
func (wireErr) ErrorMessage() string { return "The request signature we calculated does not match." }

type failingBody struct{ err error }

func (b failingBody) Read([]byte) (int, error) { return 0, b.err }

// TestHandlerAuthorization: an authorizer's refusal and a body whose signature failed are
// answered with their own codes, and the operation does not run.
func TestHandlerAuthorization(t *testing.T) {
	var asked []string
	h := newTestHandler()
	WithAuthorizer(func(_ context.Context, action, stream string) error {
		asked = append(asked, action+" "+stream)
		if stream == "denied" {
			return Errorf(CodeAccessDenied, "User: u is not authorized to perform: %s", action)
		}
		return nil
	})(h)
	call := func(body io.Reader) string {
		req := httptest.NewRequest("POST", "/", body)
		req.Header.Set("X-Amz-Target", "Firehose_20150804.DescribeDeliveryStream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return fmt.Sprintf("%d %s", rec.Code, rec.Body.String())
	}
	if got, want := call(strings.NewReader(`{"DeliveryStreamName":"denied"}`)), `400 {"__type":"AccessDeniedException","message":"User: u is not authorized to perform: firehose:DescribeDeliveryStream"}`; got != want {
		t.Errorf("denied: %s, want %s", got, want)
	}
	if got, want := call(strings.NewReader(`{"DeliveryStreamName":"s"}`)), `200 {"DeliveryStreamNames":["s"],"HasMoreDeliveryStreams":false}`; got != want {
		t.Errorf("allowed: %s, want %s", got, want)
	}
	if got, want := call(failingBody{wireErr{}}), `400 {"__type":"InvalidSignatureException","message":"The request signature we calculated does not match."}`; got != want {
		t.Errorf("unsigned body: %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{"firehose:DescribeDeliveryStream denied", "firehose:DescribeDeliveryStream s"}, asked); diff != "" {
		t.Errorf("authorizer asked (-want +got):\n%s", diff)
	}
}
