// Package destination defines what every object destination (local directory, S3) is given:
// an Object to store whole, idempotently under its key. Subpackages implement it, and
// destinationtest is the conformance suite each implementation's tests run.
package destination

import (
	"errors"
	"fmt"
	"strings"
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

// ErrInvalidObject is returned for an object whose bucket or key cannot be stored.
var ErrInvalidObject = errors.New("invalid object")

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

// CheckKey applies the key rules every destination shares: not empty, no trailing "/", and no
// "." or ".." path segment (a directory destination cannot hold them, and S3-compatible stores
// refuse or normalize them). Errors wrap ErrInvalidObject.
func CheckKey(key string) error {
	if key == "" || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: key %q is empty or ends in /", ErrInvalidObject, key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidObject, key, part)
		}
	}
	return nil
}
