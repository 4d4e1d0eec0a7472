package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// TestObjectRouterExists checks that Exists asks the store PutObject wrote to: the default S3
// store, or a bucket's own directory.
func TestObjectRouterExists(t *testing.T) {
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "in-s3")
	cfg := Config{DataDir: t.TempDir(), ObjectStore: StoreS3, Buckets: map[string]BucketConfig{"in-dir": {Dir: filepath.Join(t.TempDir(), "in-dir")}}}
	cfg.S3.Endpoint, cfg.S3.Region = m.Endpoint(), "us-east-1"
	cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey = m.AccessKey(), m.SecretKey()
	ctx := context.Background()
	r, err := newObjectRouter(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"in-s3", "in-dir"} {
		if err := r.PutObject(ctx, destination.Object{Bucket: b, Key: "a/k", Body: []byte(b)}); err != nil {
			t.Fatalf("PutObject(%s): %v", b, err)
		}
	}
	got := map[string]bool{}
	for _, bk := range [][2]string{{"in-s3", "a/k"}, {"in-s3", "a/other"}, {"in-dir", "a/k"}, {"in-dir", "a/other"}} {
		ok, err := r.Exists(ctx, bk[0], bk[1])
		if err != nil {
			t.Fatalf("Exists(%s, %s): %v", bk[0], bk[1], err)
		}
		got[bk[0]+"/"+bk[1]] = ok
	}
	want := map[string]bool{"in-s3/a/k": true, "in-s3/a/other": false, "in-dir/a/k": true, "in-dir/a/other": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Exists (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.Buckets["in-dir"].Dir, "a", "k")); err != nil || string(b) != "in-dir" {
		t.Errorf("in-dir/a/k on disk = %q, %v", b, err)
	}
	if b, err := m.ReadObject(ctx, "in-s3", "a/k"); err != nil || string(b) != "in-s3" {
		t.Errorf("in-s3/a/k in MinIO = %q, %v", b, err)
	}
}
