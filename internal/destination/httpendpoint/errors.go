package httpendpoint

import (
	"errors"
	"fmt"
)

// Error codes of failed deliveries, as Firehose writes them in error documents.
const (
	CodeRequestTimeout    = "HttpEndpoint.RequestTimeout"
	CodeResponseTooLarge  = "HttpEndpoint.ResponseTooLarge"
	CodeInvalidResponse   = "HttpEndpoint.InvalidResponseFromDestination"
	CodeDestinationError  = "HttpEndpoint.DestinationException"
	CodeConnectionFailed  = "HttpEndpoint.ConnectionFailed"
	CodeConnectionReset   = "HttpEndpoint.ConnectionReset"
	CodeInvalidSecret     = "SecretsManager.InvalidSecret"
	secretsManagerPrefix  = "SecretsManager."
	statusTooLarge        = 413
	maxErrorMessageLength = 8192
)

// ErrPlainHTTP refuses an http:// endpoint URL when plain HTTP is not allowed.
var ErrPlainHTTP = errors.New("plain http:// endpoint URLs are not allowed (set httpEndpoint.allowPlainHTTP)")

// ErrInvalidURL refuses an endpoint URL that is not an absolute http:// or https:// URL.
var ErrInvalidURL = errors.New("invalid endpoint URL")

// Error is a failed delivery attempt: its Firehose error code (CodeDestinationError, …), the
// request id, the HTTP status when there was an answer, and what went wrong. Permanent
// classifies it (destination.IsPermanent).
type Error struct {
	Code      string
	RequestID string
	// Status is the answer's HTTP status; 0 without an answer.
	Status  int
	Message string
	Err     error
}

// Error returns "http endpoint request <id>: <code>: <message>", or "<code>: <message>"
// without a request id (a secret that cannot be read).
func (e *Error) Error() string {
	if e.RequestID == "" {
		return e.Code + ": " + e.Message
	}
	return fmt.Sprintf("http endpoint request %s: %s: %s", e.RequestID, e.Code, e.Message)
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the Firehose error code.
func (e *Error) ErrorCode() string { return e.Code }

// Permanent reports whether retrying cannot help: only an answer 413 (the request is too large
// for the endpoint) is permanent; every other failure is retried within RetryOptions.
func (e *Error) Permanent() bool { return e.Status == statusTooLarge }

// ErrorMessage is the message an error document carries for the failure: the error's message
// without the request id.
func (e *Error) ErrorMessage() string { return e.Message }

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
