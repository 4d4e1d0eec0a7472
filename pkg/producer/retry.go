package producer

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// retryableCodes are the API error codes worth another attempt: throttling and
// transient server faults.
var retryableCodes = map[string]bool{
	"ServiceUnavailableException":            true,
	"ServiceUnavailable":                     true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"ThrottledException":                     true,
	"RequestThrottledException":              true,
	"RequestThrottled":                       true,
	"TooManyRequestsException":               true,
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"SlowDown":                               true,
	"InternalFailure":                        true,
	"InternalError":                          true,
	"InternalServerError":                    true,
	"RequestTimeout":                         true,
	"RequestTimeoutException":                true,
}

// permanentCodes are API error codes that no retry can fix, whatever the HTTP status.
var permanentCodes = map[string]bool{
	"InvalidArgumentException":       true,
	"ResourceNotFoundException":      true,
	"ResourceInUseException":         true,
	"InvalidKMSResourceException":    true,
	"InvalidSourceException":         true,
	"LimitExceededException":         true,
	"ValidationException":            true,
	"SerializationException":         true,
	"AccessDeniedException":          true,
	"UnrecognizedClientException":    true,
	"InvalidSignatureException":      true,
	"MissingAuthenticationToken":     true,
	"IncompleteSignature":            true,
	"ExpiredTokenException":          true,
	"UnknownOperationException":      true,
	"InvalidParameterValueException": true,
}

// Retryable reports whether err is worth another attempt: API errors with a throttling
// or transient-fault code (ServiceUnavailableException, ThrottlingException, …), other
// HTTP 5xx and 429 responses, and network errors (refused or reset connections,
// timeouts, unexpected EOF). Validation errors, InvalidArgumentException,
// ResourceNotFoundException, other 4xx responses and context cancellation are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if code := ae.ErrorCode(); retryableCodes[code] {
			return true
		} else if permanentCodes[code] {
			return false
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s >= 500 || s == 429
	}
	if ae != nil {
		return false // an API error without a known code or status
	}
	var ie *smithy.InvalidParamsError
	if errors.As(err, &ie) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// A per-attempt timeout (an HTTP client timeout) is transient; the caller's
		// own deadline is checked separately before each attempt.
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// retryableCode reports whether a per-record ErrorCode of PutRecordBatch is worth a
// resend. Firehose returns ServiceUnavailableException and InternalFailure there; any
// code not known to be permanent is resent, as the Beam connector does.
func retryableCode(code string) bool { return !permanentCodes[code] }

// errorCode returns the code and message to report for err.
func errorCode(err error) (string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrorCodeCanceled, err.Error()
	}
	return ErrorCodeTransport, err.Error()
}

// backoff returns the sleep before retry n (0 for the first retry): full jitter over
// [0, min(MaxDelay, BaseDelay·2^n)]. c must have its defaults.
func (c Config) backoff(n int) time.Duration {
	ceiling := c.MaxDelay
	if n < 62 {
		if d := c.BaseDelay << n; d > 0 && d>>n == c.BaseDelay && d < ceiling {
			ceiling = d
		}
	}
	r := c.Rand()
	if r < 0 {
		r = 0
	} else if r > 1 {
		r = 1
	}
	return time.Duration(r * float64(ceiling))
}

// wait sleeps the back-off before retry n unless that would end past deadline; it
// reports false (without sleeping) in that case, and ctx's error when ctx ends.
func (c Config) wait(ctx context.Context, n int, deadline time.Time) (time.Duration, bool, error) {
	d := c.backoff(n)
	if c.Clock.Now().Add(d).After(deadline) {
		return d, false, nil
	}
	if err := c.Clock.Sleep(ctx, d); err != nil {
		return d, false, err
	}
	return d, true, nil
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
