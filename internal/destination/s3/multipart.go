package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
	// abortTimeout bounds AbortMultipartUpload, which runs even when the caller's context
	// is already cancelled.
	abortTimeout = 30 * time.Second
	// maxPendingAborts bounds the uploads remembered for a later abort.
	maxPendingAborts = 1000
)

// putMultipart uploads body in parts and returns how many. On any failure it aborts the
// upload so that no incomplete upload (and no stored part) is left behind.
func (s *Store) putMultipart(ctx context.Context, c *awss3.Client, bucket, key string, body []byte, h headers) (int, error) {
	partSize := max(s.partSize, (int64(len(body))+maxParts-1)/maxParts)
	n := int((int64(len(body)) + partSize - 1) / partSize)

	in := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		ContentType:       aws.String(h.contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if h.contentEncoding != "" {
		in.ContentEncoding = aws.String(h.contentEncoding)
	}
	if h.kmsKeyARN != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(h.kmsKeyARN)
	}
	created, err := c.CreateMultipartUpload(ctx, in)
	if err != nil {
		return n, err
	}
	uploadID := created.UploadId

	parts, err := s.uploadParts(ctx, c, bucket, key, uploadID, body, partSize, n)
	if err == nil {
		_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket:          aws.String(bucket),
			Key:             aws.String(key),
			UploadId:        uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if err == nil {
			return n, nil
		}
	}
	s.abort(ctx, upload{client: c, bucket: bucket, key: key, id: uploadID})
	return n, err
}

// uploadParts uploads the n parts of body with up to s.concurrency in flight and returns
// them in order, or the first error (after every started part has returned).
func (s *Store) uploadParts(ctx context.Context, c *awss3.Client, bucket, key string, uploadID *string, body []byte, partSize int64, n int) ([]types.CompletedPart, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make([]types.CompletedPart, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(s.concurrency, n) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				lo := int64(i) * partSize
				hi := min(lo+partSize, int64(len(body)))
				out, err := c.UploadPart(ctx, &awss3.UploadPartInput{
					Bucket:            aws.String(bucket),
					Key:               aws.String(key),
					UploadId:          uploadID,
					PartNumber:        aws.Int32(int32(i + 1)),
					Body:              bytes.NewReader(body[lo:hi]),
					ContentLength:     aws.Int64(hi - lo),
					ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
				}, s.payloadOptions...)
				if err != nil {
					once.Do(func() {
						firstErr = fmt.Errorf("upload part %d of %d: %w", i+1, n, err)
						cancel()
					})
					return
				}
				parts[i] = types.CompletedPart{
					PartNumber:    aws.Int32(int32(i + 1)),
					ETag:          out.ETag,
					ChecksumCRC32: out.ChecksumCRC32,
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil { // cancelled between parts
		return nil, err
	}
	return parts, nil
}

// upload is a multipart upload to abort.
type upload struct {
	client      *awss3.Client
	bucket, key string
	id          *string
}

// abort aborts an upload under a context that outlives the caller's cancellation. A failure
// (the store is down, say) is logged, not returned — the original error matters more to the
// caller — and the upload is remembered and aborted again after the next object stored
// through the same client.
func (s *Store) abort(ctx context.Context, u upload) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := u.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(u.bucket),
		Key:      aws.String(u.key),
		UploadId: u.id,
	})
	var nsu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nsu) {
		s.log.Warn("s3 multipart abort failed", "bucket", u.bucket, "key", u.key, "upload_id", aws.ToString(u.id), "err", err)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.pendingAborts) >= maxPendingAborts {
			old := s.pendingAborts[0]
			s.log.Warn("s3 multipart upload left incomplete", "bucket", old.bucket, "key", old.key, "upload_id", aws.ToString(old.id))
			s.pendingAborts = s.pendingAborts[1:]
		}
		s.pendingAborts = append(s.pendingAborts, u)
		return
	}
	s.log.Debug("s3 multipart aborted", "bucket", u.bucket, "key", u.key, "upload_id", aws.ToString(u.id))
}

// retryAborts aborts again the remembered uploads of client c, now that c has just stored an
// object.
func (s *Store) retryAborts(ctx context.Context, c *awss3.Client) {
	s.mu.Lock()
	var mine []upload
	rest := s.pendingAborts[:0]
	for _, u := range s.pendingAborts {
		if u.client == c {
			mine = append(mine, u)
		} else {
			rest = append(rest, u)
		}
	}
	s.pendingAborts = rest
	s.mu.Unlock()
	for _, u := range mine {
		s.abort(ctx, u)
	}
}
