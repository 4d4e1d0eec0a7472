package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// deliveredBytes sums the sizes of the objects hydrant wrote for bucket.
func deliveredBytes(dataDir, bucket string) (n int64, objects int, err error) {
	err = harness.WalkObjects(dataDir, bucket, func(_, _ string, size int64) error {
		n += size
		objects++
		return nil
	})
	return n, objects, err
}

// createMotoBucket creates an S3 bucket on moto's single endpoint with a SigV4-signed
// path-style PUT (moto routes on the signing scope's service name).
func createMotoBucket(ctx context.Context, url, bucket string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/"+bucket, nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payload, "s3", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bucket %s: status %d: %s", bucket, resp.StatusCode, b)
	}
	return nil
}
