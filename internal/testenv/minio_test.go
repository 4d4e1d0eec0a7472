package testenv

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMinIOStartStopRestart(t *testing.T) {
	start := time.Now()
	m := StartMinIO(t)
	t.Logf("minio live after %v at %s", time.Since(start), m.Endpoint())
	m.CreateBucket(t, "bucket")
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if _, err := m.Client(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader([]byte(body)), ContentType: aws.String("text/plain")}); err != nil {
			t.Fatal(err)
		}
	}
	put("a/1", "one")
	m.Stop()
	if _, err := m.ReadObject(ctx, "bucket", "a/1"); err == nil {
		t.Fatal("read from a stopped server succeeded")
	}
	start = time.Now()
	m.Restart(t)
	t.Logf("restarted in %v", time.Since(start))
	put("a/2", "two")
	got := m.Objects(t, "bucket")
	if string(got["a/1"]) != "one" || string(got["a/2"]) != "two" || len(got) != 2 {
		t.Errorf("objects after restart = %q", got)
	}
	if meta := m.Head(t, "bucket", "a/2"); meta.ContentType != "text/plain" || meta.ContentLength != 3 {
		t.Errorf("Head = %+v", meta)
	}
	up, err := m.Client(t).CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("a/3")})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.IncompleteUploads(t, "bucket", "a/3"); len(got) != 1 || got[0] != aws.ToString(up.UploadId) {
		t.Errorf("IncompleteUploads = %v, want [%s]", got, aws.ToString(up.UploadId))
	}
	if got := m.IncompleteUploads(t, "bucket", "a/2"); len(got) != 0 {
		t.Errorf("IncompleteUploads of a key without uploads = %v", got)
	}
}

func TestMinIOBinaryFromEnv(t *testing.T) {
	t.Setenv("HYDRANT_MINIO", "/nonexistent/minio")
	if got := MinIOBinary(); got != "/nonexistent/minio" {
		t.Errorf("MinIOBinary() = %q, want $HYDRANT_MINIO", got)
	}
}
