package s3

import (
	"context"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// unsignedPayload is the SigV4 payload hash of a body the signature does not cover.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// unsignedPayloadOverHTTP marks the payload of a plain-http request as UNSIGNED-PAYLOAD.
//
// It must run before the SDK's checksum middleware: that one computes the body's SHA-256
// alongside the CRC32 for a non-TLS request unless a payload hash is already in the context,
// which is why swapping ComputePayloadSHA256 for UnsignedPayload is not enough. With the
// hash set here, the checksum middleware computes only the CRC32 and sends it as
// x-amz-checksum-crc32, which the server verifies. Over https nothing changes: the SDK
// already streams the body unsigned with a trailing checksum.
type unsignedPayloadOverHTTP struct{}

// ID names the middleware in the stack.
func (unsignedPayloadOverHTTP) ID() string { return "HydrantUnsignedPayloadOverHTTP" }

// HandleFinalize sets the payload hash of a non-TLS request.
func (unsignedPayloadOverHTTP) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() && v4.GetPayloadHash(ctx) == "" {
		ctx = v4.SetPayloadHash(ctx, unsignedPayload)
	}
	return next.HandleFinalize(ctx, in)
}

// addUnsignedPayloadOverHTTP inserts unsignedPayloadOverHTTP right after endpoint resolution
// (the URL's scheme is known from there on), ahead of the checksum and payload-hash middlewares
// that the operation inserted at the same place earlier.
func addUnsignedPayloadOverHTTP(stack *middleware.Stack) error {
	const after = "ResolveEndpointV2"
	if _, ok := stack.Finalize.Get(after); !ok {
		return stack.Finalize.Add(unsignedPayloadOverHTTP{}, middleware.Before)
	}
	return stack.Finalize.Insert(unsignedPayloadOverHTTP{}, after, middleware.After)
}
