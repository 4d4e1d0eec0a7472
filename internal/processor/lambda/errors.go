package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/internal/processor"
)

// Sentinel errors of an invocation, to branch on with errors.Is.
var (
	// ErrRequestTooLarge is a payload above MaxPayloadBytes; it is refused before sending.
	ErrRequestTooLarge = errors.New("request payload exceeds 6 MB")
	// ErrResponseTooLarge is a function result above MaxPayloadBytes.
	ErrResponseTooLarge = errors.New("response payload exceeds 6 MB")
	// ErrTimeout is an invocation that did not answer within Config.Timeout.
	ErrTimeout = errors.New("invocation timed out")
)

// Values of FunctionError.Type: the X-Amz-Function-Error header.
const (
	// FunctionErrorHandled is an error the function reported (older runtimes only).
	FunctionErrorHandled = "Handled"
	// FunctionErrorUnhandled is an error returned or raised by the function, or a runtime
	// failure (timeout, out of memory, crash).
	FunctionErrorUnhandled = "Unhandled"
)

// FunctionError is a function that ran and failed: HTTP 200 with X-Amz-Function-Error.
type FunctionError struct {
	// Function is the function reference as invoked.
	Function string
	// Type is the X-Amz-Function-Error header: FunctionErrorHandled or FunctionErrorUnhandled.
	Type string
	// ErrorType is the runtime's errorType ("errorString", "Runtime.ExitError", "Sandbox.Timedout", …).
	ErrorType string
	// Message is the runtime's errorMessage, or the raw body when it has none.
	Message string
	// Payload is the response body as returned (at most MaxPayloadBytes).
	Payload []byte
}

// Error returns "lambda invoke <function>: function error (<Type>): <ErrorType>: <Message>".
func (e *FunctionError) Error() string {
	if e.ErrorType == "" {
		return fmt.Sprintf("lambda invoke %s: function error (%s): %s", e.Function, e.Type, e.Message)
	}
	return fmt.Sprintf("lambda invoke %s: function error (%s): %s: %s", e.Function, e.Type, e.ErrorType, e.Message)
}

// Retryable reports true: Firehose retries function errors like any failed invocation.
func (e *FunctionError) Retryable() bool { return true }

// InvokeError is an Invoke API (or plain URL) request answered with an HTTP status other than
// success: throttling, a missing function, a denied or malformed request, a service failure.
type InvokeError struct {
	// Function is the function reference as invoked.
	Function string
	// Status is the HTTP status code.
	Status int
	// Code is the exception name (TooManyRequestsException, ResourceNotFoundException, …)
	// from x-amzn-ErrorType or the body's __type, code or Type; empty when none was given.
	Code string
	// Message is the body's message, or the start of the raw body.
	Message string
	// Reason is the body's Reason, when given (CallerRateLimitExceeded, ConcurrentInvocationLimitExceeded, …).
	Reason string
	// RequestID is the x-amzn-RequestId header.
	RequestID string
	// RetryAfter is the Retry-After header in seconds, zero when absent.
	RetryAfter time.Duration
}

// Error returns "lambda invoke <function>: HTTP <Status> <Code>: <Message>".
func (e *InvokeError) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.Status)
	}
	return fmt.Sprintf("lambda invoke %s: HTTP %d %s: %s", e.Function, e.Status, code, e.Message)
}

// retryableCodes are Invoke API exceptions worth retrying whatever their status: throttles,
// functions still being created or updated, transient network-interface and EC2 trouble.
var retryableCodes = map[string]bool{
	"TooManyRequestsException":   true,
	"ServiceException":           true,
	"ResourceConflictException":  true,
	"ResourceNotReadyException":  true,
	"SnapStartNotReadyException": true,
	"EC2ThrottledException":      true,
	"EC2UnexpectedException":     true,
	"ENILimitReachedException":   true,
}

