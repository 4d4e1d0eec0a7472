package s3

import (
	"context"
	"errors"
	"fmt"
	"net"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Error codes of failures that carry no S3 error code.
const (
	// CodeRequestError is a network failure: connection refused or reset, DNS, TLS.
	CodeRequestError = "RequestError"
	// CodeTimeout is a deadline exceeded or a network timeout.
	CodeTimeout = "Timeout"
	// CodeCanceled is the caller's context cancelled.
	CodeCanceled = "Canceled"
)

// Error is a failed PutObject: the object's bucket (the real name on the store) and key, the
// S3 error code (NoSuchBucket, AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, …) or
// CodeRequestError, CodeTimeout, CodeCanceled, and the SDK error it wraps.
type Error struct {
	Bucket, Key string
	Code        string
	Message     string
	// StatusCode is the HTTP status of the failed response; 0 when there was none.
	StatusCode int
	// RequestID is the store's request ID (x-amz-request-id), when there was a response.
	RequestID string
	Err       error
}

// Error returns "s3 put bucket/key: Code: Message".
func (e *Error) Error() string {
	return fmt.Sprintf("s3 put %s/%s: %s: %s", e.Bucket, e.Key, e.Code, e.Message)
}

// Unwrap returns the SDK error.
func (e *Error) Unwrap() error { return e.Err }

// newError classifies err.
func newError(bucket, key string, err error) *Error {
	e := &Error{Bucket: bucket, Key: key, Err: err, Message: err.Error()}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		e.StatusCode = resp.HTTPStatusCode()
		e.RequestID = resp.ServiceRequestID()
	}
	var api smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &api) && api.ErrorCode() != "":
		e.Code = api.ErrorCode()
		if msg := api.ErrorMessage(); msg != "" {
			e.Message = msg
		}
	case errors.Is(err, context.Canceled):
		e.Code = CodeCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Code = CodeTimeout
	default:
		e.Code = CodeRequestError
	}
	return e
}
