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

// Operations an Error can come from.
const (
	OpPut  = "put"  // PutObject, or a multipart upload
	OpHead = "head" // HeadObject, for Exists
)

// Error is a failed PutObject or Exists: the operation (OpPut, OpHead), the object's bucket
// (the real name on the store) and key, the S3 error code (NoSuchBucket, AccessDenied,
// InvalidAccessKeyId, SignatureDoesNotMatch, …) or CodeRequestError, CodeTimeout,
// CodeCanceled, and the SDK error it wraps. Permanent classifies it by its code.
type Error struct {
	Op          string
	Bucket, Key string
	Code        string
	Message     string
	// StatusCode is the HTTP status of the failed response; 0 when there was none.
	StatusCode int
	// RequestID is the store's request ID (x-amz-request-id), when there was a response.
	RequestID string
	Err       error
}

// Error returns "s3 op bucket/key: Code: Message".
func (e *Error) Error() string {
	return fmt.Sprintf("s3 %s %s/%s: %s: %s", e.Op, e.Bucket, e.Key, e.Code, e.Message)
}

// Unwrap returns the SDK error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying the operation cannot help, by the error code: true for the
// codes that say the object or its bucket name can never be stored, false for every other code.
// A missing bucket, refused credentials or a KMS key can be fixed by an operator while the
// delivery retries; throttling, 5xx and the network failures (CodeRequestError, CodeTimeout,
// CodeCanceled) pass; InvalidArgument and InvalidRequest do not say whether the object is at
// fault. destination.IsPermanent uses it; docs/design/destinations.md has the table.
func (e *Error) Permanent() bool {
	switch e.Code {
	case "InvalidBucketName", // the bucket name can never exist
		"KeyTooLongError",         // key over 1,024 bytes (also refused before sending)
		"EntityTooLarge",          // object or part over the store's size limit
		"MetadataTooLarge",        // the object's headers exceed the metadata limit
		"InvalidStorageClass",     // a storage class the store does not have
		"XMinioInvalidObjectName": // MinIO: a key its file system cannot hold (segment over 255 characters)
		return true
	}
	return false
}

// newError classifies err.
func newError(op, bucket, key string, err error) *Error {
	e := &Error{Op: op, Bucket: bucket, Key: key, Err: err, Message: err.Error()}
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
