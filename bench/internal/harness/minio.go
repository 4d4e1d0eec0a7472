package harness

import (
	"context"
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
)

// The root user of the MinIO servers the benchmarks start.
const (
	MinIOUser     = "hydrant-bench"
	MinIOPassword = "hydrant-bench-secret"
)

// MinIOBinary returns $HYDRANT_MINIO, else $(go env GOPATH)/bin/minio, else minio on PATH,
// as the tests find it (internal/testenv).
func MinIOBinary() string {
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

// MinIOVersion returns the first line of `minio --version`, without its "minio version "
// prefix, or "unknown".
func MinIOVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimPrefix(v, "minio version ")
}

// MinIO is a MinIO server a benchmark started on a fresh directory; Close stops it and
// removes its data.
type MinIO struct {
	*Proc
	Dir    string
	Client *awss3.Client
}

// StartMinIO starts bin on dir/data and waits until it serves S3 requests: /minio/health/live
// answers before the object layer is up, so a ListBuckets must succeed too.
func StartMinIO(ctx context.Context, bin, dir string) (*MinIO, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := StartProc(ProcSpec{
		Name: "minio", LogPath: filepath.Join(dir, "minio.log"), Ready: "/minio/health/live", Within: time.Minute,
		Env: []string{
			"MINIO_ROOT_USER=" + MinIOUser, "MINIO_ROOT_PASSWORD=" + MinIOPassword,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
		},
		Argv: []string{bin, "server", filepath.Join(dir, "data"), "--address", "{addr}", "--console-address", "{addr2}", "--quiet"},
	})
	if err != nil {
		return nil, err
	}
	m := &MinIO{Proc: p, Dir: dir, Client: NewS3Client(p.URL)}
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := m.Client.ListBuckets(cctx, &awss3.ListBucketsInput{})
		cancel()
		if err == nil {
			return m, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.Close()
			return nil, fmt.Errorf("minio not serving S3 within a minute: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops the server and removes its data.
func (m *MinIO) Close() {
	m.Stop()
	os.RemoveAll(filepath.Join(m.Dir, "data"))
}

// Env is the environment that points `hydrant serve` at m.
func (m *MinIO) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + m.URL, "AWS_ACCESS_KEY_ID=" + MinIOUser, "AWS_SECRET_ACCESS_KEY=" + MinIOPassword,
		"AWS_REGION=us-east-1",
	}
}

// CreateBucket creates bucket name.
func (m *MinIO) CreateBucket(ctx context.Context, name string) error {
	if _, err := m.Client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// Object is a listed object.
type Object struct {
	Key  string
	Size int64
}

// List returns every object of bucket.
func (m *MinIO) List(ctx context.Context, bucket string) ([]Object, error) {
	var objs []Object
	p := awss3.NewListObjectsV2Paginator(m.Client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			objs = append(objs, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return objs, nil
}

// Get returns the whole content of bucket/key.
func (m *MinIO) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := m.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// NewS3Client returns a path-style client of the MinIO root user that, like Hydrant over plain
// http, sends bodies as UNSIGNED-PAYLOAD protected by a CRC32 checksum, without retries.
func NewS3Client(url string) *awss3.Client {
	return awss3.New(awss3.Options{
		BaseEndpoint:     aws.String(url),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(MinIOUser, MinIOPassword, ""),
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