// Retryable reports whether the same invocation may succeed later: HTTP 429 and 5xx, and the
// transient exceptions (TooManyRequestsException, ResourceConflictException,
// ResourceNotReadyException, SnapStartNotReadyException, EC2ThrottledException, …). A missing
// function, a denied or invalid request and RequestTooLargeException are not.
func (e *InvokeError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 || retryableCodes[e.Code]
}

// Retryable reports whether err, returned by Invoker.Invoke, is transient: a function error, a
// retryable InvokeError, a timeout or a network failure. Oversized payloads, invalid function
// references and the caller's own cancellation are not. Firehose itself retries every failed
// invocation NumberOfRetries times; Retryable lets the caller stop early on the hopeless ones.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var r interface{ Retryable() bool }
	switch {
	case errors.As(err, &r):
		return r.Retryable()
	case errors.Is(err, ErrTimeout):
		return true
	case errors.Is(err, ErrRequestTooLarge), errors.Is(err, ErrResponseTooLarge), errors.Is(err, ErrInvalidFunction),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// msgFunctionError is the errorMessage Firehose records for a function error.
const msgFunctionError = "The Lambda function was successfully invoked but it returned an error result."

// firehoseError wraps the errors that have a Firehose errorCode in a *processor.InvokeError,
// which names the failure of the batch's records; others reach the processor as they are
// (it records them as Lambda.InvocationFailure).
func firehoseError(err error) error {
	var fe *FunctionError
	var ie *InvokeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return &processor.InvokeError{Code: processor.CodeLambdaFunctionError, Message: msgFunctionError, Err: err}
	case errors.Is(err, ErrResponseTooLarge):
		return &processor.InvokeError{Code: processor.CodeLambdaFunctionError,
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadBytes), Err: err}
	case errors.As(err, &ie) && (ie.Status == http.StatusTooManyRequests || ie.Code == "TooManyRequestsException"):
		return &processor.InvokeError{Code: processor.CodeLambdaInvokeLimitExceeded, Message: ie.Message, Err: err}
	}
	return err
}

// errorBody is the union of the error bodies the Invoke API and Lambda runtimes return.
type errorBody struct {
	Type         string `json:"__type"`
	Code         string `json:"code"`
	CodeUpper    string `json:"Code"`
	TypeUpper    string `json:"Type"`
	Message      string `json:"message"`
	MessageUpper string `json:"Message"`
	Reason       string `json:"Reason"`
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// parseErrorBody decodes what it can of an error body; a body that is not JSON yields its
// start as the message.
func parseErrorBody(body []byte) errorBody {
	var b errorBody
	if err := json.Unmarshal(body, &b); err != nil {
		b = errorBody{Message: snippet(body)}
	}
	return b
}

// newInvokeError classifies an HTTP error response.
func newInvokeError(fn string, resp *http.Response, body []byte) *InvokeError {
	b := parseErrorBody(body)
	e := &InvokeError{
		Function:  fn,
		Status:    resp.StatusCode,
		Code:      errorCode(resp.Header.Get("X-Amzn-Errortype")),
		Message:   first(b.Message, b.MessageUpper, b.ErrorMessage),
		Reason:    b.Reason,
		RequestID: resp.Header.Get("X-Amzn-Requestid"),
	}
	if e.Code == "" {
		e.Code = errorCode(first(b.Type, b.Code, b.CodeUpper, b.TypeUpper))
	}
	if e.Message == "" {
		e.Message = snippet(body)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// newFunctionError decodes a function error body.
func newFunctionError(fn, typ string, body []byte) *FunctionError {
	b := parseErrorBody(body)
	e := &FunctionError{Function: fn, Type: typ, ErrorType: b.ErrorType, Message: b.ErrorMessage, Payload: body}
	if e.Message == "" {
		e.Message = snippet(body)
	}
	return e
}

// errorCode strips the namespace ("com.amazon.coral#X") and the suffix ("X:http://…") an
// exception name may carry.
func errorCode(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// snippet returns the start of body as a message.
func snippet(body []byte) string {
	const limit = 512
	s := strings.TrimSpace(string(body))
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return s
}
