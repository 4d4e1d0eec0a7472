// Package destination defines what every object destination (local directory, S3) is given:
// an Object to store whole, idempotently under its key, and how a failure to store it is
// classified: permanent (retrying cannot help) or transient. Subpackages implement it, and
// destinationtest is the conformance suite each implementation's tests run.
// docs/design/destinations.md describes the contract.
package destination

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Object is one delivered object.
type Object struct {
	// Bucket is the bucket name taken from the BucketARN (arn:aws:s3:::Bucket).
	Bucket string
	// Key is the full object key.
	Key string
	// Body is the object content, already compressed.
	Body []byte
	// ContentType and ContentEncoding are the object's HTTP metadata.
	ContentType     string
	ContentEncoding string
	// KMSKeyARN, when set, asks the store to encrypt the object with this KMS key (SSE-KMS).
	KMSKeyARN string
}

// ErrInvalidObject is returned for an object whose bucket or key cannot be stored. It is a
// permanent failure: see IsPermanent.
var ErrInvalidObject = errors.New("invalid object")

// MaxKeyLen is S3's limit on the length of a key, in bytes of its UTF-8 encoding.
const MaxKeyLen = 1024

// IsPermanent reports whether retrying the operation that returned err cannot help, so that the
// caller should give the object up (send its records to the error output) instead of retrying.
// The rule, first match wins:
//
//   - nil is not a failure: false;
//   - an error wrapping ErrInvalidObject is permanent: the bucket or key can never be stored;
//   - an error wrapping context.Canceled or context.DeadlineExceeded is transient: the caller
//     gave up, which says nothing about the object;
//   - otherwise the first error in the chain (as errors.As finds it) with a method
//     Permanent() bool decides, such as a store's error classified by its error code;
//   - anything else is transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidObject) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) {
		return p.Permanent()
	}
	return false
}

// BucketFromARN returns the bucket name of an S3 bucket ARN, or "" if arn is not one.
func BucketFromARN(arn string) string {
	const marker = ":s3:::"
	for i := 0; i+len(marker) <= len(arn); i++ {
		if arn[i:i+len(marker)] == marker {
			return arn[i+len(marker):]
		}
	}
	return ""
}

// CheckKey applies the key rules every destination shares: not empty, valid UTF-8, at most
// MaxKeyLen bytes (S3 refuses longer keys), no trailing "/", and no "." or ".." path segment
// (a directory destination cannot hold them, and S3-compatible stores refuse or normalize
// them). Errors wrap ErrInvalidObject.
func CheckKey(key string) error {
	switch {
	case key == "" || strings.HasSuffix(key, "/"):
		return fmt.Errorf("%w: key %q is empty or ends in /", ErrInvalidObject, key)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalidObject, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key %q is not UTF-8", ErrInvalidObject, key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidObject, key, part)
		}
	}
	return nil
}
