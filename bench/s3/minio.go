package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// minio is a MinIO server the benchmark started on a fresh directory, with the reads that
// check Hydrant's objects.
type minio struct{ *harness.MinIO }

func startMinIO(ctx context.Context, bin, dir string) (*minio, error) {
	m, err := harness.StartMinIO(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	return &minio{m}, nil
}

// gzipSize returns the uncompressed size a one-member gzip object declares in its trailer
// (ISIZE, the size mod 2^32), read with a ranged GET of its last 4 bytes.
func (m *minio) gzipSize(ctx context.Context, bucket, key string) (int64, error) {
	out, err := m.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=-4")})
	if err != nil {
		return 0, fmt.Errorf("get trailer of %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var b [4]byte
	if _, err := io.ReadFull(out.Body, b[:]); err != nil {
		return 0, fmt.Errorf("get trailer of %s/%s: %w", bucket, key, err)
	}
	return int64(binary.LittleEndian.Uint32(b[:])), nil
}

// checked is what verifying one object found.
type checked struct {
	records int
	bytes   int64 // record bytes (decompressed)
}

// errBadRecord reports object content that is not a sequence of whole records.
var errBadRecord = errors.New("object is not a sequence of whole records")

// verify reads bucket/key, decompressing a GZIP object, and checks that it is a sequence of
// whole records of recordBytes bytes each, every one a line.
func (m *minio) verify(ctx context.Context, bucket, key string, gz bool, recordBytes int) (checked, error) {
	var c checked
	out, err := m.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return c, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var r io.Reader = out.Body
	if gz {
		zr, err := gzip.NewReader(out.Body)
		if err != nil {
			return c, fmt.Errorf("gunzip %s/%s: %w", bucket, key, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if len(line) != recordBytes || line[len(line)-1] != '\n' {
				return c, fmt.Errorf("%s/%s: record %d has %d bytes: %w", bucket, key, c.records, len(line), errBadRecord)
			}
			c.records++
			c.bytes += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return c, fmt.Errorf("%s/%s: line longer than 1 MiB: %w", bucket, key, errBadRecord)
		}
		if err != nil {
			return c, fmt.Errorf("read %s/%s: %w", bucket, key, err)
		}
	}
}
