// Package testenv starts the external servers that tests run against, on 127.0.0.1 and a
// free port, and stops them when the test ends. It is imported only by tests.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	minioUser     = "hydrant"
	minioPassword = "hydrant-secret-key"
	// startTimeout bounds how long MinIO may take to answer its liveness probe.
	startTimeout = 60 * time.Second
)

// MinIO is a MinIO server of one test, on 127.0.0.1.
type MinIO struct {
	bin, dir, logPath string
	addr, consoleAddr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{} // closed when cmd has exited
}

// MinIOBinary returns the path of the minio binary: $HYDRANT_MINIO, else
// $(go env GOPATH)/bin/minio, else minio on PATH; "" when none exists.
func MinIOBinary() string {
	if p := os.Getenv("HYDRANT_MINIO"); p != "" {
		return p
	}
	if gopath := goPath(); gopath != "" {
		p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// RequireTools reports whether a missing external tool fails the test instead of skipping it
// (CI=true or HYDRANT_REQUIRE_TOOLS=1, as scripts/test.sh sets).
func RequireTools() bool {
	return os.Getenv("CI") == "true" || os.Getenv("HYDRANT_REQUIRE_TOOLS") == "1"
}

// requireMinIO returns the minio binary, or skips the test without one (fails it under
// RequireTools).
func requireMinIO(t testing.TB) string {
	t.Helper()
	bin := MinIOBinary()
	if bin == "" {
		const reason = "minio binary not found (set HYDRANT_MINIO, or run scripts/install-minio.sh or make test)"
		if RequireTools() {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	return bin
}

// Env is the environment that points a hydrant process at this MinIO as its S3.
func (m *MinIO) Env() []string {
	return []string{"AWS_ENDPOINT_URL_S3=" + m.Endpoint(), "AWS_ACCESS_KEY_ID=" + m.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + m.SecretKey()}
}

// StartMinIO starts a MinIO server with its data in a temporary directory and stops it when
// the test ends. Without a minio binary it skips the test, or fails it under RequireTools.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := requireMinIO(t)
	dir := t.TempDir()
	m := &MinIO{
		bin:         bin,
		dir:         filepath.Join(dir, "data"),
		logPath:     filepath.Join(dir, "minio.log"),
		addr:        freeAddr(t),
		consoleAddr: freeAddr(t),
	}
	if err := m.start(); err != nil {
		t.Fatalf("start minio: %v\n%s", err, m.logTail())
	}
	t.Cleanup(m.Stop)
	return m
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the server and waits until it is live.
func (m *MinIO) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return errors.New("already running")
	}
	out, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", m.consoleAddr, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	fail := func(err error) error {
		cmd.Process.Kill()
		<-exited
		out.Close()
		return err
	}

	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fail(fmt.Errorf("minio exited: %v", waitErr))
		default:
		}
		if m.ready(hc) {
			m.cmd, m.out, m.exited = cmd, out, exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fail(fmt.Errorf("minio not live after %v", startTimeout))
}

// ready reports whether the server is live and serves S3 requests: /minio/health/live answers
// 200 before the object layer is initialised (XMinioServerNotInitialized), so a ListBuckets
// must succeed too.
func (m *MinIO) ready(hc *http.Client) bool {
	resp, err := hc.Get(m.Endpoint() + "/minio/health/live")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = m.client().ListBuckets(ctx, &s3.ListBucketsInput{})
	return err == nil
}

func (m *MinIO) logTail() string {
	b, _ := os.ReadFile(m.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Endpoint returns the server's URL, http://127.0.0.1:port.
func (m *MinIO) Endpoint() string { return "http://" + m.addr }

// AccessKey returns the root user's access key.
func (m *MinIO) AccessKey() string { return minioUser }

// SecretKey returns the root user's secret key.
func (m *MinIO) SecretKey() string { return minioPassword }

// Stop kills the server (as a crash would) and waits until it has exited, so that its port
// refuses connections. Stopping a stopped server does nothing.
func (m *MinIO) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.out.Close()
	m.cmd, m.out, m.exited = nil, nil, nil
}

// Restart starts a stopped server again with the same data directory and port.
func (m *MinIO) Restart(t testing.TB) {
	t.Helper()
	m.Stop()
	if err := m.start(); err != nil {
		t.Fatalf("restart minio: %v\n%s", err, m.logTail())
	}
}

// Client returns an S3 client of the root user, path-style, without retries.
func (m *MinIO) Client(t testing.TB) *s3.Client {
	t.Helper()
	return m.client()
}

func (m *MinIO) client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:     aws.String(m.Endpoint()),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""),
		RetryMaxAttempts: 1,
	})
}

// CreateBucket creates a bucket.
func (m *MinIO) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := m.Client(t).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// ReadObject returns the bytes of bucket/key.
func (m *MinIO) ReadObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := m.client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Objects returns every object of a bucket, key → bytes.
func (m *MinIO) Objects(t testing.TB, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	objs := map[string][]byte{}
	for _, key := range m.Keys(t, bucket) {
		b, err := m.ReadObject(ctx, bucket, key)
		if err != nil {
			t.Fatalf("read %s/%s: %v", bucket, key, err)
		}
		objs[key] = b
	}
	return objs
}

// Keys returns the keys of every object of a bucket, in S3's (lexical) order.
func (m *MinIO) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(m.Client(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// ObjectMeta is the HTTP metadata of a stored object.
type ObjectMeta struct {
	ContentType, ContentEncoding string
	ContentLength                int64
	ServerSideEncryption         string
}

// Head returns the metadata of bucket/key.
func (m *MinIO) Head(t testing.TB, bucket, key string) ObjectMeta {
	t.Helper()
	out, err := m.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head %s/%s: %v", bucket, key, err)
	}
	return ObjectMeta{
		ContentType:          aws.ToString(out.ContentType),
		ContentEncoding:      aws.ToString(out.ContentEncoding),
		ContentLength:        aws.ToInt64(out.ContentLength),
		ServerSideEncryption: string(out.ServerSideEncryption),
	}
}

// IncompleteUploads returns the IDs of the multipart uploads of bucket/key in progress. MinIO
// lists the uploads of one key at a time (a prefix that is not a whole key lists nothing), so
// the key is required.
func (m *MinIO) IncompleteUploads(t testing.TB, bucket, key string) []string {
	t.Helper()
	out, err := m.Client(t).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatalf("list multipart uploads of %s/%s: %v", bucket, key, err)
	}
	var ids []string
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			ids = append(ids, aws.ToString(u.UploadId))
		}
	}
	return ids
}
