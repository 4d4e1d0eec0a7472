package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// deliveredBytes sums the sizes of the objects hydrant wrote for bucket (temporary files
// live in dot-directories and are skipped).
func deliveredBytes(dataDir, bucket string) (n int64, objects int, err error) {
	root := filepath.Join(dataDir, "s3", bucket)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
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
