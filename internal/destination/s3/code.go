package s3

// ErrorCode returns the AWS error code of the failure ("NoSuchBucket", "AccessDenied", …,
// or RequestError / Timeout / Canceled for failures without a response), so that callers can
// log and count it without knowing this package.
func (e *Error) ErrorCode() string { return e.Code }
