package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hydrant-dev/hydrant/internal/api/shape"
)

// TargetPrefix is the X-Amz-Target prefix of the Firehose 2015-08-04 API.
const TargetPrefix = "Firehose_20150804."

// ContentType is the media type of Firehose requests and responses.
const ContentType = "application/x-amz-json-1.1"

// MaxBodyBytes bounds the body of the operations that carry records (HandleBody). A
// PutRecordBatch at its 4 MiB limit is about 5.6 MB of base64 in JSON; anything much larger is
// refused before it is read whole.
const MaxBodyBytes = 16 << 20

// MaxControlBodyBytes bounds the body of every other operation (Handle): the largest
// CreateDeliveryStream, with processors and every destination field, is a few KiB.
const MaxControlBodyBytes = 1 << 20

// Validator checks a request body against the API model before it is decoded.
type Validator interface {
	Validate(operation string, body []byte) error
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(operation string, body []byte) error

// Validate calls f.
func (f ValidatorFunc) Validate(operation string, body []byte) error { return f(operation, body) }

// Budget is the memory a request draws from while it is served (docs/design/memory.md).
type Budget interface {
	// TryAcquire takes n bytes if they fit and reports whether it did; it never blocks.
	TryAcquire(n int64) bool
	// Release gives back n bytes taken with TryAcquire.
	Release(n int64)
}

type opFunc func(ctx context.Context, body []byte) (any, error)

// op is a registered operation and the largest body it takes.
type op struct {
	fn      opFunc
	maxBody int64
}

// Handler serves the Firehose AWS JSON 1.1 protocol on POST /.
type Handler struct {
	ops       map[string]op
	validate  Validator
	log       *slog.Logger
	bufs      sync.Pool
	budget    Budget       // nil: no bound
	refused   atomic.Int64 // requests refused for lack of budget
	authorize Authorizer   // nil: every request is allowed
}

// Authorizer decides whether the request of ctx may do action (for example
// "firehose:CreateDeliveryStream") on stream ("" for actions without one). A refusal is an
// *Error (AccessDeniedException).
type Authorizer func(ctx context.Context, action, stream string) error

// WithAuthorizer makes every operation registered with Handle ask a before it runs, with the
// stream its input names; operations registered with HandleBody ask it themselves once they
// have decoded their body.
func WithAuthorizer(a Authorizer) Option { return func(h *Handler) { h.authorize = a } }

// WireError is an error that knows its AWS error code and message: an authentication refusal
// met while the body was read.
type WireError interface {
	error
	ErrorCode() string
	ErrorMessage() string
}

// Option configures a Handler.
type Option func(*Handler)

// WithBudget makes every request acquire twice its body's length (MaxBodyBytes when the length
// is unknown) from b before its body is read, and release it when the answer is written: the
// body, and its decoded records or journal frame. A request that does not fit is answered
// ServiceUnavailableException "Slow down." without reading its body.
func WithBudget(b Budget) Option { return func(h *Handler) { h.budget = b } }

// NewHandler returns a Handler with no operations; register them with Handle and HandleBody.
func NewHandler(v Validator, log *slog.Logger, opts ...Option) *Handler {
	h := &Handler{
		ops:      map[string]op{},
		validate: v,
		log:      log,
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Refused returns the number of requests refused for lack of memory budget since the Handler
// was made.
func (h *Handler) Refused() int64 { return h.refused.Load() }

// admissionBytes is what a request with body length n (-1: unknown) and at most maxBody
// bytes acquires.
func admissionBytes(n, maxBody int64) int64 {
	if n < 0 || n > maxBody {
		n = maxBody
	}
	return 2 * n
}

// Handle registers a typed operation: the body is validated against the model, decoded into
// In, and fn's output is encoded as the response.
func Handle[In, Out any](h *Handler, operation string, fn func(context.Context, *In) (*Out, error)) {
	h.ops[operation] = op{maxBody: MaxControlBodyBytes, fn: func(ctx context.Context, body []byte) (any, error) {
		if err := h.validate.Validate(operation, body); err != nil {
			return nil, err
		}
		in := new(In)
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				return nil, Errorf(CodeSerialization, "failed to decode %s request: %v", operation, err)
			}
		}
		if h.authorize != nil {
			if err := h.authorize(ctx, "firehose:"+operation, streamOf(in)); err != nil {
				return nil, err
			}
		}
		return fn(ctx, in)
	}}
}

// HandleBody registers an operation that decodes its own body (the put hot path).
func (h *Handler) HandleBody(operation string, fn func(ctx context.Context, body []byte) (any, error)) {
	h.ops[operation] = op{fn: fn, maxBody: MaxBodyBytes}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	reg, known := h.ops[op]
	if !ok || !known || r.Method != http.MethodPost {
		writeError(w, Errorf(CodeUnknownOperation, "Operation %q is not supported by this service.", target))
		return
	}
	fn, maxBody := reg.fn, reg.maxBody
	if r.ContentLength > maxBody {
		// Refused before anything is acquired or read: waiting for budget would not make it fit.
		writeError(w, Errorf(CodeSerialization, "request body is larger than %d bytes", maxBody))
		return
	}
	if h.budget != nil {
		n := admissionBytes(r.ContentLength, maxBody)
		if !h.budget.TryAcquire(n) {
			h.refused.Add(1)
			writeError(w, Errorf(CodeServiceUnavailable, "Slow down."))
			return
		}
		defer h.budget.Release(n) // after the answer is written, below
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.putBuf(buf)
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // one allocation, not a doubling series
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	var we WireError
	switch {
	case errors.As(err, &we): // the signature did not cover the body: nothing of it is used
		WriteError(w, &Error{Code: Code(we.ErrorCode()), Message: we.ErrorMessage()})
		return
	case err != nil:
		writeError(w, Errorf(CodeSerialization, "failed to read request body: %v", err))
		return
	}
	if n > maxBody {
		writeError(w, Errorf(CodeSerialization, "request body is larger than %d bytes", maxBody))
		return
	}
	out, err := fn(r.Context(), buf.Bytes())
	if err != nil {
		e := h.wireError(err)
		if e.Code == CodeInternalFailure {
			h.log.Error("request failed", "op", op, "request_id", reqID, "err", err)
		}
		writeError(w, e)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.log.Error("encode response", "op", op, "request_id", reqID, "err", err)
		writeError(w, AsError(err))
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// putBuf returns a body buffer to the pool unless it grew beyond the largest normal request.
func (h *Handler) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 2*MaxBodyBytes {
		h.bufs.Put(b)
	}
}

// wireError maps validation and decoding errors of the model to their wire codes.
func (h *Handler) wireError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var we WireError
	if errors.As(err, &we) {
		return &Error{Code: Code(we.ErrorCode()), Message: we.ErrorMessage()}
	}
	var ve *shape.ValidationError
	if errors.As(err, &ve) {
		return &Error{Code: CodeValidation, Message: ve.Error()}
	}
	var se *shape.SerializationError
	if errors.As(err, &se) {
		return &Error{Code: CodeSerialization, Message: se.Error()}
	}
	return AsError(err)
}

// streamOf returns the DeliveryStreamName of an operation's input, or "" when it has none
// (ListDeliveryStreams).
func streamOf(in any) string {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	if f := v.FieldByName("DeliveryStreamName"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// WriteError writes e as a Firehose error response ({"__type","message"}, AWS JSON 1.1), for
// refusals made before a request reaches the Handler.
func WriteError(w http.ResponseWriter, e *Error) {
	if w.Header().Get("x-amzn-RequestId") == "" {
		w.Header().Set("x-amzn-RequestId", newRequestID())
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(struct {
		Type    Code   `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(e.Code.Status())
	_, _ = w.Write(b)
}

// newRequestID returns a random (version 4) UUID string.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
