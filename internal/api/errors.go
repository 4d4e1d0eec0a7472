package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is an AWS error code as it appears in the "__type" member of an error body.
type Code string

// The error codes Hydrant returns on the Firehose wire.
const (
	CodeValidation            Code = "ValidationException"
	CodeSerialization         Code = "SerializationException"
	CodeUnknownOperation      Code = "UnknownOperationException"
	CodeInvalidArgument       Code = "InvalidArgumentException"
	CodeInvalidKMSResource    Code = "InvalidKMSResourceException"
	CodeInvalidSource         Code = "InvalidSourceException"
	CodeResourceNotFound      Code = "ResourceNotFoundException"
	CodeResourceInUse         Code = "ResourceInUseException"
	CodeConcurrentModify      Code = "ConcurrentModificationException"
	CodeLimitExceeded         Code = "LimitExceededException"
	CodeServiceUnavailable    Code = "ServiceUnavailableException"
	CodeInternalFailure       Code = "InternalFailure"
	CodeAccessDenied          Code = "AccessDeniedException"
	CodeMissingAuthentication Code = "MissingAuthenticationTokenException"
	CodeInvalidSignature      Code = "InvalidSignatureException"
	CodeUnrecognizedClient    Code = "UnrecognizedClientException"
	CodeIncompleteSignature   Code = "IncompleteSignatureException"
)

// statusOf is the declarative table of wire errors: exception name to HTTP status.
// Codes not listed are client errors (400).
var statusOf = map[Code]int{
	CodeServiceUnavailable:    http.StatusServiceUnavailable,
	CodeInternalFailure:       http.StatusInternalServerError,
	CodeMissingAuthentication: http.StatusForbidden,
	CodeAccessDenied:          http.StatusBadRequest,
}

// Status returns the HTTP status that carries an error with this code.
func (c Code) Status() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Error is a Firehose wire error: a code and a message, rendered as
// {"__type": Code, "message": Message}.
type Error struct {
	Code    Code
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as a wire error. Errors that are not *Error become InternalFailure.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternalFailure, Message: "We encountered an internal error. Please try again."}
}
