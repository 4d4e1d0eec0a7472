package cloudwatch

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a CloudWatch error code as the query protocol names it (<Code> in an ErrorResponse,
// the first half of the x-amzn-query-error header).
type Code string

// The error codes the handler returns.
const (
	CodeInvalidParameterValue       Code = "InvalidParameterValue"
	CodeMissingParameter            Code = "MissingParameter"
	CodeInvalidParameterCombination Code = "InvalidParameterCombination"
	CodeInvalidNextToken            Code = "InvalidNextToken"
	CodeInvalidAction               Code = "InvalidAction"
	CodeSerialization               Code = "SerializationException"
	CodeInternalServiceError        Code = "InternalServiceError"

	// Authentication and authorization refusals, as the query protocol names them
	// (docs/design/auth.md).
	CodeMissingAuthentication Code = "MissingAuthenticationToken"
	CodeInvalidClientTokenID  Code = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch Code = "SignatureDoesNotMatch"
	CodeIncompleteSignature   Code = "IncompleteSignature"
	CodeAccessDenied          Code = "AccessDenied"
)

// authCodes maps the JSON names of authentication refusals (internal/sigv4's codes and
// AccessDeniedException) to the query protocol's.
var authCodes = map[string]Code{
	"MissingAuthenticationTokenException": CodeMissingAuthentication,
	"UnrecognizedClientException":         CodeInvalidClientTokenID,
	"InvalidSignatureException":           CodeSignatureDoesNotMatch,
	"IncompleteSignatureException":        CodeIncompleteSignature,
	"AccessDeniedException":               CodeAccessDenied,
}

// wireError is an error that knows its AWS code (JSON name) and message.
type wireError interface {
	error
	ErrorCode() string
	ErrorMessage() string
}

// asAuthError returns err as a wire error when it is an authentication or authorization
// refusal, else nil.
func asAuthError(err error) *apiError {
	var we wireError
	if !errors.As(err, &we) {
		return nil
	}
	code, ok := authCodes[we.ErrorCode()]
	if !ok {
		return nil
	}
	return &apiError{code: code, message: we.ErrorMessage()}
}

// errorKind is how one code appears on the wire.
type errorKind struct {
	shape  string // the model's shape name, used in "__type"
	status int
	sender bool // Sender or Receiver fault
	// queryCompatible errors carry the x-amzn-query-error header in JSON and CBOR.
	queryCompatible bool
}

// errorKinds is the declarative table of wire errors, from botocore's CloudWatch model.
var errorKinds = map[Code]errorKind{
	CodeInvalidParameterValue:       {"InvalidParameterValueException", http.StatusBadRequest, true, true},
	CodeMissingParameter:            {"MissingRequiredParameterException", http.StatusBadRequest, true, true},
	CodeInvalidParameterCombination: {"InvalidParameterCombinationException", http.StatusBadRequest, true, true},
	CodeInvalidNextToken:            {"InvalidNextToken", http.StatusBadRequest, true, true},
	CodeInvalidAction:               {"InvalidAction", http.StatusBadRequest, true, true},
	CodeSerialization:               {"SerializationException", http.StatusBadRequest, true, false},
	CodeInternalServiceError:        {"InternalServiceFault", http.StatusInternalServerError, false, true},
	CodeMissingAuthentication:       {"MissingAuthenticationTokenException", http.StatusForbidden, true, true},
	CodeInvalidClientTokenID:        {"UnrecognizedClientException", http.StatusForbidden, true, true},
	CodeSignatureDoesNotMatch:       {"InvalidSignatureException", http.StatusForbidden, true, true},
	CodeIncompleteSignature:         {"IncompleteSignatureException", http.StatusBadRequest, true, true},
	CodeAccessDenied:                {"AccessDeniedException", http.StatusForbidden, true, true},
}

func (c Code) kind() errorKind {
	if k, ok := errorKinds[c]; ok {
		return k
	}
	return errorKinds[CodeInternalServiceError]
}

// fault is the query protocol's <Type>: Sender or Receiver.
func (k errorKind) fault() string {
	if k.sender {
		return "Sender"
	}
	return "Receiver"
}

// apiError is a CloudWatch wire error.
type apiError struct {
	code    Code
	message string
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.message }

func errorf(code Code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

func missing(param string) *apiError {
	return errorf(CodeMissingParameter, "The parameter %s is required.", param)
}

func unsupported(value, param string) *apiError {
	return errorf(CodeInvalidParameterValue, "The value %s for parameter %s is not supported.", value, param)
}
