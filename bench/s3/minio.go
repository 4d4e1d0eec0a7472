package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/klauspost/compress/gzip"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

const (
	minioUser     = "hydrant-bench"
	minioPassword = "hydrant-bench-secret"
)

// minioBinary returns $HYDRANT_MINIO, else $(go env GOPATH)/bin/minio, else minio on PATH,
// as the tests find it (internal/testenv).
func minioBinary() string {
	if p := os.Getenv("HYDRANT_MINIO"); p != "" {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(filepath.SplitList(strings.TrimSpace(string(out)))[0], "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return "minio"
}

// minio is a MinIO server the benchmark started on a fresh directory.
type minio struct {
	*harness.Proc
	dir    string
	client *awss3.Client
}

// startMinIO starts bin on dir/data and waits until it serves S3 requests: /minio/health/live
// answers before the object layer is up, so a ListBuckets must succeed too.
func startMinIO(ctx context.Context, bin, dir string) (*minio, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := harness.StartProc(harness.ProcSpec{
		Name: "minio", LogPath: filepath.Join(dir, "minio.log"), Ready: "/minio/health/live", Within: time.Minute,
		Env: []string{
			"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioPassword,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
		},
		Argv: []string{bin, "server", filepath.Join(dir, "data"), "--address", "{addr}", "--console-address", "{addr2}", "--quiet"},
	})
	if err != nil {
		return nil, err
	}
	m := &minio{Proc: p, dir: dir, client: newS3Client(p.URL)}
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := m.client.ListBuckets(cctx, &awss3.ListBucketsInput{})
		cancel()
		if err == nil {
			return m, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.stop()
			return nil, fmt.Errorf("minio not serving S3 within a minute: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the server and removes its data.
func (m *minio) stop() {
	m.Stop()
	os.RemoveAll(filepath.Join(m.dir, "data"))
}

// env is the environment that points hydrant serve at m.
func (m *minio) env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + m.URL, "AWS_ACCESS_KEY_ID=" + minioUser, "AWS_SECRET_ACCESS_KEY=" + minioPassword,
		"AWS_REGION=us-east-1",
	}
}

// newS3Client returns a path-style client of the MinIO root user that, like Hydrant over plain
// http, sends bodies as UNSIGNED-PAYLOAD protected by a CRC32 checksum, without retries.
func newS3Client(url string) *awss3.Client {
	return awss3.New(awss3.Options{
		BaseEndpoint:     aws.String(url),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{addUnsignedPayload},
	})
}

// unsignedPayload sets the payload hash to UNSIGNED-PAYLOAD before the checksum middleware
// runs, so that over http the SDK computes only the CRC32 and not the body's SHA-256 too.
// internal/destination/s3 does the same; that package keeps its middleware unexported.
type unsignedPayload struct{}

func (unsignedPayload) ID() string { return "BenchUnsignedPayload" }

func (unsignedPayload) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() && v4.GetPayloadHash(ctx) == "" {
		ctx = v4.SetPayloadHash(ctx, "UNSIGNED-PAYLOAD")
	}
	return next.HandleFinalize(ctx, in)
}

func addUnsignedPayload(stack *middleware.Stack) error {
	const after = "ResolveEndpointV2"
	if _, ok := stack.Finalize.Get(after); !ok {
		return stack.Finalize.Add(unsignedPayload{}, middleware.Before)
	}
	return stack.Finalize.Insert(unsignedPayload{}, after, middleware.After)
}

func (m *minio) createBucket(ctx context.Context, name string) error {
	if _, err := m.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// object is a listed object.
type object struct {
	key  string
	size int64
}

// list returns every object of bucket.
func (m *minio) list(ctx context.Context, bucket string) ([]object, error) {
	var objs []object
	p := awss3.NewListObjectsV2Paginator(m.client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			objs = append(objs, object{key: aws.ToString(o.Key), size: aws.ToInt64(o.Size)})
		}
	}
	return objs, nil
}

// gzipSize returns the uncompressed size a one-member gzip object declares in its trailer
// (ISIZE, the size mod 2^32), read with a ranged GET of its last 4 bytes.
func (m *minio) gzipSize(ctx context.Context, bucket, key string) (int64, error) {
	out, err := m.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=-4")})
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
	out, err := m.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
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
